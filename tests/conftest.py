"""Shared fixtures: the repository layout of each build mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgn.book.layout import Layout

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke() -> Layout:
    return Layout(ROOT, "smoke")
