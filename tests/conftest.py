"""Shared fixtures: the repository layout of each build mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgn.book.layout import Layout

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke() -> Layout:
    return Layout(ROOT, "smoke")


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
