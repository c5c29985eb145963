"""The generated part of the book's reproducibility page: versions, and how each notebook ran.

Each notebook's row comes from the mode's ``executions.json``: when and on what device, with which
Python and PyTorch, it was executed, the prefix of its cache key, whether this build executed it or
took it from the cache (:mod:`mgn.book.cache`), its run time and its checks.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from mgn.book.claims import chapter_link
from mgn.book.layout import Layout

PACKAGES = (
    "torch", "numpy", "scipy", "matplotlib", "scikit-learn",
    "jupyter-book", "papermill", "jupytext", "myst-nb", "sphinx",
)  # fmt: skip


def _commit(layout: Layout) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(layout.root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _checks_summary(layout: Layout, stem: str) -> str:
    path = layout.results / f"{stem}.json"
    if not path.is_file():
        return "not recorded"
    checks = json.loads(path.read_text())["checks"]
    return f"{sum(c['passed'] for c in checks)} / {len(checks)} passed"


def _execution_row(layout: Layout, stem: str, run: dict) -> str:
    """One row of the table of executions: ``run`` is the notebook's entry in executions.json."""
    when = run["executed"].replace("T", " ").removesuffix("+00:00")
    seconds = f"{run['seconds']:.1f}"
    cells = [
        chapter_link(stem, stem), when, run["device"], run["python"], run["torch"],
        f"`{run['key'][:12]}`", "cache hit" if run["cache"] == "hit" else "fresh",
        chapter_link(stem, seconds), chapter_link(stem, _checks_summary(layout, stem)),
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def reproducibility_section(layout: Layout, stems: list[str]) -> str:
    """Markdown tables describing the run that produced this build of the notebooks ``stems``."""
    executions = json.loads(layout.executions.read_text()) if layout.executions.is_file() else {}
    lines = [
        "## This build",
        "",
        "Generated when this book was built.",
        "",
        "| | |",
        "|---|---|",
        f"| mode | `{layout.mode}` |",
        f"| built | {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC |",
        f"| commit | `{_commit(layout)}` |",
        f"| Python | {platform.python_version()} ({platform.platform()}) |",
        f"| processor | {platform.processor() or platform.machine()} |",
        "",
        "### Package versions",
        "",
        "| package | version |",
        "|---|---|",
    ]
    lines += [f"| {name} | {metadata.version(name)} |" for name in PACKAGES]
    lines += [
        "",
        "### How each notebook ran",
        "",
        "A notebook is executed again only when its cache key changes (see *Execution cache* "
        "above); *run* says whether the last `python -m mgn execute` executed it (`fresh`) or "
        "restored the execution of that date from the cache (`cache hit`). Each entry links to "
        "its chapter; {doc}`claims` lists the checks one by one.",
        "",
        "| notebook | executed (UTC) | device | Python | torch | key | run | seconds | checks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        _execution_row(layout, stem, executions[stem]) for stem in stems if stem in executions
    ]
    return "\n".join(lines) + "\n"
