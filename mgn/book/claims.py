"""The generated part of the claims ledger (``book/claims.md``), from the notebooks' results files.

Each results file (:meth:`mgn.records.Results.to_json`) holds the run's verdicts on the paper's
claims, its checks (claim, measured, tolerance, passed) and its identities (equalities that hold by
algebra). The ledger shows every claim in one table, then each chapter's checks, with its
identities listed apart: they hold by construction and are not evidence.
"""

from __future__ import annotations

import json

from mgn.book.layout import Layout
from mgn.records import VERDICTS


def _cell(text: object) -> str:
    """Text made safe for one cell of a Markdown table."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _name(name: str) -> str:
    """A record's name as inline code (names are identifiers, not prose)."""
    return f"`{_cell(name)}`"


def _number(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.4g}"


def chapter_link(stem: str, text: str | None = None) -> str:
    """A MyST link from a page in ``book/`` to the chapter ``stem``, shown as ``text`` or its title."""
    target = f"../notebooks/{stem}"
    return f"{{doc}}`{text} <{target}>`" if text else f"{{doc}}`{target}`"


def load_results(layout: Layout, stems: list[str]) -> dict[str, dict]:
    """The results of each chapter in ``stems`` that has a results file, in reading order."""
    found = {}
    for stem in stems:
        path = layout.results / f"{stem}.json"
        if path.is_file():
            found[stem] = json.loads(path.read_text())
    return found


def _claims_table(results: dict[str, dict]) -> list[str]:
    rows = [(stem, c) for stem, result in results.items() for c in result.get("claims", [])]
    if not rows:
        return ["No chapter of this build records a verdict on a claim yet.", ""]
    counts = {v: sum(c["verdict"] == v for _, c in rows) for v in VERDICTS}
    summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    lines = [
        f"{len(rows)} claims: {summary}.",
        "",
        "| the paper says | chapter | measured | verdict |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(c['paper'])} ({_name(c['name'])}) | {chapter_link(stem)} "
        f"| {_cell(c['measured'])} | **{c['verdict']}** |"
        for stem, c in rows
    ]
    return lines + [""]


def _chapter_section(stem: str, result: dict) -> list[str]:
    checks, identities = result.get("checks", []), result.get("identities", [])
    passed = sum(c["passed"] for c in checks)
    lines = [f"### {stem}", "", f"Chapter: {chapter_link(stem)}.", ""]
    if checks:
        lines += [
            f"{passed} of {len(checks)} checks passed.",
            "",
            "| claim (check) | measured | tolerance | passed |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(c['claim'])} ({_name(c['name'])}) | {_number(c['measured'])} "
            f"| {_number(c['tolerance'])} | {'yes' if c['passed'] else '**no**'} |"
            for c in checks
        ]
    else:
        lines.append("This chapter records no check.")
    lines.append("")
    if identities:
        lines += [
            "Hold by construction (identities of algebra, shown with their floating-point "
            "deviation, not counted as checks):",
            "",
            "| statement (identity) | deviation |",
            "|---|---|",
        ]
        lines += [
            f"| {_cell(i['statement'])} ({_name(i['name'])}) | {_number(i['deviation'])} |"
            for i in identities
        ]
        lines.append("")
    return lines


def claims_section(layout: Layout, stems: list[str]) -> str:
    """Markdown of the ledger for the chapters ``stems`` of ``layout.mode`` (reading order)."""
    results = load_results(layout, stems)
    lines = ["## Every claim", "", f"From the `{layout.mode}` run of this build.", ""]
    lines += _claims_table(results)
    lines += ["## Checks by chapter", ""]
    if not results:
        lines += ["No chapter of this build has recorded results.", ""]
    for stem, result in results.items():
        lines += _chapter_section(stem, result)
    return "\n".join(lines)
