"""Shared fixtures: the repository layout of each build mode, a throw-away book, and an interrupted
resumable loop."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgn.book.layout import Layout
from tests.repository import ROOT
from tests.tiny_book import write_book


@pytest.fixture(scope="session")
def smoke() -> Layout:
    return Layout(ROOT, "smoke")


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A book in ``tmp_path`` with two tiny notebooks (:mod:`tests.tiny_book`)."""
    return write_book(tmp_path, ROOT / "_toc.yml")


@pytest.fixture
def interrupt_after_first_save(monkeypatch) -> list[int]:
    """Make the resumable loop stop (KeyboardInterrupt) right after its first checkpoint save.

    Returns the list of iteration counts saved; ``monkeypatch.undo()`` restores normal saving.
    """
    import mgn.resumable

    saves, real_save = [], mgn.resumable.save_state

    def save_then_stop(path, state):
        real_save(path, state)
        saves.append(state["done"])
        raise KeyboardInterrupt

    monkeypatch.setattr(mgn.resumable, "save_state", save_then_stop)
    return saves
