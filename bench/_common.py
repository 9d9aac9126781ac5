"""What the bench scripts share: one line per measured figure, printed beside its target with a verdict."""

from __future__ import annotations


def target_line(label: str, value: float, target: float, unit: str, *, at_least: bool = False,
                fmt: str = "7.2f", note: str = "") -> bool:
    """Print ``LABEL  VALUE UNIT  target <= TARGET UNIT  OK|FAIL`` (``>=`` with ``at_least``); True if met."""
    ok = value >= target if at_least else value <= target
    op = ">=" if at_least else "<="
    tfmt = ",.0f" if float(target).is_integer() else ",g"
    print(f"{label:<28} {value:{fmt}} {unit:<10} target {op} {target:{tfmt}} {unit:<10} {'OK' if ok else 'FAIL'}"
          + (f"   {note}" if note else ""))
    return ok
