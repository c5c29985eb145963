"""Recorded numbers and theorem checks of a notebook: what the book shows and what pytest holds.

A notebook makes one :class:`Results`, records its key numbers with :meth:`Results.value` and its
checks with :meth:`Results.check` (or :meth:`Results.add` for a :class:`Check` built by a theorem
check in ``mgn``), and ends with :meth:`Results.finish`, which shows the table, writes the JSON
file the runner asked for (``$MGN_RESULTS_DIR/<notebook>.json``), and raises if a check failed.

Two more kinds of record feed the book's claims ledger: :meth:`Results.claim`, the verdict of the
run on one claim of the paper (or of the book's own precise version of it), and
:meth:`Results.identity`, an equality that holds by algebra, shown with its rounding-level
deviation but never counted as a check.
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


VERDICTS = ("confirmed", "refined", "contradicted", "not tested")


@dataclass(frozen=True)
class Claim:
    """The run's verdict on one claim: the paper's statement, what was measured, and the verdict."""

    name: str
    paper: str
    measured: str
    verdict: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Identity:
    """An equality that holds by construction, with the deviation seen in floating point."""

    name: str
    statement: str
    deviation: float


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON to ``path`` through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


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
    claims: list[Claim] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)

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

    def claim(self, name: str, paper: str, measured: str, verdict: str) -> Claim:
        """Record the verdict on a claim of the paper; ``measured`` is text formatted from the run."""
        if any(c.name == name for c in self.claims):
            raise ValueError(f"claim {name!r} is already recorded")
        self.claims.append(Claim(name, paper, measured, verdict))
        return self.claims[-1]

    def identity(self, name: str, statement: str, deviation: float) -> Identity:
        """Record an identity that holds by algebra (shown, not counted as a check)."""
        if any(i.name == name for i in self.identities):
            raise ValueError(f"identity {name!r} is already recorded")
        self.identities.append(Identity(name, statement, float(deviation)))
        return self.identities[-1]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict:
        return {
            "notebook": self.notebook,
            "mode": self.mode,
            "values": {k: _finite_or_str(v) for k, v in self.values.items()},
            "checks": [{**asdict(c), "measured": _finite_or_str(c.measured)} for c in self.checks],
            "claims": [asdict(c) for c in self.claims],
            "identities": [
                {**asdict(i), "deviation": _finite_or_str(i.deviation)} for i in self.identities
            ],
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
        table = f"<table>{head}{rows}</table>"
        if self.identities:
            rows = "".join(
                f"<tr><td>{html.escape(i.name)}</td><td>{html.escape(i.statement)}</td>"
                f"<td>{i.deviation:.3g}</td></tr>"
                for i in self.identities
            )
            table += (
                "<p>Identities (hold by construction; shown, not counted as checks):</p>"
                f"<table><tr><th>identity</th><th>statement</th><th>deviation</th></tr>{rows}</table>"
            )
        return table

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


def recorded_values(notebook: str) -> dict[str, float] | None:
    """The values ``notebook`` recorded in this build, or ``None`` when there are none.

    Read from ``$MGN_RESULTS_DIR/<notebook>.json``, where ``python -m mgn execute`` writes each
    notebook's results (chapter 8 compares its gaps with chapter 7's). ``None`` when the caller
    runs outside such a build or ``notebook`` has not been executed in it.
    """
    directory = os.environ.get(RESULTS_DIR_ENV)
    path = Path(directory) / f"{notebook}.json" if directory else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text())["values"]
