"""Checkpoints of a long training sweep: atomic writes, and a fingerprint that refuses a wrong resume.

A checkpoint is one ``torch.save`` file holding the state of every run of a sweep after some
number of finished steps (weights, the records so far, the state of the random generator) and a
fingerprint of the sweep's inputs and settings. :func:`load_state` returns that state only when
the fingerprint matches, so a changed sweep never silently continues from another one's state.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch


def fingerprint(settings: dict, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the JSON of ``settings`` and of the bytes, dtypes and shapes of ``tensors``."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_state(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` (tensors are moved to the CPU) to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu_state = {
        key: value.detach().to("cpu") if isinstance(value, torch.Tensor) else value
        for key, value in state.items()
    }
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        torch.save(cpu_state, tmp)
    os.replace(tmp.name, path)


def load_state(path: str | os.PathLike, expected_fingerprint: str) -> dict | None:
    """The state saved at ``path``, ``None`` when there is no file yet.

    Raises ``ValueError`` naming ``checkpoint`` when the file belongs to another sweep (its
    fingerprint differs from ``expected_fingerprint``).
    """
    path = Path(path)
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != expected_fingerprint:
        raise ValueError(
            f"checkpoint {str(path)!r} was written by a different sweep (other data, initial "
            "weights or settings); remove it or pass another checkpoint path"
        )
    return state
