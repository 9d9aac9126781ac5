"""report.base.redact skips the secret scanner for texts holding none of the rules' keywords (issue #2:
warm `sbom` start-up), and masks exactly what the scanner masks: checked line by line over the secrets
corpus, with the keyword cache cold, warm and corrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "data" / "secrets" / "corpus"


def _texts() -> list[str]:
    out: list[str] = []
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file():
            text = p.read_bytes().decode("utf-8", "surrogateescape")
            out.append(text)
            out += [line for line in text.splitlines() if line.strip()]
    out += ["RUN apt-get install -y curl", "ENV PATH=/usr/local/bin:/usr/bin", "",
            "/bin/sh -c echo 'glpat-Vx9Lm2Qb7Tk4Rw8Zp1Nc' > /root/.token && export AWS_ACCESS_KEY_ID=AKIAZ7Q2M4KX5TRWN3VB",
            "ENV STRIPE_KEY=SK_LIVE_Zq3xT9bLw2VkP7mN4cR8sD1f", "K\u212aey ghp_Zq3xT9bLw2VkP7mN4cR8sD1fG6hJ0aY5uE2i"]
    return out


def _run(cache: Path, texts: list[str]) -> dict[str, object]:
    """In a fresh interpreter: base.redact and the scanner's redact over ``texts``."""
    code = textwrap.dedent("""
        import json, sys
        from containerguard.report.base import redact
        texts = json.loads(sys.stdin.read())
        ours = [redact(t) for t in texts]
        loaded = "containerguard.secrets.scanner" in sys.modules
        from containerguard.secrets.scanner import redact as scanner_redact
        print(json.dumps({"ours": ours, "scanner": [scanner_redact(t) for t in texts], "loaded": loaded}))
    """)
    env = {**os.environ, "CONTAINERGUARD_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(texts), capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    res: dict[str, object] = json.loads(proc.stdout)
    return res


def test_prefilter_masks_exactly_what_the_scanner_masks(tmp_path: Path) -> None:
    texts = _texts()
    cold = _run(tmp_path, texts)
    assert cold["ours"] == cold["scanner"]
    masked = sum(o != t for o, t in zip(cold["ours"], texts, strict=True))  # type: ignore[call-overload]
    assert masked >= 20  # the corpus does hold secrets: the comparison is not vacuous
    files = list((tmp_path / "secret-keywords").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["keywords"]
    warm = _run(tmp_path, texts)
    assert warm["ours"] == warm["scanner"] == cold["ours"]
    # a corrupted cache file is recomputed, never trusted
    files[0].write_text('{"keywords": []')
    assert _run(tmp_path, texts)["ours"] == cold["ours"]
    files[0].write_text(json.dumps({"rules_sha256": "0" * 64, "keywords": []}))
    assert _run(tmp_path, texts)["ours"] == cold["ours"]


def test_clean_text_does_not_load_the_scanner_once_keywords_are_cached(tmp_path: Path) -> None:
    clean = ["/bin/sh -c #(nop) ADD file:5d68a4ba in / ", "RUN apt-get update && apt-get install -y curl"]
    _run(tmp_path, clean)
    res = _run(tmp_path, clean)
    assert res["loaded"] is False and res["ours"] == clean
    res = _run(tmp_path, [*clean, "export GITHUB_TOKEN=ghp_Zq3xT9bLw2VkP7mN4cR8sD1fG6hJ0aY5uE2i"])
    assert res["loaded"] is True and res["ours"][-1] == "export GITHUB_TOKEN=ghp_****"  # type: ignore[index]
