"""The public surface is the real one: what chapters import is public and documented, and every
public name has a user outside the tests."""

from __future__ import annotations

import ast
import importlib
import inspect
import re

import pytest

from tests.repository import ROOT

# The packages and tool modules a reader imports from (the mgn docstring lists them).
PUBLIC_MODULES = [
    "mgn",
    "mgn.distributed",
    "mgn.distributed.theory",
    "mgn.distributed.drift",
    "mgn.vision",
    "mgn.privacy",
    "mgn.checks",
    "mgn.report",
    "mgn.curves",
    "mgn.biased_sgd",
    "mgn.converged_ball",
    "mgn.device",
    "mgn.plotting",
    "mgn.progress",
    "mgn.seeds",
    "mgn.resumable",
    "mgn.training",
]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def chapter_imports() -> list[tuple[str, str, str]]:
    """(notebook, module, name) for every ``from mgn... import name`` of every chapter."""
    found = []
    for path in NOTEBOOKS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mgn"):
                found += [(path.stem, node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(path.stem, a.name, "") for a in node.names if a.name.startswith("mgn")]
    return found


def test_chapters_import_only_public_names():
    wrong = []
    for stem, module, name in chapter_imports():
        if module not in PUBLIC_MODULES:
            wrong.append(f"{stem}: module {module} is not public")
        elif name and name not in importlib.import_module(module).__all__:
            wrong.append(f"{stem}: {module}.{name} is not in its __all__")
    assert wrong == []


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_documented(module):
    undocumented = []
    for name in importlib.import_module(module).__all__:
        value = getattr(importlib.import_module(module), name)
        if (inspect.isfunction(value) or inspect.isclass(value)) and not inspect.getdoc(value):
            undocumented.append(name)
    assert undocumented == []


def used_names() -> set[str]:
    """Identifiers that code besides the tests reads: chapters, the library, benchmarks, the docs.

    In Python files a name counts where it is read (a name or an attribute), not where it is
    defined, imported or listed in ``__all__``; in the Markdown docs, where it appears; in a
    chapter's prose, where it is named as ```mgn.<module>.<name>```.
    """
    used = set()
    python = [*NOTEBOOKS, *(ROOT / "mgn").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    for path in python:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
    docs = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "book").glob("*.md")]
    for path in docs:
        used.update(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", path.read_text()))
    for path in NOTEBOOKS:  # the prose of a chapter names library functions as `mgn.x.name`
        used.update(
            re.findall(r"`mgn(?:\.[A-Za-z_]+)*\.([A-Za-z_][A-Za-z0-9_]*)", path.read_text())
        )
    return used


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_has_a_user(module):
    """Every exported name is read somewhere besides the tests (else it is not exported)."""
    used = used_names()
    assert sorted(set(importlib.import_module(module).__all__) - used) == []


def test_every_library_name_a_chapter_mentions_exists():
    """A chapter's prose that names `mgn.x.y` points at something a reader can import."""
    missing = []
    for path in NOTEBOOKS:
        for dotted in set(re.findall(r"`(mgn(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`", path.read_text())):
            parts = dotted.split(".")
            for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
                try:
                    value = importlib.import_module(".".join(parts[:cut]))
                except ModuleNotFoundError:
                    continue
                try:
                    for attribute in parts[cut:]:
                        value = getattr(value, attribute)
                except AttributeError:
                    missing.append(f"{path.stem}: {dotted}")
                break
    assert missing == []
