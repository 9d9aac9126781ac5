"""The browser harness itself can fail: axe reports a planted violation, and a failing test leaves its
screenshot and HTML behind."""

from __future__ import annotations

from tests.browser import harness


def test_axe_finds_a_planted_violation(ctx):
    page = ctx.new_page()
    page.set_content('<html lang="en"><body><main><img src="data:,"><button></button></main></body></html>')
    ids = {v["id"] for v in harness.axe_violations(page)}
    assert {"image-alt", "button-name"} <= ids


def test_artefacts_are_written(ctx, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "ARTIFACTS", tmp_path)
    page = ctx.new_page()
    page.set_content("<html lang='en'><body><h1>kept</h1></body></html>")
    out = harness.keep_artefacts(ctx.context, "tests/browser/x.py::test_y[1]")
    assert (out / "page0.png").stat().st_size > 100
    assert "kept" in (out / "page0.html").read_text()
