import pytest
import torch

from mgn.checkpoint import fingerprint, load_state, save_state


def test_fingerprint_changes_with_any_input():
    tensors = {"X": torch.arange(6.0).reshape(2, 3), "y": torch.ones(2)}
    settings = {"lr": 0.1, "kappas": [0.0, 0.2]}
    key = fingerprint(settings, tensors)
    assert key == fingerprint(dict(settings), {name: t.clone() for name, t in tensors.items()})
    assert key != fingerprint({**settings, "lr": 0.2}, tensors)
    assert key != fingerprint(settings, {**tensors, "y": torch.tensor([1.0, 1.0 + 1e-7])})
    assert key != fingerprint(settings, {**tensors, "y": torch.ones(2, dtype=torch.float64)})
    assert key != fingerprint(settings, {**tensors, "X": tensors["X"].reshape(3, 2)})


def test_save_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "deeper" / "state.pt"
    state = {"fingerprint": "abc", "step": 7, "W": torch.randn(3, 2)}
    save_state(path, state)
    save_state(path, {**state, "step": 8})
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]
    loaded = load_state(path, "abc")
    assert loaded["step"] == 8 and torch.equal(loaded["W"], state["W"])


def test_missing_file_gives_none_and_wrong_sweep_is_refused(tmp_path):
    path = tmp_path / "state.pt"
    assert load_state(path, "abc") is None
    save_state(path, {"fingerprint": "abc", "step": 1})
    with pytest.raises(ValueError, match="checkpoint .* different sweep"):
        load_state(path, "xyz")
