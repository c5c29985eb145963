"""Progress bars for long loops: shown in Jupyter and terminals, silent in CI logs and built pages.

Bars are off when ``CI`` is set and when ``python -m mgn execute`` runs the notebook (it sets
``MGN_RESULTS_DIR``): a bar frozen in an executed notebook would only clutter the book.
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

from mgn.records import RESULTS_DIR_ENV

__all__ = [
    "progress",
]


def progress(iterable=None, **kwargs) -> tqdm:
    """``tqdm`` over ``iterable``, disabled in CI and under the book's runner."""
    kwargs.setdefault("disable", bool(os.environ.get("CI") or os.environ.get(RESULTS_DIR_ENV)))
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
