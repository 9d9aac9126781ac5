"""A self-contained HTML report (inline CSS and one inline script, no external assets: it works offline),
rendered with Jinja2 with autoescaping on: every value from an image (package names, paths, titles) is
escaped. A Content-Security-Policy allows only that script (by its hash): it sorts the finding tables by
a clicked column and filters them by text and minimum severity. Each advisory links to its primary
reference; CVSS, EPSS, layer and path, fix and the risk factors are shown."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources

import jinja2

from containerguard.model import Finding, FindingKind
from containerguard.report.base import TOOL_NAME, ReportContext, ordered, summarize, where

TEMPLATE = "report.html.j2"

#: sorting and filtering without a network connection (the CSP admits this script by its hash only)
SCRIPT = """
(function () {
  var filter = document.getElementById('filter'), minsev = document.getElementById('minsev');
  function apply() {
    var q = filter.value.toLowerCase(), m = +minsev.value;
    document.querySelectorAll('tr.finding').forEach(function (tr) {
      var show = tr.textContent.toLowerCase().indexOf(q) >= 0 && +tr.dataset.sev >= m;
      tr.classList.toggle('hidden', !show);
    });
  }
  filter.addEventListener('input', apply);
  minsev.addEventListener('change', apply);
  document.querySelectorAll('th[data-sort]').forEach(function (th) {
    th.addEventListener('click', function () {
      var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex, num = th.dataset.sort === 'num';
      var dir = th.dataset.dir === 'desc' ? 'asc' : 'desc';
      table.querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = dir;
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var c = num ? (+x - +y) : x.localeCompare(y);
        return dir === 'asc' ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()


def _link(f: Finding) -> str:
    """The advisory's primary reference: its first http(s) reference."""
    return next((r for r in f.references if r.startswith(("https://", "http://"))), "")


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
        link=_link,
        script=SCRIPT,
        script_hash=SCRIPT_HASH,
    )
