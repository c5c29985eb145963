"""A throw-away book for the runner's tests: the repository's ``_toc.yml`` and tiny notebooks.

Each notebook made by :func:`notebook` appends one line to ``notebooks/<stem>.runs`` when it runs,
so that :func:`runs` tells how often the runner really executed it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n#     display_name: Python 3\n#     language: python\n# ---\n"


def notebook(stem: str, body: str, title: str | None = None) -> str:
    """The jupytext source of a notebook titled ``title`` (default ``stem``) that runs ``body``
    between a ``Results`` and its ``finish()``, with parameters ``mode`` and ``limit``."""
    cells = [
        f"# %% [markdown]\n# # {title or stem}",
        '# %% tags=["parameters"]\nmode = "paper"\nlimit = 1.0',
        f'# %%\nfrom mgn.records import Results\n\nwith open("{stem}.runs", "a") as runs:\n'
        f'    runs.write("run\\n")\nresults = Results("{stem}", mode)\n{body}',
        "# %%\nresults.finish()",
    ]
    return HEADER + "\n" + "\n\n".join(cells) + "\n"


GOOD = 'results.value("x", 0.5)\nresults.check("ok", "0.5 <= limit", 0.5, limit)'
BAD = 'results.check("broken", "2 <= limit", 2.0, limit)'


def write_book(root: Path, toc: Path) -> Path:
    """A book at ``root`` with ``toc`` as its ``_toc.yml``, ``01_good`` (passes) and ``02_bad``
    (its check fails unless a mode raises ``limit`` to 2)."""
    (root / "_toc.yml").write_text(toc.read_text())
    (root / "notebooks").mkdir()
    (root / "notebooks" / "01_good.py").write_text(notebook("01_good", GOOD))
    (root / "notebooks" / "02_bad.py").write_text(notebook("02_bad", BAD))
    return root


def modes(root: Path, text: str) -> None:
    """Write ``notebooks/modes.yml`` of the book at ``root``."""
    (root / "notebooks" / "modes.yml").write_text(textwrap.dedent(text))


def runs(root: Path, stem: str) -> int:
    """How many times notebook ``stem`` of the book at ``root`` was executed."""
    log = root / "notebooks" / f"{stem}.runs"
    return len(log.read_text().splitlines()) if log.is_file() else 0
