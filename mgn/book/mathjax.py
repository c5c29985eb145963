"""MathJax 3 served with the book, so that its equations render with no network.

Sphinx loads MathJax from a CDN by default. The pinned install brings MathJax 3's browser bundle
(``es5/``) from the PyPI package ``django-static-mathjax``; the build copies that folder to the
site's ``_vendor/mathjax/``, which ``_config.yml`` names in ``html_static_path`` (Sphinx copies it to
``_static/mathjax/``) and in ``mathjax_path``. Not ``_static/`` itself: Jupyter Book adds every
script found under a book's ``_static/`` to every page.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

#: The bundle the pages load (TeX and MathML in, HTML-CSS out), relative to ``_static/``.
ENTRY = "mathjax/tex-mml-chtml.js"
#: The site's folder of static files that Sphinx copies into ``_static/`` (see ``_config.yml``).
STATIC = "_vendor"


def mathjax_bundle() -> Path:
    """The installed ``es5/`` folder of MathJax 3 (the package ``django-static-mathjax``)."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "MathJax is not installed: `pip install -c constraints.txt -e .[book]` "
            "brings it (package django-static-mathjax)"
        )
    bundle = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (bundle / Path(ENTRY).name).is_file():
        raise FileNotFoundError(f"no MathJax 3 bundle {Path(ENTRY).name} in {bundle}")
    return bundle


def install_mathjax(site: Path) -> Path:
    """Copy MathJax into ``site/_vendor/mathjax``; return the entry script's path."""
    target = site / STATIC / Path(ENTRY).parent
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(mathjax_bundle(), target, ignore=shutil.ignore_patterns("node-main.js"))
    return site / STATIC / ENTRY
