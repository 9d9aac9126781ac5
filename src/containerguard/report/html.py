"""A self-contained HTML report (inline CSS, no scripts or external assets), rendered with Jinja2
with autoescaping on: every value from an image (package names, paths, titles) is escaped."""

from __future__ import annotations

from functools import cache
from importlib import resources

import jinja2

from containerguard.model import FindingKind
from containerguard.report.base import TOOL_NAME, ReportContext, ordered, summarize, where

TEMPLATE = "report.html.j2"


@cache
def _template() -> jinja2.Template:
    text = resources.files("containerguard.report").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(text)


def render(ctx: ReportContext) -> str:
    inventory, findings, target, tool_version = ctx.inventory, ctx.findings, ctx.target, ctx.tool_version
    opts = ctx.options
    items = ordered(findings)
    groups = [
        (title, [f for f in items if f.kind is kind])
        for kind, title in (
            (FindingKind.MALICIOUS, "Malicious packages"),
            (FindingKind.VULNERABILITY, "Vulnerabilities"),
            (FindingKind.SECRET, "Secrets"),
            (FindingKind.MISCONFIG, "Misconfigurations"),
            (FindingKind.COMPLIANCE, "Compliance"),
        )
    ]
    return _template().render(
        tool=TOOL_NAME,
        tool_version=tool_version,
        target=target,
        created=ctx.created,
        inventory=inventory,
        packages=sorted(inventory.packages, key=lambda p: (p.type, p.name, p.version))
        if inventory is not None and opts.list_packages is not False else [],
        groups=[(t, g) for t, g in groups if g],
        suppressed=ordered(opts.suppressed),
        expired=list(opts.expired_ignores),
        summary=summarize(findings, suppressed=len(opts.suppressed)),
        where=where,
    )
