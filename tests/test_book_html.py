"""The built smoke book: every chapter is there, with its figures really embedded, its math served
from the site itself, nothing loaded from outside, and the parameter cells out of the reader's way.

Needs ``python -m mgn build --mode smoke`` first (``make test`` runs it).
"""

import json
import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from mgn.book.build import toc_files, toc_notebooks
from mgn.book.layout import Layout
from mgn.book.mathjax import ENTRY as MATHJAX_ENTRY
from tests.repository import ROOT

pytestmark = pytest.mark.slow

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
    executions = json.loads(SMOKE.executions.read_text())
    for stem in toc_notebooks(SMOKE):
        run = executions[stem]
        assert stem in text and run["key"][:12] in text and run["executed"][:10] in text
        assert run["device"] in text
    assert "torch" in text and "smoke" in text and "Execution cache" in text


# Attributes through which a page loads something (an <a href> is a link, not a load).
LOADERS = {
    "script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src",
    "video": "src", "audio": "src", "embed": "src", "object": "data", "track": "src",
}  # fmt: skip
OUTSIDE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
URL_IN_TEXT = re.compile(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}/", re.IGNORECASE)


def external_resources(html: str) -> list[str]:
    """Everything ``html`` would fetch from outside its own site (scripts, styles, fonts, ...)."""
    soup = BeautifulSoup(html, "html.parser")
    found = [
        f"<{tag.name} {attr}={tag[attr]}>"
        for name, attr in LOADERS.items()
        for tag in soup.find_all(name)
        if tag.has_attr(attr) and OUTSIDE.match(tag[attr].strip())
    ]
    found += [f"srcset {tag['srcset']}" for tag in soup.find_all(srcset=URL_IN_TEXT)]
    found += [f"style url {m}" for tag in soup.find_all(style=True) for m in css_urls(tag["style"])]
    for tag in soup.find_all(["script", "style"]):
        text = tag.string or ""
        found += [f"inline <{tag.name}> names {m}" for m in URL_IN_TEXT.findall(text)]
    return found


def css_urls(css: str) -> list[str]:
    """The outside addresses of ``url(...)`` and ``@import`` in a style sheet."""
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)", css)
    return [u for pair in urls for u in pair if u and OUTSIDE.match(u.strip())]


def test_external_resource_detector_catches_each_kind():
    page = """<html><head>
      <script src="https://cdn.example.org/mathjax.js"></script>
      <link rel="stylesheet" href="//fonts.example.com/css">
      <script>const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"</script>
      <style>@font-face { src: url(https://fonts.example.com/a.woff2) }</style>
      </head><body><img src="http://example.org/x.png"><a href="https://arxiv.org/">paper</a>
      <script src="_static/local.js"></script><img src="data:image/png;base64,AAAA"></body></html>"""
    found = " | ".join(external_resources(page))
    for fragment in ("cdn.example.org", "//fonts.example.com/css", "unpkg.com", "x.png"):
        assert fragment in found
    assert "arxiv" not in found and "local.js" not in found and "data:" not in found
    assert css_urls("a { background: url('https://x.org/a.png') } @import 'local.css';") == [
        "https://x.org/a.png"
    ]


def test_no_page_loads_anything_from_outside_the_site():
    pages = sorted(SMOKE.html.rglob("*.html"))
    assert len(pages) > len(toc_files(SMOKE))
    found = {str(p.relative_to(SMOKE.html)): external_resources(p.read_text()) for p in pages}
    sheets = sorted(SMOKE.html.rglob("*.css"))
    found |= {str(s.relative_to(SMOKE.html)): css_urls(s.read_text()) for s in sheets}
    assert not {name: urls for name, urls in found.items() if urls}


@pytest.mark.parametrize("path", toc_files(SMOKE))
def test_math_is_typeset_by_the_bundled_mathjax(path):
    """A page with math loads the site's MathJax, and only that; a page without loads none."""
    soup = page(path)
    scripts = [s["src"].split("?")[0] for s in soup.find_all("script", src=True)]
    mathjax = [s for s in scripts if "mathjax" in s.lower()]
    local = f"{'../' * path.count('/')}_static/{MATHJAX_ENTRY}"
    assert mathjax == ([local] if soup.select(".math") else [])
    assert (SMOKE.html / "_static" / MATHJAX_ENTRY).is_file()
    assert any((SMOKE.html / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))


@pytest.mark.parametrize("stem", toc_notebooks(SMOKE))
def test_chapter_opens_with_prose_then_one_settings_line(stem):
    article = page(f"notebooks/{stem}").find("article")
    assert not article.select(".tag_injected-parameters")
    (parameters,) = article.select(".tag_parameters")
    assert parameters.find("details") is not None and not parameters.find("details").has_attr(
        "open"
    )
    note = article.find(class_="admonition-title", string="Settings of this run")
    assert note is not None and "Mode smoke" in note.parent.get_text(" ", strip=True)
    before_note = [c for c in article.select(".cell") if c.sourceline < note.sourceline]
    assert not before_note, f"{stem}: code cells above the settings note"
    assert article.find("p").sourceline < note.sourceline, f"{stem}: no introduction first"


@pytest.mark.parametrize("stem", toc_notebooks(SMOKE))
def test_cells_tagged_hide_cell_render_collapsed(stem):
    notebook = nbformat.read(SMOKE.executed / f"{stem}.ipynb", as_version=4)
    collapsed = {"hide-cell", "parameters"}  # the build collapses the parameters cell
    tagged = sum(bool(collapsed & set(c.metadata.get("tags", []))) for c in notebook.cells)
    cells = page(f"notebooks/{stem}").select(".cell.tag_hide-cell")
    assert len(cells) == tagged
    for cell in cells:
        toggle = cell.find("details")
        assert toggle is not None and not toggle.has_attr("open"), cell.get("class")


def test_claims_ledger_is_generated_and_linked():
    soup = page("book/claims")
    headings = [h.get_text(strip=True).rstrip("#") for h in soup.find_all(["h2", "h3"])]
    assert "Every claim" in headings and "Checks by chapter" in headings
    for stem in toc_notebooks(SMOKE):
        if (SMOKE.results / f"{stem}.json").is_file():
            assert stem in headings
            assert soup.find("a", href=f"../notebooks/{stem}.html") is not None
    assert page("book/intro").find("a", href="claims.html") is not None


def test_reproducibility_rows_say_how_each_notebook_ran():
    executions = json.loads(SMOKE.executions.read_text())
    rows = {}
    for row in page("book/reproducibility").find_all("tr"):
        cells = [cell.get_text(strip=True) for cell in row.find_all("td")]
        if cells:
            rows[cells[0]] = cells
    for stem in toc_notebooks(SMOKE):
        run = executions[stem]
        expected = [
            stem, run["executed"][:19].replace("T", " "), run["device"], run["python"],
            run["torch"], run["key"][:12], "cache hit" if run["cache"] == "hit" else "fresh",
            f"{run['seconds']:.1f}",
        ]  # fmt: skip
        assert rows[stem][:8] == expected


def test_reproducibility_numbers_link_to_their_chapter():
    soup = page("book/reproducibility")
    executions = json.loads(SMOKE.executions.read_text())
    for stem in toc_notebooks(SMOKE):
        links = soup.find_all("a", href=f"../notebooks/{stem}.html")
        texts = [a.get_text(strip=True) for a in links]
        assert stem in texts and f"{executions[stem]['seconds']:.1f}" in texts, texts
