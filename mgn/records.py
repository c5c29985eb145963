"""Recorded numbers and theorem checks of a notebook: what the book shows and what pytest holds.

A notebook makes one :class:`Results`, records its key numbers with :meth:`Results.value` and its
checks with :meth:`Results.check` (or :meth:`Results.add` for a :class:`Check` built by a theorem
check in ``mgn``), and ends with :meth:`Results.finish`, which shows the table, writes the JSON
file the runner asked for (``$MGN_RESULTS_DIR/<notebook>.json``), and raises if a check failed.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR_ENV = "MGN_RESULTS_DIR"


class CheckFailed(AssertionError):
    """Raised by :meth:`Results.finish` when at least one recorded check failed."""


@dataclass(frozen=True)
class Check:
    """One verified claim: ``measured`` compared with ``tolerance`` (a bound or an error budget)."""

    name: str
    claim: str
    measured: float
    tolerance: float
    passed: bool

    @classmethod
    def at_most(cls, name: str, claim: str, measured: float, tolerance: float) -> Check:
        """The usual check: passes when ``measured <= tolerance`` (and ``measured`` is not NaN)."""
        measured, tolerance = float(measured), float(tolerance)
        return cls(name, claim, measured, tolerance, bool(measured <= tolerance))

    @classmethod
    def at_least(cls, name: str, claim: str, measured: float, tolerance: float) -> Check:
        """Passes when ``measured >= tolerance`` (and ``measured`` is not NaN)."""
        measured, tolerance = float(measured), float(tolerance)
        return cls(name, claim, measured, tolerance, bool(measured >= tolerance))


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(payload, tmp, indent=2, sort_keys=True)
        tmp.write("\n")
    os.replace(tmp.name, path)


def _finite_or_str(value: float) -> float | str:
    """JSON has no NaN or inf: keep those as strings so that a regression test sees them."""
    return value if math.isfinite(value) else str(value)


@dataclass
class Results:
    """The numbers and checks of one notebook run (see the module docstring)."""

    notebook: str
    mode: str
    values: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def value(self, name: str, value: float) -> float:
        """Record a key number (held against the mode's baseline by pytest); returns it."""
        if name in self.values:
            raise ValueError(f"value {name!r} is already recorded")
        self.values[name] = float(value)
        return self.values[name]

    def add(self, check: Check) -> Check:
        """Record a check made elsewhere (for example by a theorem check in ``mgn``)."""
        if any(c.name == check.name for c in self.checks):
            raise ValueError(f"check {check.name!r} is already recorded")
        self.checks.append(check)
        return check

    def check(self, name: str, claim: str, measured: float, tolerance: float) -> Check:
        """Record the check ``measured <= tolerance`` of ``claim``."""
        return self.add(Check.at_most(name, claim, measured, tolerance))

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict:
        return {
            "notebook": self.notebook,
            "mode": self.mode,
            "values": {k: _finite_or_str(v) for k, v in self.values.items()},
            "checks": [{**asdict(c), "measured": _finite_or_str(c.measured)} for c in self.checks],
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{:.4g}</td><td>{:.4g}</td><td>{}</td></tr>".format(
                html.escape(c.name),
                html.escape(c.claim),
                c.measured,
                c.tolerance,
                "passed" if c.passed else "<b>FAILED</b>",
            )
            for c in self.checks
        )
        head = "<tr><th>check</th><th>claim</th><th>measured</th><th>tolerance</th><th></th></tr>"
        return f"<table>{head}{rows}</table>"

    def __str__(self) -> str:
        lines = [f"{self.notebook} ({self.mode}): {len(self.checks)} checks"]
        lines += [
            f"  {'ok  ' if c.passed else 'FAIL'} {c.name}: {c.measured:.4g} vs {c.tolerance:.4g}"
            for c in self.checks
        ]
        return "\n".join(lines)

    def finish(self) -> Results:
        """Write the JSON file (when run by ``python -m mgn execute``) and fail on a failed check."""
        directory = os.environ.get(RESULTS_DIR_ENV)
        if directory:
            write_json_atomic(Path(directory) / f"{self.notebook}.json", self.to_json())
        if self.failed:
            names = ", ".join(c.name for c in self.failed)
            raise CheckFailed(f"{len(self.failed)} check(s) failed: {names}\n{self}")
        return self
