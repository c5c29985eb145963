"""Where the repository under test is: the root that holds ``_toc.yml``, ``notebooks/``, ``mgn/``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
