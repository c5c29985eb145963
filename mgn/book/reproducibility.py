"""The generated part of the book's reproducibility page: versions, device, run time per notebook."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from mgn.book.claims import chapter_link
from mgn.book.layout import Layout
from mgn.device import describe_device

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


def reproducibility_section(layout: Layout, stems: list[str]) -> str:
    """Markdown tables describing the run that produced this build of the notebooks ``stems``."""
    runtimes = json.loads(layout.runtimes.read_text()) if layout.runtimes.is_file() else {}
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
        f"| device | {describe_device('auto')} |",
        "",
        "### Package versions",
        "",
        "| package | version |",
        "|---|---|",
    ]
    lines += [f"| {name} | {metadata.version(name)} |" for name in PACKAGES]
    lines += [
        "",
        "### Run time of each notebook",
        "",
        "Each entry links to its chapter; {doc}`claims` lists the checks one by one.",
        "",
        "| notebook | seconds | checks |",
        "|---|---|---|",
    ]
    lines += [
        f"| {chapter_link(stem, stem)} | {chapter_link(stem, f'{runtimes[stem]:.1f}')} "
        f"| {chapter_link(stem, _checks_summary(layout, stem))} |"
        for stem in stems
        if stem in runtimes
    ]
    return "\n".join(lines) + "\n"
