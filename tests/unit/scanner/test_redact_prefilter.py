"""scanner.redact.redact skips the secret scanner for texts holding none of the rules' keywords (issue #2:
warm `sbom` start-up), and masks exactly what the scanner masks: checked line by line over the secrets
corpus; the shipped keyword file is in step with the rules, and a stale or corrupt one is never trusted."""

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


KEYWORDS = Path(__file__).resolve().parents[3] / "src" / "containerguard" / "secrets" / "keywords.json"


def _run(texts: list[str], keywords_file: str | None = None) -> dict[str, object]:
    """In a fresh interpreter: base.redact and the scanner's redact over ``texts`` (optionally with the
    shipped keyword file's content replaced by ``keywords_file`` for that interpreter only)."""
    code = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        payload = json.loads(sys.stdin.read())
        if payload["keywords_file"] is not None:
            import containerguard.scanner.redact as base
            real = Path.read_text
            def fake(self, *a, **k):
                if self.name == "keywords.json":
                    return payload["keywords_file"]
                return real(self, *a, **k)
            Path.read_text = fake
        from containerguard.scanner.redact import redact
        texts = payload["texts"]
        ours = [redact(t) for t in texts]
        loaded = "containerguard.secrets.scanner" in sys.modules
        from containerguard.secrets.scanner import redact as scanner_redact
        print(json.dumps({"ours": ours, "scanner": [scanner_redact(t) for t in texts], "loaded": loaded}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps({"texts": texts, "keywords_file": keywords_file}),
                          capture_output=True, text=True, env=dict(os.environ), timeout=120, check=True)
    res: dict[str, object] = json.loads(proc.stdout)
    return res


def test_shipped_keyword_file_matches_the_rules() -> None:
    from containerguard.scanner.redact import keywords_document

    assert json.loads(KEYWORDS.read_text()) == keywords_document(), (
        "secrets/keywords.json is stale: regenerate it as keywords_document()'s docstring says")


def test_prefilter_masks_exactly_what_the_scanner_masks(tmp_path: Path) -> None:
    texts = _texts()
    res = _run(texts)
    assert res["ours"] == res["scanner"]
    masked = sum(o != t for o, t in zip(res["ours"], texts, strict=True))  # type: ignore[call-overload]
    assert masked >= 20  # the corpus does hold secrets: the comparison is not vacuous
    # a corrupt or stale keyword file is never trusted: every text goes through the scanner
    assert _run(texts, '{"keywords": []')["ours"] == res["ours"]
    assert _run(texts, json.dumps({"rules_sha256": "0" * 64, "keywords": []}))["ours"] == res["ours"]


def test_clean_text_does_not_load_the_scanner_and_nothing_is_written(tmp_path: Path) -> None:
    clean = ["/bin/sh -c #(nop) ADD file:5d68a4ba in / ", "RUN apt-get update && apt-get install -y curl"]
    res = _run(clean)
    assert res["loaded"] is False and res["ours"] == clean
    res = _run([*clean, "export GITHUB_TOKEN=ghp_Zq3xT9bLw2VkP7mN4cR8sD1fG6hJ0aY5uE2i"])
    assert res["loaded"] is True and res["ours"][-1] == "export GITHUB_TOKEN=ghp_****"  # type: ignore[index]
