"""Progress bars for long loops: shown in Jupyter and terminals, silent in CI logs (``CI`` set)."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress(iterable=None, **kwargs) -> tqdm:
    """``tqdm`` over ``iterable``, disabled when the environment variable ``CI`` is set."""
    kwargs.setdefault("disable", bool(os.environ.get("CI")))
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
