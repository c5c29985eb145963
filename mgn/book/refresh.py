"""A cached execution under a notebook's current prose: new Markdown, the same executed code cells.

When only the Markdown of a chapter changed, its code cells, and so their outputs, are those of the
cached execution. :func:`with_current_markdown` puts the executed code cells (with their outputs
and papermill's ``injected-parameters`` cell where it was) between the current Markdown cells.
"""

from __future__ import annotations

import copy

import nbformat

INJECTED_TAG = "injected-parameters"


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The notebook's own code cells, in order (papermill's injected cell is not one of them)."""
    return [c for c in notebook.cells if c.cell_type == "code" and INJECTED_TAG not in _tags(c)]


def with_current_markdown(
    executed: nbformat.NotebookNode, current: nbformat.NotebookNode
) -> nbformat.NotebookNode:
    """A copy of ``executed`` whose Markdown (and raw) cells are those of ``current``.

    The k-th code cell of ``current`` becomes the k-th executed code cell, outputs included;
    injected cells keep their place after the executed code cell they followed. Raises
    ``ValueError`` when the code cells of ``executed`` and ``current`` differ in number or source.
    """
    ran = code_cells(executed)
    fresh = code_cells(current)
    if [c.source for c in ran] != [c.source for c in fresh]:
        raise ValueError("executed and current must have the same code cells, in the same order")
    injected_after: dict[int, list] = {}
    position = -1
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        if INJECTED_TAG in _tags(cell):
            injected_after.setdefault(position, []).append(cell)
        else:
            position += 1
    cells = list(injected_after.get(-1, []))
    position = -1
    for cell in current.cells:
        if cell.cell_type == "code":
            position += 1
            cells.append(ran[position])
            cells.extend(injected_after.get(position, []))
        else:
            cells.append(cell)
    merged = copy.deepcopy(executed)
    merged.cells = copy.deepcopy(cells)
    return merged
