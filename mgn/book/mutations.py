"""The mutation check: plant a plausible regression in a copy of ``mgn``, see what catches it.

A :class:`Mutation` replaces one exact snippet of one library file (the catalogue is
:mod:`mgn.book.mutation_catalogue`). :func:`run_mutations` copies what the runner needs
(:data:`COPIED`) into a temporary folder, patches the copy (the real tree is never written), executes
the chapters the mutation should affect in smoke mode there, in a child ``python -m mgn execute``
with ``PYTHONPATH`` on the copy and the copy's own ``_build`` (no cached execution), and compares
each chapter's results with its committed smoke baseline (:func:`mgn.book.baselines.compare`).

An unpatched copy runs first, the control: a difference it already shows (a stale baseline) is not
credited to a mutation. A chapter catches a mutation when one of its checks fails, a recorded value
leaves its baseline's tolerance, or it stops on a check (``CheckFailed``) or on an argument check of
the library (a ``ValueError`` or ``TypeError`` raised in ``mgn``); any other error catches nothing,
and its type is reported all the same. This module imports no science: it copies, patches text and
starts processes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mgn.book.layout import Layout
from mgn.records import write_text_atomic

#: What a copy holds, relative to the repository root: the library, the chapters, the baselines
#: and the files the runner reads.
COPIED = ("mgn", "notebooks", "tests/baselines", "_toc.yml", "pyproject.toml", "constraints.txt")
#: Left out of a copy: bytecode, notebooks converted or opened in Jupyter.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.ipynb", ".ipynb_checkpoints")
CONTROL = "control"
NOT_CAUGHT = "NOT CAUGHT"
#: Errors of the library's argument checks (:mod:`mgn.validation` and the like).
VALIDATION_ERRORS = ("ValueError", "TypeError")
#: How the table names each kind of :class:`ChapterError`.
ERROR_KINDS = {"check": "a check", "validation": "a library validation", "other": "not a check"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A traceback frame, as IPython (`File /x.py:12, in f`) or Python (`File "/x.py", line 12`) prints it.
_FRAME = re.compile(r'File "?([^"\n]+?\.py)"?(?::\d+|, line \d+)')


class PatchError(ValueError):
    """A mutation's ``old`` snippet does not occur exactly once: the code it patches has moved."""


@dataclass(frozen=True)
class Mutation:
    """One planted regression: replace ``old`` (exactly once) by ``new`` in ``mgn/<path>``.

    ``chapters`` are the notebook stems the mutation should affect (each executes through the
    patched line); ``models`` says in one sentence which regression it stands for.
    """

    name: str
    chapters: tuple[str, ...]
    path: str
    old: str
    new: str
    models: str


def patched_text(mutation: Mutation, text: str) -> str:
    """``text`` with the mutation applied; :class:`PatchError` unless ``old`` occurs exactly once."""
    count = text.count(mutation.old)
    if count != 1:
        raise PatchError(
            f"mutation {mutation.name!r}: its old snippet occurs {count} times in "
            f"mgn/{mutation.path}, expected exactly once (the code moved: update the mutation)\n"
            f"old snippet:\n{mutation.old}"
        )
    return text.replace(mutation.old, mutation.new, 1)


def check_applies(mutation: Mutation, root: Path) -> None:
    """Raise :class:`PatchError` unless ``mutation`` applies to ``root``'s ``mgn`` (nothing written)."""
    patched_text(mutation, (root / "mgn" / mutation.path).read_text())


def copy_repository(root: Path, target: Path) -> Path:
    """Copy :data:`COPIED` from ``root`` into the folder ``target``; return ``target``."""
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=IGNORED)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def apply(mutation: Mutation, copy: Path) -> None:
    """Patch the copy's ``mgn/<path>`` in place (:func:`patched_text`)."""
    path = copy / "mgn" / mutation.path
    path.write_text(patched_text(mutation, path.read_text()))


def child_environment(copy: Path) -> dict[str, str]:
    """The environment of a child run on ``copy``: its ``mgn`` first on the path, no progress bars."""
    path = os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "CI": "1"}


def check_imports_copy(copy: Path) -> None:
    """Raise ``RuntimeError`` unless a child interpreter on ``copy`` imports the copy's ``mgn``."""
    found = subprocess.run(
        [sys.executable, "-c", "import mgn; print(mgn.__file__)"],
        capture_output=True, text=True, check=True, cwd=copy, env=child_environment(copy),
    ).stdout.strip()  # fmt: skip
    if not Path(found).resolve().is_relative_to(copy.resolve()):
        raise RuntimeError(f"a child run on {copy} imports mgn from {found}, not from the copy")


