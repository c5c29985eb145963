"""Steps 1-3 of a build: jupytext source -> notebook -> papermill run with the mode's parameters.

Each notebook runs in ``notebooks/`` with ``MGN_RESULTS_DIR`` pointing at the mode's results folder,
so its closing ``Results.finish()`` writes ``<stem>.json`` there. Failures are collected, not raised
one by one: every notebook runs, then all failures are reported together.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import papermill
import yaml

from mgn.book.layout import Layout
from mgn.records import RESULTS_DIR_ENV, write_json_atomic


class ParameterError(ValueError):
    """A mode passes a parameter that the notebook's ``parameters`` cell does not declare."""


@dataclass(frozen=True)
class Failure:
    """Why one notebook did not execute: where (cell) and what (error)."""

    notebook: str
    where: str
    error: str

    def __str__(self) -> str:
        return f"{self.notebook}: {self.where}: {self.error}"


def mode_parameters(layout: Layout, stem: str) -> dict:
    """The parameters the runner passes to notebook ``stem`` in ``layout.mode``."""
    table = yaml.safe_load(layout.modes_file.read_text()) or {}
    unknown = set(table) - {"paper", "smoke"}
    if unknown:
        raise ParameterError(f"{layout.modes_file}: unknown mode(s) {sorted(unknown)}")
    overrides = (table.get(layout.mode) or {}).get(stem) or {}
    return {"mode": layout.mode, **overrides}


def declared_parameters(notebook_path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    return set(papermill.inspect_notebook(str(notebook_path)))


def convert(source: Path, target: Path) -> Path:
    """Write the jupytext source ``source`` as an ``.ipynb`` notebook at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3"})
    nbformat.write(notebook, target)
    return target


def check_parameters(notebook_path: Path, parameters: dict) -> None:
    """Raise :class:`ParameterError` for any parameter the notebook does not declare."""
    declared = declared_parameters(notebook_path)
    if not declared:
        raise ParameterError(f"{notebook_path.name}: no cell tagged 'parameters'")
    missing = sorted(set(parameters) - declared)
    if missing:
        raise ParameterError(
            f"{notebook_path.stem}: parameter(s) {missing} are not declared in its 'parameters' "
            f"cell (declared: {sorted(declared)})"
        )


def _kernel_environment() -> None:
    """A non-interactive matplotlib backend would make every figure vanish from the book."""
    os.environ.pop("MPLBACKEND", None)


@dataclass(frozen=True)
class Job:
    """One notebook ready to run: its converted notebook and the parameters of the mode."""

    stem: str
    notebook: Path
    parameters: dict


def prepare(layout: Layout, source: Path) -> Job:
    """Convert ``source`` and check the mode's parameters against its ``parameters`` cell."""
    parameters = mode_parameters(layout, source.stem)
    notebook = convert(source, layout.inputs / f"{source.stem}.ipynb")
    check_parameters(notebook, parameters)
    return Job(source.stem, notebook, parameters)


def execute_one(layout: Layout, job: Job, cell_timeout: int) -> tuple[float, Failure | None]:
    """Execute one notebook; return its run time in seconds and its failure, if any."""
    results_file = layout.results / f"{job.stem}.json"
    running = layout.work / "running" / f"{job.stem}.ipynb"
    running.parent.mkdir(parents=True, exist_ok=True)
    results_file.unlink(missing_ok=True)
    (layout.executed / f"{job.stem}.ipynb").unlink(missing_ok=True)
    os.environ[RESULTS_DIR_ENV] = str(layout.results)
    _kernel_environment()
    started = time.perf_counter()
    failure = None
    try:
        papermill.execute_notebook(
            str(job.notebook),
            str(running),
            parameters=job.parameters,
            kernel_name="python3",
            cwd=str(layout.notebooks),
            progress_bar=not os.environ.get("CI"),
            execution_timeout=cell_timeout,
            start_timeout=120,
        )
    except papermill.PapermillExecutionError as err:
        where = f"cell {err.cell_index} (execution count {err.exec_count})"
        failure = Failure(job.stem, where, f"{err.ename}: {err.evalue}".strip())
    seconds = time.perf_counter() - started
    if failure is None and not results_file.is_file():
        failure = Failure(
            job.stem, "end", "no results file: the last cell must call results.finish()"
        )
    destination = layout.failed if failure else layout.executed
    destination.mkdir(parents=True, exist_ok=True)
    os.replace(running, destination / f"{job.stem}.ipynb")
    return seconds, failure


def record_runtimes(layout: Layout, runtimes: dict[str, float]) -> None:
    """Merge ``runtimes`` (seconds per notebook) into the mode's ``runtimes.json``."""
    known = json.loads(layout.runtimes.read_text()) if layout.runtimes.is_file() else {}
    known.update({stem: round(seconds, 2) for stem, seconds in runtimes.items()})
    write_json_atomic(layout.runtimes, known)


def resolve_sources(layout: Layout, names: list[str]) -> list[Path]:
    """The notebook sources named on the command line (paths or stems), or all of them."""
    if not names:
        return layout.sources()
    by_stem = {path.stem: path for path in layout.sources()}
    chosen = []
    for name in names:
        stem = Path(name).stem
        if stem not in by_stem:
            raise FileNotFoundError(f"notebook {name!r} not found; known: {sorted(by_stem)}")
        chosen.append(by_stem[stem])
    return chosen


def execute(layout: Layout, names: list[str], cell_timeout: int = 1800) -> list[Failure]:
    """Execute the chosen notebooks in ``layout.mode``; return every failure (empty on success)."""
    # Every notebook is prepared first: a typo in modes.yml fails before any time is spent.
    jobs = [prepare(layout, source) for source in resolve_sources(layout, names)]
    failures, runtimes = [], {}
    for index, job in enumerate(jobs, start=1):
        print(f"[{index}/{len(jobs)}] {job.stem} ({layout.mode})", flush=True)
        seconds, failure = execute_one(layout, job, cell_timeout)
        runtimes[job.stem] = seconds
        print(f"    {'FAILED' if failure else 'ok'} in {seconds:.1f} s", flush=True)
        if failure:
            failures.append(failure)
    record_runtimes(layout, runtimes)
    return failures
