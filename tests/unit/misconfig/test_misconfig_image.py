"""Image config checks and ImageFileAnalyzer on in-memory configs and real files written here."""

from __future__ import annotations

import io
import stat

from containerguard.analyzer.base import AnalyzerInput
from containerguard.misconfig.image import ImageFileAnalyzer, base_layer_count, check_config
from containerguard.model import ImageMeta, Layer


def _inp(path: str, mode: int, data: bytes) -> AnalyzerInput:
    return AnalyzerInput(path=path, size=len(data), mode=mode, stream=io.BytesIO(data))


def test_config_checks() -> None:
    meta = ImageMeta(config={"User": "0:0", "Env": ["PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=abcd1234efgh5678",
                                                    "GITHUB_TOKEN=", "API_KEY_FILE=/run/secrets/k"],
                             "ExposedPorts": {"22/tcp": {}, "8080/tcp": {}}})
    got = {(f.id, f.path) for f in check_config(meta)}
    assert got == {("CG-IMG-001", "config.User"), ("CG-IMG-002", "config.Env[1]"),
                   ("CG-IMG-003", "config.ExposedPorts"), ("CG-IMG-004", "config.Healthcheck")}
    sec = next(f for f in check_config(meta) if f.id == "CG-IMG-002")
    assert "abcd1234efgh5678" not in sec.match + sec.description
    ok = ImageMeta(config={"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}, "ExposedPorts": {"8080/tcp": {}}})
    assert check_config(ok) == []


def test_file_analyzer_modes_and_contents() -> None:
    a = ImageFileAnalyzer()
    reg = stat.S_IFREG
    assert a.required("usr/local/bin/tool", reg | 0o4755)
    assert a.required("usr/bin/newgrp", reg | 0o2755)
    assert not a.required("usr/local/bin/plain", reg | 0o755)
    assert a.required("home/app/.ssh/id_rsa", reg | 0o600)
    assert not a.required("etc/ssl/certs/ca-certificates.crt", reg | 0o644)
    suid = a.analyze(_inp("usr/local/bin/tool", reg | 0o4755, b"\x7fELF")).findings
    assert [(f.id, f.path, f.extra["mode"]) for f in suid] == [("CG-IMG-005", "/usr/local/bin/tool", "4755")]
    key = a.analyze(_inp("app/server.key", reg | 0o600, b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n")).findings
    assert [f.id for f in key] == ["CG-IMG-007"]
    pub = a.analyze(_inp("app/public.pem", reg | 0o644, b"-----BEGIN PUBLIC KEY-----\nMIIB\n")).findings
    assert pub == []
    cert = a.analyze(_inp("app/tls.crt", reg | 0o644, b"-----BEGIN CERTIFICATE-----\nMIID\n")).findings
    assert [f.id for f in cert] == ["CG-IMG-008"]


def test_base_layers_from_history() -> None:
    layers = tuple(Layer(index=i, digest=f"sha256:{i}") for i in range(4))
    hist = ({"created_by": "ADD rootfs.tar /"}, {"created_by": "RUN apt-get install x"},
            {"created_by": '/bin/sh -c #(nop)  CMD ["bash"]', "empty_layer": True},
            {"created_by": "COPY app /app"}, {"created_by": "RUN chmod 4755 /app/x"})
    assert base_layer_count(ImageMeta(history=hist), layers) == 2
    assert base_layer_count(ImageMeta(history=({"created_by": "Imported from -"},)), layers[:1]) == 1
    assert base_layer_count(None, layers) == 1
