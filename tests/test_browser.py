"""The built book as a reader meets it: every page opened in headless Chromium, offline.

The site is served over HTTP on 127.0.0.1 (a free port, a thread of this module); any request to
another host is refused and fails the page. On each page, once MathJax has typeset it: no TeX
delimiter is left in the visible text, every image has loaded, the console shows no error, no
request failed, collapsed cells hide their code, the sidebar lists every file of ``_toc.yml``, and
the download button gives the page's source (the ``.ipynb`` of a chapter). A full-page screenshot
of each page is saved under ``_build/<mode>/screenshots/``. The book is the smoke book that
``make test`` builds; ``MGN_BROWSER_MODE=paper`` checks the published one after ``make book``.

Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser download is
never used). Skipped, with the reason, when either is missing: ``.ci/run`` installs Chromium.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mgn.book.build import toc_files
from mgn.book.layout import Layout
from tests.repository import ROOT

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(
        "browser test skipped: no Chromium (`apt-get install chromium`; .ci/run does it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="browser test needs playwright")

BOOK = Layout(ROOT, os.environ.get("MGN_BROWSER_MODE", "smoke"))
SCREENSHOTS = BOOK.work / "screenshots"
PAGES = toc_files(BOOK)
# The flags that keep Chromium quiet on a machine with no network (and as root).
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Every visible text node outside code, with the rendered math left out.
VISIBLE_TEXT = """() => {
  const skip = "PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER, MJX-ASSISTIVE-MML, TEXTAREA";
  const root = document.querySelector("main") || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (el.closest(skip) || !el.checkVisibility()) continue;
    parts.push(node.textContent);
  }
  return parts.join(" ");
}"""
TEX_DELIMITERS = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac", "\\kappa")

WAIT_FOR_MATH = """async () => {
  await Promise.all(Array.from(document.images, (img) => img.complete ? null :
    new Promise((done) => { img.onload = img.onerror = done; })));
  if (!(window.MathJax && MathJax.startup)) return {mathjax: false, typeset: 0};
  await MathJax.startup.promise;
  return {mathjax: true, typeset: document.querySelectorAll("mjx-container").length};
}"""


@pytest.fixture(scope="module")
def site() -> str:
    """The book served on 127.0.0.1; yields its base URL."""
    if not (BOOK.html / "index.html").is_file():
        pytest.fail(f"{BOOK.html} is missing: run `python -m mgn build --mode {BOOK.mode}` first")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(BOOK.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A fresh Chromium profile; requests to any host but 127.0.0.1 are aborted."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.outside = []

        def guard(route) -> None:
            if urlparse(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                context.outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        yield context
        context.close()


def open_page(browser, url: str):
    """Open ``url``; return the page and the list its problems are collected into."""
    page, problems = browser.new_page(), []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} {r.url}"))
    page.goto(url, wait_until="load")
    return page, problems


@pytest.mark.parametrize("path", PAGES)
def test_page_reads_offline(browser, site, path):
    page, problems = open_page(browser, f"{site}{path}.html")
    math = page.evaluate(WAIT_FOR_MATH)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{path.replace('/', '__')}.png"), full_page=True)

    if page.locator("main .math").count():
        assert math["mathjax"] and math["typeset"] > 0, f"math on {path} was not typeset: {math}"
    text = page.evaluate(VISIBLE_TEXT)
    left = [d for d in TEX_DELIMITERS if d in text]
    assert not left, f"raw TeX {left} in the visible text of {path}"

    if path.startswith("notebooks/"):
        hidden = page.evaluate(
            "Array.from(document.querySelectorAll('.tag_hide-cell pre'),"
            " (pre) => !pre.checkVisibility())"
        )
        assert hidden and all(hidden), f"collapsed cells of {path} show their code: {hidden}"

    images = page.evaluate("Array.from(document.images, (i) => [i.src, i.naturalWidth])")
    broken = [src for src, width in images if width == 0]
    assert not broken, f"images not loaded on {path}: {broken}"

    links = page.evaluate(
        "Array.from(document.querySelectorAll('nav.bd-docs-nav a'), (a) => a.href)"
    )
    listed = {urlparse(href).path.lstrip("/").removesuffix(".html") for href in links}
    missing = [p for p in PAGES[1:] if p not in listed]
    assert not missing, f"the sidebar of {path} lacks {missing}"

    source = page.locator("a.btn-download-source-button").evaluate("(a) => a.href")
    download = browser.request.get(source)
    assert download.ok, f"download button of {path} -> {source}: HTTP {download.status}"
    if path.startswith("notebooks/"):
        assert source.endswith(f"{Path(path).name}.ipynb")
        assert json.loads(download.body())["cells"], f"{source} holds no cells"

    assert not browser.outside, f"requests outside the site: {browser.outside}"
    assert not problems, f"{path}: " + "; ".join(problems)
    page.close()