def execute_copy(copy: Path, chapters: Sequence[str], log: Path, cell_timeout: int) -> None:
    """Execute ``chapters`` of ``copy`` in smoke mode in a child process; its output goes to ``log``."""
    command = [sys.executable, "-m", "mgn", "execute", "--mode", "smoke", "--root", str(copy)]
    command += ["--cell-timeout", str(cell_timeout), *chapters]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=copy, env=child_environment(copy)
        )


@dataclass(frozen=True)
class ChapterError:
    """The exception that stopped a chapter; ``kind`` is ``"check"``, ``"validation"`` or
    ``"other"`` (only the first two catch a mutation)."""

    name: str
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


def chapter_error(failed_notebook: Path, package: Path) -> ChapterError | None:
    """The error output of an executed notebook that failed, classified; None when it has none.

    ``package`` is the ``mgn`` folder the notebook imported: a ``ValueError`` or ``TypeError``
    whose innermost frame lies there (outside its runner, ``mgn/book``) is a validation error.
    """
    if not failed_notebook.is_file():
        return None
    cells = json.loads(failed_notebook.read_text())["cells"]
    for output in (o for cell in cells for o in cell.get("outputs", [])):
        if output.get("output_type") != "error":
            continue
        if output["ename"] == "CheckFailed":
            kind = "check"
        elif output["ename"] in VALIDATION_ERRORS and _raised_in(output["traceback"], package):
            kind = "validation"
        else:
            kind = "other"
        return ChapterError(output["ename"], output["evalue"].strip(), kind)
    return None


def _raised_in(traceback: list[str], package: Path) -> bool:
    """Whether the innermost frame of an IPython ``traceback`` lies in ``package``, not its runner."""
    frames = _FRAME.findall(_ANSI.sub("", "\n".join(traceback)))
    if not frames:
        return False
    innermost, package = Path(frames[-1]).resolve(), package.resolve()
    return innermost.is_relative_to(package) and not innermost.is_relative_to(package / "book")


@dataclass(frozen=True)
class Outcome:
    """What one chapter showed in one copy: its differences from the baseline and its error.

    ``problems`` are :func:`mgn.book.baselines.compare`'s lines (empty without results);
    ``failed_checks`` and ``moved_values`` name the checks and values among them. ``recorded``
    holds the chapter's recorded values (empty without results); ``changed`` names those that
    differ from the control's run (None until compared with it: :meth:`without`).
    """

    chapter: str
    problems: tuple[str, ...]
    failed_checks: tuple[str, ...]
    moved_values: tuple[str, ...]
    error: ChapterError | None
    recorded: dict = field(default_factory=dict)
    changed: tuple[str, ...] | None = None

    def without(self, control: Outcome) -> Outcome:
        """This outcome less what ``control`` (the unpatched copy's) already showed."""
        problems = tuple(p for p in self.problems if p not in control.problems)
        error = None if control.error == self.error else self.error
        changed = [n for n, v in self.recorded.items() if control.recorded.get(n) != v]
        return named_outcome(self.chapter, problems, error, self.recorded, tuple(changed))

    @property
    def caught(self) -> bool:
        return bool(self.problems) or (self.error is not None and self.error.kind != "other")


def named_outcome(
    chapter: str,
    problems: Sequence[str],
    error: ChapterError | None,
    recorded: dict | None = None,
    changed: tuple[str, ...] | None = None,
) -> Outcome:
    """An :class:`Outcome`, with the checks and values named in ``problems`` picked out."""
    checks = tuple(m[2] for p in problems if (m := re.fullmatch(r"check (['\"])(.+)\1 failed", p)))
    values = tuple(m[2] for p in problems if (m := re.match(r"value (['\"])(.+?)\1 = ", p)))
    return Outcome(chapter, tuple(problems), checks, values, error, recorded or {}, changed)


def outcome(copy: Path, chapter: str) -> Outcome:
    """Compare chapter ``chapter`` of an executed copy with the copy's smoke baseline."""
    from mgn.book.baselines import compare, load

    layout = Layout(copy, "smoke")
    results = layout.results / f"{chapter}.json"
    problems, recorded = [], {}
    if results.is_file():
        result = load(results)
        recorded = result["values"]
        problems = compare(load(layout.baselines / results.name), result)
    error = chapter_error(layout.failed / f"{chapter}.ipynb", copy / "mgn")
    return named_outcome(chapter, problems, error, recorded)


def run_copy(
    root: Path, mutation: Mutation | None, chapters: Sequence[str], log: Path, cell_timeout: int
) -> list[Outcome]:
    """Copy ``root``, apply ``mutation`` (None: the control), execute ``chapters``, compare each."""
    with tempfile.TemporaryDirectory(prefix="mgn-mutation-") as folder:
        copy = copy_repository(root, Path(folder))
        if mutation is not None:
            apply(mutation, copy)
        check_imports_copy(copy)
        execute_copy(copy, chapters, log, cell_timeout)
        found = [outcome(copy, chapter) for chapter in chapters]
    with log.open("a") as out:
        for result in found:
            print(f"\n{result.chapter}: error {result.error}", file=out)
            print("\n".join(f"  {p}" for p in result.problems), file=out)
    return found


