"""The order a reader meets a chapter in: introduction, one line of settings, then the mathematics.

An executed notebook opens with two code cells of parameters: its own (tagged ``parameters``, the
paper's settings) and papermill's ``injected-parameters`` (the mode's overrides). For the book, the
first is collapsed (``hide-cell``: a toggle the reader may open), the second removed, and one short
"settings of this run" note, generated from the injected values, follows the introduction.
"""

from __future__ import annotations

import nbformat

#: Tag of the generated settings note (tests find it by this tag).
SETTINGS_TAG = "run-settings"
COLLAPSED = {"parameters": "hide-cell", "injected-parameters": "remove-cell"}


def _tag(cell: nbformat.NotebookNode, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def settings_note(parameters: dict) -> str:
    """MyST markdown of the note: the mode and every injected parameter (``name = value``)."""
    if "mode" not in parameters:
        raise ValueError(f"parameters must include the run's 'mode', got {sorted(parameters)}")
    overrides = {k: v for k, v in parameters.items() if k != "mode"}
    if overrides:
        listed = ", ".join(f"`{name} = {value!r}`" for name, value in sorted(overrides.items()))
        body = (
            f"Mode `{parameters['mode']}`, with {listed}; every other parameter keeps the default "
            "of the collapsed parameters cell below (the paper's settings)."
        )
    else:
        body = (
            f"Mode `{parameters['mode']}`: every parameter keeps the default of the collapsed "
            "parameters cell below (the paper's settings)."
        )
    return f":::{{admonition}} Settings of this run\n:class: note\n{body}\n:::"


def arrange_for_reading(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Collapse the parameter cells of an executed ``notebook`` and add the settings note.

    The note goes after the introduction (the markdown cells before the first code cell). The
    notebook is changed in place and returned.
    """
    injected = notebook.metadata.get("papermill", {}).get("parameters")
    if injected is None:
        raise ValueError("notebook has no papermill parameters: was it executed by the runner?")
    if any(SETTINGS_TAG in c.metadata.get("tags", []) for c in notebook.cells):
        raise ValueError("notebook already carries a settings note")
    for cell in notebook.cells:
        for role, tag in COLLAPSED.items():
            if role in cell.metadata.get("tags", []):
                _tag(cell, tag)
    first_code = next(
        (i for i, c in enumerate(notebook.cells) if c.cell_type == "code"), len(notebook.cells)
    )
    note = nbformat.v4.new_markdown_cell(settings_note(injected), metadata={"tags": [SETTINGS_TAG]})
    notebook.cells.insert(first_code, note)
    return notebook
