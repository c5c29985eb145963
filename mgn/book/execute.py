"""Steps 1-3 of a build: jupytext source -> notebook -> papermill run with the mode's parameters.

Each notebook runs in ``notebooks/`` with ``MGN_RESULTS_DIR`` pointing at the mode's results folder,
so its closing ``Results.finish()`` writes ``<stem>.json`` there. Failures are collected, not raised
one by one: every notebook runs, then all failures are reported together. A notebook whose cache key
is unchanged since its last successful run is not executed again: its notebook and results come
from the cache (:mod:`mgn.book.cache`), under its current Markdown; ``force`` runs it anyway.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jupytext
import nbformat
import papermill
import yaml

from mgn.book import cache
from mgn.book.environment import environment_parts, probe_device
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


def replicate_seed(notebook_path: Path, parameters: dict, replicate: int) -> int:
    """The notebook's ``seed`` (the mode's, else its parameters cell's default) plus ``replicate``."""
    declared = papermill.inspect_notebook(str(notebook_path))
    if "seed" not in declared:
        raise ParameterError(f"{notebook_path.stem}: a replicate run needs a 'seed' parameter")
    base = parameters.get("seed", declared["seed"]["default"])
    try:
        return int(base) + replicate
    except ValueError as err:
        raise ParameterError(f"{notebook_path.stem}: seed default {base!r} is not an int") from err


def prepare(layout: Layout, source: Path) -> Job:
    """Convert ``source`` and check the mode's parameters against its ``parameters`` cell."""
    parameters = mode_parameters(layout, source.stem)
    notebook = convert(source, layout.inputs / f"{source.stem}.ipynb")
    check_parameters(notebook, parameters)
    if layout.replicate:
        parameters["seed"] = replicate_seed(notebook, parameters, layout.replicate)
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


def execution_record(seconds: float, key: str) -> dict:
    """When, on what and how long a notebook ran, under which cache key (the reproducibility page)."""
    device = probe_device()
    return {
        "executed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "python": platform.python_version(),
        "torch": device["torch"],
        "device": device["device"],
        "key": key,
    }


def record_executions(layout: Layout, records: dict[str, dict], failed: list[str]) -> None:
    """Merge ``records`` into the mode's ``executions.json``; drop the notebooks that ``failed``."""
    known = json.loads(layout.executions.read_text()) if layout.executions.is_file() else {}
    known.update(records)
    write_json_atomic(layout.executions, {k: v for k, v in known.items() if k not in failed})


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


def stale_reason(entry: cache.Entry | None, parts: dict, force: bool) -> str | None:
    """Why a notebook must be executed, or None when its cached execution ``entry`` is valid."""
    if force:
        return "forced"
    if entry is None:
        return "no cached execution"
    changed = cache.changed_parts(entry.parts, parts)
    return f"changed: {', '.join(changed)}" if changed else None


def run_or_restore(
    layout: Layout,
    job: Job,
    current: nbformat.NotebookNode,
    parts: dict,
    *,
    force: bool,
    cell_timeout: int,
) -> tuple[dict | None, Failure | None]:
    """Restore ``job`` (whose converted notebook is ``current``) from the cache when its entry has
    the key of ``parts``, else execute it and cache a success; return its execution record (None on
    failure) and its failure, if any."""
    executed = layout.executed / f"{job.stem}.ipynb"
    results = layout.results / f"{job.stem}.json"
    entry = cache.load(layout, job.stem)
    reason = stale_reason(entry, parts, force)
    if reason is None:
        cache.restore(entry, current, executed, results)
        print(f"    cached: executed {entry.record['executed']}, key {entry.key[:12]}", flush=True)
        return {**entry.record, "cache": "hit"}, None
    print(f"    executing ({reason})", flush=True)
    seconds, failure = execute_one(layout, job, cell_timeout)
    print(f"    {'FAILED' if failure else 'ok'} in {seconds:.1f} s", flush=True)
    if failure:
        cache.drop(layout, job.stem)
        return None, failure
    record = execution_record(seconds, cache.key_of(parts))
    cache.store(layout, job.stem, parts, record, executed, results)
    return {**record, "cache": "fresh"}, None


def execute(
    layout: Layout, names: list[str], cell_timeout: int = 1800, force: bool = False
) -> list[Failure]:
    """Execute the chosen notebooks in ``layout.mode``; return every failure (empty on success).

    A notebook whose cached execution has its current key is restored instead, unless ``force``.
    """
    # Every notebook is prepared first: a typo in modes.yml fails before any time is spent.
    jobs = [prepare(layout, source) for source in resolve_sources(layout, names)]
    library, environment = cache.library_digest(), environment_parts(layout.root)
    failures, records = [], {}
    for index, job in enumerate(jobs, start=1):
        print(f"[{index}/{len(jobs)}] {job.stem} ({layout.mode})", flush=True)
        current = nbformat.read(job.notebook, as_version=4)
        parts = cache.chapter_parts(layout.mode, job.parameters, current, library, environment)
        record, failure = run_or_restore(
            layout, job, current, parts, force=force, cell_timeout=cell_timeout
        )
        if failure:
            failures.append(failure)
        else:
            records[job.stem] = record
    record_executions(layout, records, [failure.notebook for failure in failures])
    return failures
