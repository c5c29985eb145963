"""Where the book's sources and build products live, relative to the repository root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODES = ("smoke", "paper")


@dataclass(frozen=True)
class Layout:
    """Paths of one build mode. Everything generated lives under ``_build/`` (ignored by git).

    ``replicate`` k > 0 is the same build with every notebook's ``seed`` shifted by k: the runs
    whose spread sets the baselines' tolerances (:mod:`mgn.book.baselines`). They live apart,
    under ``_build/replicates/<mode>/<k>/``, with their own execution cache.
    """

    root: Path
    mode: str
    replicate: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if isinstance(self.replicate, bool) or not isinstance(self.replicate, int):
            raise TypeError(f"replicate must be an int >= 0, got {self.replicate!r}")
        if self.replicate < 0:
            raise ValueError(f"replicate must be an int >= 0, got {self.replicate}")
        if not (self.root / "_toc.yml").is_file():
            raise FileNotFoundError(
                f"root must be the repository root (with _toc.yml), got {self.root}"
            )

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def modes_file(self) -> Path:
        return self.notebooks / "modes.yml"

    @property
    def work(self) -> Path:
        if self.replicate:
            return self.root / "_build" / "replicates" / self.mode / str(self.replicate)
        return self.root / "_build" / self.mode

    @property
    def inputs(self) -> Path:
        """Notebooks converted from their jupytext source, before execution."""
        return self.work / "inputs"

    @property
    def executed(self) -> Path:
        return self.work / "executed"

    @property
    def failed(self) -> Path:
        """Executed notebooks that stopped on an error, kept for reading."""
        return self.work / "failed"

    @property
    def results(self) -> Path:
        """One JSON file per notebook: its recorded numbers and checks."""
        return self.work / "results"

    @property
    def executions(self) -> Path:
        """When, on what and how long each notebook ran, and whether it came from the cache."""
        return self.work / "executions.json"

    @property
    def cache(self) -> Path:
        """The last successful execution of each notebook, under its key (:mod:`mgn.book.cache`)."""
        if self.replicate:
            return self.root / "_build" / "cache" / "replicates" / self.mode / str(self.replicate)
        return self.root / "_build" / "cache" / self.mode

    @property
    def site(self) -> Path:
        """The Jupyter Book source tree assembled for the build."""
        return self.work / "site"

    @property
    def build_output(self) -> Path:
        """Jupyter Book writes ``_build/html`` under this folder: the paper book is ``_build/html``."""
        return self.root if self.mode == "paper" else self.work

    @property
    def html(self) -> Path:
        return self.build_output / "_build" / "html"

    @property
    def baselines(self) -> Path:
        return self.root / "tests" / "baselines" / self.mode

    def sources(self) -> list[Path]:
        """The notebook sources, in chapter order (their ``NN_`` prefix)."""
        return sorted(self.notebooks.glob("[0-9][0-9]_*.py"))
