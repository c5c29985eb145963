"""The execution cache: a chapter runs again only when something its numbers depend on changed.

The key of a chapter is the sha256 of its parts (:func:`chapter_parts`): the mode, the parameters
the mode injects (its ``notebooks/modes.yml`` entry), the notebook's code cells (source and tags;
its Markdown is not part of it), the library (every file of the ``mgn`` package outside the runner,
``mgn/book/`` and ``mgn/__main__.py``), the pin files, Python, PyTorch, the device kind, and the environment variables
that change results (:mod:`mgn.book.environment`). Jupyter Book's own cache hashes the notebook
alone, so a change of the library would leave stale numbers in the book.

``_build/cache/<mode>/<stem>/`` holds the last successful execution of a chapter: ``entry.json``
(its key, the parts, and a record of when and on what it ran), ``executed.ipynb`` and
``results.json``. A failed execution removes the chapter's entry; ``--force`` ignores every entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mgn.book.environment import file_digest
from mgn.book.layout import Layout
from mgn.book.refresh import code_cells, with_current_markdown
from mgn.records import write_json_atomic, write_text_atomic

#: The package whose source keys every chapter: the ``mgn`` that holds this runner.
LIBRARY = Path(__file__).resolve().parents[1]
#: The runner's own files in that package: they execute notebooks, no notebook imports them.
RUNNER = ("book", "__main__.py")
ENTRY, EXECUTED, RESULTS = "entry.json", "executed.ipynb", "results.json"


def library_digest(package: Path | None = None) -> str:
    """sha256 of every file of ``package`` (default :data:`LIBRARY`), the :data:`RUNNER` and
    bytecode left out: what a notebook can import."""
    package = package or LIBRARY
    files = [
        path
        for path in package.rglob("*")
        if path.is_file()
        and path.relative_to(package).parts[0] not in RUNNER
        and "__pycache__" not in path.parts
    ]
    return file_digest(files, package)


def code_digest(notebook: nbformat.NotebookNode) -> str:
    """sha256 of the source and tags of each code cell of ``notebook``, in order."""
    cells = [[c.source, c.get("metadata", {}).get("tags", [])] for c in code_cells(notebook)]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def chapter_parts(
    mode: str, parameters: dict, notebook: nbformat.NotebookNode, library: str, environment: dict
) -> dict:
    """Everything one chapter's key covers (see the module docstring), as a JSON-ready dict."""
    return {
        "mode": mode,
        "parameters": parameters,
        "code": code_digest(notebook),
        "library": library,
        **environment,
    }


def key_of(parts: dict) -> str:
    """The cache key: sha256 of ``parts`` as canonical JSON."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def changed_parts(old: dict, new: dict) -> list[str]:
    """Names of the parts that differ between two keys' parts, for saying why a chapter reruns."""
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


@dataclass(frozen=True)
class Entry:
    """A cached execution of one chapter: its folder, key parts and execution record."""

    folder: Path
    parts: dict
    record: dict

    @property
    def key(self) -> str:
        return key_of(self.parts)

    @property
    def executed(self) -> Path:
        return self.folder / EXECUTED

    @property
    def results(self) -> Path:
        return self.folder / RESULTS


def load(layout: Layout, stem: str) -> Entry | None:
    """The cached execution of ``stem`` in ``layout.mode``, whatever its key (None when absent)."""
    folder = layout.cache / stem
    if not all((folder / name).is_file() for name in (ENTRY, EXECUTED, RESULTS)):
        return None
    entry = json.loads((folder / ENTRY).read_text())
    return Entry(folder, entry["parts"], entry["record"])


def store(
    layout: Layout, stem: str, parts: dict, record: dict, executed: Path, results: Path
) -> Entry:
    """Keep the successful execution (``executed`` notebook, ``results`` JSON) of ``stem`` under
    its key; the entry appears whole (a renamed folder) or not at all."""
    layout.cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=layout.cache))
    shutil.copy2(executed, staging / EXECUTED)
    shutil.copy2(results, staging / RESULTS)
    entry = {"key": key_of(parts), "parts": parts, "record": record}
    (staging / ENTRY).write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n")
    drop(layout, stem)
    os.replace(staging, layout.cache / stem)
    return Entry(layout.cache / stem, parts, record)


def restore(entry: Entry, current: nbformat.NotebookNode, executed: Path, results: Path) -> None:
    """Write the cached notebook, under the Markdown of ``current``, to ``executed`` and the cached
    results to ``results``, each through a temporary file and a rename."""
    notebook = with_current_markdown(nbformat.read(entry.executed, as_version=4), current)
    text = nbformat.writes(notebook)
    write_text_atomic(executed, text if text.endswith("\n") else text + "\n")  # as nbformat.write
    write_json_atomic(results, json.loads(entry.results.read_text()))


def drop(layout: Layout, stem: str) -> None:
    """Forget the cached execution of ``stem`` (nothing happens when there is none)."""
    shutil.rmtree(layout.cache / stem, ignore_errors=True)
