"""Regression baselines: the recorded numbers of each notebook, with the tolerance each is held to.

A baseline file ``tests/baselines/<mode>/<stem>.json`` holds, for every value the notebook records,
``{"value", "rtol", "atol"}``, and the names of its checks. ``python -m mgn baselines`` rewrites the
values from the last execution and keeps any tolerance already chosen by hand.

Numbers depend on the seed. With ``replicates`` (the results folders of runs with the seeds
shifted by 1, 2, ...: ``python -m mgn execute --replicate k``), each value's ``atol`` becomes
``SPREAD_FACTOR`` times its range over all the seeds (at least 3), recorded with how it was
derived, so that a change that moves a number by more than the seeds do is seen. A value whose
tolerance would reach its own magnitude (the seeds do not tell it from zero, or it is the same
round-off-sized number in every seed) is not held: it stays in the results, and the baseline
records it with ``"held": false`` and the reason. A value that is exactly 0 in every seed (a count
of dominated settings, a rate) is held at 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from mgn.book.layout import Layout
from mgn.records import write_json_atomic

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-12
SPREAD_FACTOR = 2.0
MIN_SEEDS = 3


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def _from_seeds(value, others: list) -> dict:
    """The baseline entry of a value measured with the seeds of every run (``others`` besides it)."""
    runs = [value, *others]
    if any(isinstance(v, str) for v in runs):  # NaN or inf in some run: nothing to hold
        reason = "not held, not a finite number in every seed"
        return {"value": value, "rtol": 0.0, "atol": 0.0, "held": False, "derivation": reason}
    spread = max(runs) - min(runs)
    atol = max(SPREAD_FACTOR * spread, DEFAULT_ATOL)
    entry = {
        "value": value,
        "rtol": DEFAULT_RTOL,
        "atol": atol,
        "derivation": f"{SPREAD_FACTOR:g} x the range {spread:.3g} over {len(runs)} seeds",
    }
    if spread == 0 and value == 0:  # exactly zero in every seed (a count, a rate): held there
        entry["derivation"] += ": exactly 0 in every seed"
    elif spread == 0 and atol >= abs(value):
        entry["held"] = False
        entry["derivation"] += ": not held, the same round-off-sized number in every seed"
    elif atol >= abs(value):
        entry["held"] = False
        entry["derivation"] += ": not held, the seeds do not tell it from zero"
    return entry


def write_baselines(
    layout: Layout, stems: list[str] | None = None, replicates: list[Path] | None = None
) -> list[Path]:
    """Rewrite the baselines of ``layout.mode`` from its results; return the files written.

    ``stems`` limits the rewrite to those notebooks (default: every result). ``replicates`` are
    the results folders of runs with shifted seeds: every value's tolerance is then derived from
    the seeds' spread (module docstring). Without them the tolerances already chosen are kept.
    """
    replicates = replicates or []
    if replicates and len(replicates) + 1 < MIN_SEEDS:
        raise ValueError(
            f"replicates must give at least {MIN_SEEDS} seeds with the main run, got "
            f"{len(replicates) + 1}"
        )
    for folder in replicates:
        if not folder.is_dir():
            raise FileNotFoundError(f"replicates must be results folders, got {folder}")
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
        seeds = [load(folder / result_path.name)["values"] for folder in replicates]
        values = {}
        for name, value in result["values"].items():
            if replicates:
                if any(name not in other for other in seeds):
                    raise ValueError(f"{result_path.stem}: {name!r} is missing from a replicate")
                values[name] = _from_seeds(value, [other[name] for other in seeds])
            else:
                kept = {k: v for k, v in old.get(name, {}).items() if k != "value"}
                values[name] = {"rtol": DEFAULT_RTOL, "atol": DEFAULT_ATOL, **kept, "value": value}
        checks = sorted(c["name"] for c in result["checks"])
        write_json_atomic(
            target, {"notebook": result_path.stem, "values": values, "checks": checks}
        )
        written.append(target)
    return written


def _agrees(measured, expected: dict) -> bool:
    """A number within the baseline's tolerances; a non-finite one (kept as a string) only
    when the baseline holds the same infinity (a NaN never agrees: it marks a failed value)."""
    if isinstance(measured, str) or isinstance(expected["value"], str):
        return measured == expected["value"] and measured in ("inf", "-inf")
    return math.isclose(
        measured, expected["value"], rel_tol=expected["rtol"], abs_tol=expected["atol"]
    )


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
        if not expected.get("held", True):
            continue
        if not _agrees(measured, expected):
            problems.append(
                f"value {name!r} = {measured!r}, baseline {expected['value']!r} "
                f"(rtol {expected['rtol']}, atol {expected['atol']})"
            )
    recorded = sorted(c["name"] for c in result["checks"])
    if recorded != baseline["checks"]:
        problems.append(f"checks {recorded} differ from the baseline's {baseline['checks']}")
    problems += [f"check {c['name']!r} failed" for c in result["checks"] if not c["passed"]]
    return problems
