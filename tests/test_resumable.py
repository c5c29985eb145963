"""The one training loop: resume where a checkpoint left off, save by time, refuse another run's file."""

import pytest
import torch

from mgn.resumable import run_resumable
from mgn.seeds import derived_seed, global_generator_seeded, stream


class Counter:
    """Work whose state is the list of iterations it ran and a generator's draws."""

    def __init__(self):
        self.ran, self.generator = [], torch.Generator().manual_seed(0)
        self.draws = []

    def advance(self, k):
        self.ran.append(k)
        self.draws.append(float(torch.rand(1, generator=self.generator)))

    def state(self):
        return {"ran": list(self.ran), "draws": self.draws, "g": self.generator.get_state()}

    def restore(self, state):
        self.ran, self.draws = list(state["ran"]), list(state["draws"])
        self.generator.set_state(state["g"])


def run(work, total, path, every=0.0, settings=None):
    run_resumable(
        work,
        total,
        settings=settings or {"total": total},
        tensors={"x": torch.arange(3.0)},
        checkpoint=path,
        checkpoint_every=every,
        show_progress=False,
        desc="test",
    )


def test_resume_continues_exactly(tmp_path, monkeypatch, interrupt_after_first_save):
    whole = Counter()
    run(whole, 5, None)
    path = tmp_path / "state.pt"
    first = Counter()
    with pytest.raises(KeyboardInterrupt):
        run(first, 5, path)
    assert interrupt_after_first_save == [1] and first.ran == [0]
    monkeypatch.undo()
    resumed = Counter()
    run(resumed, 5, path)
    assert resumed.ran == [0, 1, 2, 3, 4] and resumed.draws == whole.draws
    again = Counter()
    run(again, 5, path)  # finished: nothing left to run, the state comes back whole
    assert again.ran == whole.ran


def test_saves_by_time_and_always_after_the_last_iteration(tmp_path, monkeypatch):
    import mgn.resumable

    saved = []
    monkeypatch.setattr(
        mgn.resumable, "save_state", lambda path, state: saved.append(state["done"])
    )
    run(Counter(), 4, tmp_path / "a.pt", every=3600.0)
    assert saved == [4]
    saved.clear()
    run(Counter(), 4, tmp_path / "b.pt", every=0.0)
    assert saved == [1, 2, 3, 4]


def test_refuses_a_checkpoint_of_other_settings(tmp_path):
    path = tmp_path / "state.pt"
    run(Counter(), 2, path)
    with pytest.raises(ValueError, match="checkpoint .* different sweep"):
        run(Counter(), 2, path, settings={"total": 2, "lr": 0.1})


@pytest.mark.parametrize(("every", "error"), [(-1.0, ValueError), ("soon", TypeError)])
def test_bad_checkpoint_every_is_named(tmp_path, every, error):
    with pytest.raises(error, match="checkpoint_every must be a number of seconds"):
        run(Counter(), 2, tmp_path / "s.pt", every=every)


def test_streams_are_derived_by_seed_sequence():
    import numpy as np

    expected = int(np.random.SeedSequence([7, 2]).generate_state(1, dtype=np.uint64)[0]) >> 1
    assert derived_seed(7, 2) == expected
    assert derived_seed(7, 2) != derived_seed(7, 3) != derived_seed(8, 2)
    a, b = stream(7, 2), stream(7, 2)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        derived_seed(-1)
    with pytest.raises(TypeError, match=r"key\[1\] must be an int >= 0"):
        derived_seed(1, 2, 0.5)


def test_global_generator_is_seeded_inside_and_restored_after():
    torch.manual_seed(123)
    outer_state = torch.get_rng_state()
    with global_generator_seeded(5, torch.device("cpu")):
        inside = torch.rand(3)
        with global_generator_seeded(6):  # nested: its own stream, then back to the outer one
            torch.rand(3)
        after_nested = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), outer_state)
    torch.manual_seed(5)
    assert torch.equal(inside, torch.rand(3)) and torch.equal(after_nested, torch.rand(3))
    outer_state = torch.get_rng_state()
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        with global_generator_seeded(-1):
            pass
    assert torch.equal(torch.get_rng_state(), outer_state)  # a refused seed changes nothing
