"""Regression baselines: the recorded numbers of each notebook, with the tolerance each is held to.

A baseline file ``tests/baselines/<mode>/<stem>.json`` holds, for every value the notebook records,
``{"value", "rtol", "atol"}``, and the names of its checks. ``python -m mgn baselines`` rewrites the
values from the last execution and keeps any tolerance already chosen by hand.

Paper-mode numbers depend on the seed: with ``spread`` (the results folder of a second run with
another seed), each value's ``atol`` becomes ``SPREAD_FACTOR`` times the difference between the two
runs, so that a change that moves a published number by more than the seed does is seen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from mgn.book.layout import Layout
from mgn.records import write_json_atomic

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-12
SPREAD_FACTOR = 3.0


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def _spread_atol(name: str, value, other: dict) -> float | None:
    """``SPREAD_FACTOR`` times the seed-to-seed difference of ``name`` (None when not measured)."""
    if name not in other or isinstance(value, str) or isinstance(other[name], str):
        return None
    return max(SPREAD_FACTOR * abs(value - other[name]), DEFAULT_ATOL)


def write_baselines(
    layout: Layout, stems: list[str] | None = None, spread: Path | None = None
) -> list[Path]:
    """Rewrite the baselines of ``layout.mode`` from its results; return the files written.

    ``stems`` limits the rewrite to those notebooks (default: every result). ``spread`` is the
    results folder of a run with another seed: each value's ``atol`` is then set from the
    difference between the two runs (see the module docstring).
    """
    if spread is not None and not spread.is_dir():
        raise FileNotFoundError(f"spread must be a results folder of another run, got {spread}")
    results = sorted(layout.results.glob("*.json"))
    if stems:
        results = [path for path in results if path.stem in stems]
    if not results:
        raise FileNotFoundError(
            f"no results in {layout.results}: run `python -m mgn execute --mode {layout.mode}` first"
        )
    written = []
    for result_path in results:
        result = load(result_path)
        failed = [c["name"] for c in result["checks"] if not c["passed"]]
        if failed:
            raise ValueError(f"{result_path.stem}: refusing to baseline failed checks {failed}")
        target = layout.baselines / result_path.name
        old = load(target)["values"] if target.is_file() else {}
        other_path = spread / result_path.name if spread is not None else None
        other = load(other_path)["values"] if other_path and other_path.is_file() else {}
        values = {}
        for name, value in result["values"].items():
            atol = _spread_atol(name, value, other)
            values[name] = {
                "value": value,
                "rtol": DEFAULT_RTOL
                if atol is not None
                else old.get(name, {}).get("rtol", DEFAULT_RTOL),
                "atol": atol if atol is not None else old.get(name, {}).get("atol", DEFAULT_ATOL),
            }
        checks = sorted(c["name"] for c in result["checks"])
        write_json_atomic(
            target, {"notebook": result_path.stem, "values": values, "checks": checks}
        )
        written.append(target)
    return written


def compare(baseline: dict, result: dict) -> list[str]:
    """Every difference between a baseline and a result, in words (empty when they agree)."""
    problems = []
    for name in sorted(set(baseline["values"]) | set(result["values"])):
        if name not in result["values"]:
            problems.append(f"value {name!r} is in the baseline but no longer recorded")
            continue
        if name not in baseline["values"]:
            problems.append(f"value {name!r} has no baseline: run `make baselines` and review it")
            continue
        expected, measured = baseline["values"][name], result["values"][name]
        if isinstance(measured, str) or not math.isclose(
            measured, expected["value"], rel_tol=expected["rtol"], abs_tol=expected["atol"]
        ):
            problems.append(
                f"value {name!r} = {measured!r}, baseline {expected['value']!r} "
                f"(rtol {expected['rtol']}, atol {expected['atol']})"
            )
    recorded = sorted(c["name"] for c in result["checks"])
    if recorded != baseline["checks"]:
        problems.append(f"checks {recorded} differ from the baseline's {baseline['checks']}")
    problems += [f"check {c['name']!r} failed" for c in result["checks"] if not c["passed"]]
    return problems
