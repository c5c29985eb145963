"""The built smoke book: every chapter is there, with its figures really embedded.

Needs ``python -m mgn build --mode smoke`` first (``make test`` runs it).
"""

import json

import nbformat
import pytest
from bs4 import BeautifulSoup

from mgn.book.build import toc_files, toc_notebooks
from mgn.book.layout import Layout
from tests.conftest import ROOT

SMOKE = Layout(ROOT, "smoke")


def page(path: str) -> BeautifulSoup:
    html = SMOKE.html / f"{path}.html"
    if not html.is_file():
        pytest.fail(f"{html} is missing: run `python -m mgn build --mode smoke` first")
    return BeautifulSoup(html.read_text(), "html.parser")


def figure_count(stem: str) -> int:
    notebook = nbformat.read(SMOKE.executed / f"{stem}.ipynb", as_version=4)
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


@pytest.mark.parametrize("path", toc_files(SMOKE))
def test_every_page_is_built(path):
    assert page(path).find("h1") is not None


@pytest.mark.parametrize("stem", toc_notebooks(SMOKE))
def test_chapter_embeds_every_figure(stem):
    expected = figure_count(stem)
    assert expected > 0, f"{stem} draws no figure"
    images = [img["src"] for img in page(f"notebooks/{stem}").find_all("img")]
    files = [(SMOKE.html / "notebooks" / src).resolve() for src in images if src.endswith(".png")]
    assert len(files) >= expected
    for file in files:
        assert file.is_file() and file.stat().st_size > 1000, file


def test_reproducibility_page_lists_each_notebook():
    text = page("book/reproducibility").get_text()
    runtimes = json.loads(SMOKE.runtimes.read_text())
    for stem in toc_notebooks(SMOKE):
        assert stem in text and stem in runtimes
    assert "torch" in text and "smoke" in text
