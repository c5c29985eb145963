"""Step 5 of a build: assemble the book's sources with the executed notebooks and run Jupyter Book.

The site is assembled under ``_build/<mode>/site`` (configuration, prose, the executed notebooks
arranged for reading, the generated reproducibility and claims pages, MathJax), then built with
execution off, from a clean doctree, with warnings as errors. The notebook sources (``.py``) never reach Sphinx.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from mgn.book.claims import claims_section
from mgn.book.layout import Layout
from mgn.book.mathjax import install_mathjax
from mgn.book.reading_order import arrange_for_reading
from mgn.book.reproducibility import reproducibility_section


def toc_files(layout: Layout) -> list[str]:
    """Every file named in ``_toc.yml`` (without suffix), in reading order."""
    toc = yaml.safe_load((layout.root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("chapters", "sections", "parts"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return files


def toc_notebooks(layout: Layout) -> list[str]:
    """The notebook stems the table of contents names."""
    return [Path(f).name for f in toc_files(layout) if f.startswith("notebooks/")]


def assemble_site(layout: Layout) -> Path:
    """Copy configuration, prose and executed notebooks into a fresh ``layout.site``."""
    missing = [s for s in toc_notebooks(layout) if not (layout.executed / f"{s}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(
            f"no executed notebook for {missing} in {layout.executed}: "
            f"run `python -m mgn execute --mode {layout.mode}` first"
        )
    shutil.rmtree(layout.site, ignore_errors=True)
    layout.site.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(layout.root / name, layout.site / name)
    shutil.copytree(layout.root / "book", layout.site / "book")
    (layout.site / "notebooks").mkdir()
    stems = toc_notebooks(layout)
    for stem in stems:
        notebook = nbformat.read(layout.executed / f"{stem}.ipynb", as_version=4)
        nbformat.write(arrange_for_reading(notebook), layout.site / "notebooks" / f"{stem}.ipynb")
    for name, section in (("reproducibility", reproducibility_section), ("claims", claims_section)):
        page = layout.site / "book" / f"{name}.md"
        page.write_text(page.read_text() + "\n" + section(layout, stems))
    install_mathjax(layout.site)
    return layout.site


def build(layout: Layout) -> Path:
    """Build the HTML book of ``layout.mode``; return the folder holding ``index.html``."""
    site = assemble_site(layout)
    shutil.rmtree(layout.build_output / "_build" / ".doctrees", ignore_errors=True)
    shutil.rmtree(layout.html, ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book), "build", str(site),
        "--path-output", str(layout.build_output),
        "--builder", "html", "-W", "--keep-going",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return layout.html