def _findings(result: Outcome) -> list[str]:
    """What one chapter showed, in words: failed checks, moved values, other differences, error."""
    parts = []
    if result.failed_checks:
        parts.append("checks " + ", ".join(f"`{name}`" for name in result.failed_checks))
    if result.moved_values:
        shown = ", ".join(f"`{name}`" for name in result.moved_values[:3])
        more = ", ..." if len(result.moved_values) > 3 else ""
        parts.append(f"{len(result.moved_values)} baseline values ({shown}{more})")
    other = len(result.problems) - len(result.failed_checks) - len(result.moved_values)
    if other:
        parts.append(f"{other} other baseline differences")
    if result.error is not None:
        parts.append(f"stopped by {result.error.name} ({ERROR_KINDS[result.error.kind]})")
    return parts


def caught_by(result: Outcome) -> str:
    """The table's cell for one chapter: what caught the mutation, or :data:`NOT_CAUGHT` with
    whether its recorded values changed at all (within their tolerance) or not."""
    found = _findings(result)
    if result.caught:
        return "; ".join(found)
    if result.changed:
        found.append(f"{len(result.changed)} values changed, none beyond what the baseline holds")
    elif result.changed is not None and result.recorded:
        found.append("no recorded value changed")
    return f"{NOT_CAUGHT} ({'; '.join(found)})" if found else NOT_CAUGHT


def table(rows: Sequence[tuple[str, Outcome]]) -> str:
    """A Markdown table ``mutation | chapter | caught by`` of ``(mutation name, outcome)`` rows.

    The :data:`CONTROL` rows say how the unpatched copy compares with the baselines.
    """
    lines = ["| mutation | chapter | caught by |", "|---|---|---|"]
    for name, result in rows:
        if name == CONTROL:
            cell = "; ".join(_findings(result)) or "agrees with the baseline"
        else:
            cell = caught_by(result)
        cells = (name, result.chapter, cell)
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def report(
    rows: Sequence[tuple[str, Outcome]], mutations: Sequence[Mutation], seconds: float
) -> str:
    """The page ``_build/mutations.md``: the table, then what each mutation models."""
    listed = "\n".join(f"- `{m.name}` (`mgn/{m.path}`): {m.models}" for m in mutations)
    return (
        f"# Mutation check\n\n{table(rows)}\nThe control row is the unpatched copy; its "
        f"differences from the baselines are not credited to any mutation.\n\n{listed}\n\n"
        f"Run time: {seconds / 60:.1f} min.\n"
    )


def uncaught(rows: Sequence[tuple[str, Outcome]]) -> list[str]:
    """The mutations that no chapter caught (the control is not one)."""
    caught = {name for name, result in rows if result.caught}
    names = dict.fromkeys(name for name, _ in rows if name != CONTROL)
    return [name for name in names if name not in caught]


def run_mutations(
    root: Path, mutations: Sequence[Mutation], cell_timeout: int = 1800
) -> list[tuple[str, Outcome]]:
    """The control, then every mutation, on copies of ``root``; return the table's rows.

    Every mutation is checked to apply before anything runs. The rows are written to
    ``_build/mutations.md`` (each run's log to ``_build/mutations/<name>.log``) and printed.
    """
    names = [m.name for m in mutations]
    if CONTROL in names or len(set(names)) != len(names):
        raise ValueError(f"mutation names must be unique and not {CONTROL!r}, got {names}")
    known = {path.stem for path in Layout(root, "smoke").sources()}
    for mutation in mutations:
        check_applies(mutation, root)
        unknown = sorted(set(mutation.chapters) - known)
        if not mutation.chapters or unknown:
            raise ValueError(f"mutation {mutation.name!r}: chapters {unknown} are not notebooks")
    started = time.perf_counter()
    logs = root / "_build" / "mutations"
    every = sorted({chapter for m in mutations for chapter in m.chapters})
    print(f"control: {' '.join(every)}", flush=True)
    control = run_copy(root, None, every, logs / f"{CONTROL}.log", cell_timeout)
    rows = [(CONTROL, result) for result in control]
    control_of = {result.chapter: result for result in control}
    for mutation in mutations:
        print(f"{mutation.name}: {' '.join(mutation.chapters)}", flush=True)
        log = logs / f"{mutation.name}.log"
        for result in run_copy(root, mutation, mutation.chapters, log, cell_timeout):
            rows.append((mutation.name, result.without(control_of[result.chapter])))
    page = report(rows, mutations, time.perf_counter() - started)
    write_text_atomic(root / "_build" / "mutations.md", page)
    print(page, flush=True)
    return rows
