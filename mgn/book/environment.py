"""What a chapter's numbers depend on outside its notebook: interpreter, PyTorch, device, pins.

PyTorch is asked in a child interpreter (:func:`probe_device`), so that the runner itself never
imports it: ``import mgn.book`` stays light, and the answer is the one a notebook's kernel, started
from the same interpreter, gets.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

#: Environment variables that a chapter reads and that change its numbers (chapter 7's images).
RESULT_VARIABLES = ("MGN_CIFAR10",)
#: The files that pin the installed environment, relative to the repository root.
PIN_FILES = ("pyproject.toml", "constraints.txt")

# Run by the child interpreter: the package that holds this runner, then PyTorch and its device.
_PROBE = """
import json
import torch
from mgn.device import describe_device

cuda = torch.cuda.is_available()
print(json.dumps({
    "torch": torch.__version__,
    "device_kind": f"cuda {torch.cuda.get_device_name(0)}" if cuda else "cpu",
    "device": describe_device("auto"),
}))
"""


@functools.cache
def probe_device() -> dict[str, str]:
    """``torch`` (version), ``device_kind`` (``"cpu"`` or ``"cuda <GPU name>"``) and ``device`` (the
    reproducibility page's one-line description), asked once per process of a child interpreter."""
    package_parent = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True, text=True, check=True, cwd=package_parent,
    )  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


def file_digest(paths: list[Path], relative_to: Path) -> str:
    """sha256 over the names (relative to ``relative_to``) and bytes of ``paths``; a missing file
    counts as absent, so that creating it changes the digest."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(relative_to).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
        digest.update(b"\0")
    return digest.hexdigest()


def environment_parts(root: Path) -> dict:
    """The parts of every chapter's cache key that describe the environment, for the repository at
    ``root``: Python, PyTorch and device kind, a digest of the pin files, and the values of
    :data:`RESULT_VARIABLES` (``None`` when unset)."""
    device = probe_device()
    return {
        "python": platform.python_version(),
        "torch": device["torch"],
        "device": device["device_kind"],
        "pins": file_digest([root / name for name in PIN_FILES], root),
        "variables": {name: os.environ.get(name) for name in RESULT_VARIABLES},
    }
