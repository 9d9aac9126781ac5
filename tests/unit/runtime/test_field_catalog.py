"""The one field catalog: each producer supplies exactly the rows that name it, and the docs come from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from containerguard.runtime.containers import ContainerInfo
from containerguard.runtime.process import ProcessTable
from containerguard.runtime.rules.fields import (
    AGENT_PRODUCERS,
    FIELD_CATALOG,
    PRODUCERS,
    catalog_markdown,
    fields_of,
    storage_key,
)
from containerguard.runtime.rules.vocabulary import SOURCES, event_types
from containerguard.runtime.sensor import script

ROOT = Path(__file__).resolve().parents[3]


def _stored(producer: str) -> set[str]:
    return {storage_key(n) for n in fields_of([producer])}


def test_every_row_names_a_known_producer_and_source() -> None:
    for name, spec in FIELD_CATALOG.items():
        assert spec.producer in PRODUCERS, name
        assert spec.source in (*SOURCES, "any"), name
        assert spec.arg in ("none", "optional", "required"), name
    assert {p.source for p in PRODUCERS.values()} <= {*SOURCES, "any"}


def test_process_table_rows_are_what_the_table_fills_in() -> None:
    table = ProcessTable()
    produced = set(table.fields(table.get(os.getpid())))
    assert produced == _stored("process_table")


def test_container_rows_are_what_the_container_table_fills_in() -> None:
    produced = set(ContainerInfo(id="a" * 64, name="web", image="shop/web:1").fields())
    assert produced == _stored("containers")


def test_agent_availability_and_unknown_producer() -> None:
    avail = fields_of(AGENT_PRODUCERS)
    assert "proc.exepath" in avail and "evt.time" in avail and "container.image" in avail
    assert "ka.verb" not in avail and "k8s.pod.name" in avail  # k8s_audit off; kubelet's labels give k8s.pod.*
    assert "ka.verb" in fields_of([*AGENT_PRODUCERS, "k8s_audit"])
    with pytest.raises(ValueError, match="unknown field producer"):
        fields_of(["sensor", "telepathy"])


def test_sensor_traces_only_known_event_types() -> None:
    assert event_types() >= script.ALL_EVENT_TYPES


def test_docs_fields_md_is_generated_from_the_catalog() -> None:
    doc = (ROOT / "docs" / "fields.md").read_text(encoding="utf-8")
    assert doc == catalog_markdown() + "\n", "regenerate: containerguard rules fields --format markdown > docs/fields.md"
    for name in FIELD_CATALOG:
        assert f"| `{name}` |" in doc



def test_every_traced_event_type_has_a_decoder() -> None:
    from containerguard.runtime.sensor.fields import DECODERS

    assert set(DECODERS) >= set(script.ALL_EVENT_TYPES)
