"""Local SGD (chapter 6): the simulation's facts, and the torch.distributed run against it.

The multi-process tests use gloo on loopback only: workers launched directly with a fresh free
port (``env://``), or ``torchrun --standalone`` (which picks its own port); each is bounded by a
timeout and checks that a failure ends with a clear error instead of a hang.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import mgn
from mgn import init_network, sphere_teacher_data, train_masked_gd
from mgn.distributed import train_local_sgd
from mgn.distributed.local_sgd import shard_indices
from mgn.distributed.theory import expected_local_gd
from mgn.masked_gradient import clean_gradient
from mgn.seeds import derived_seed

F64 = torch.float64
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def problem(n=30, d=4, m=6, seed=0, dtype=F64):
    X, y = sphere_teacher_data(n, d, seed=seed, dtype=dtype)
    W0, a = init_network(m, d, seed=seed + 1, dtype=dtype)
    return X, y, W0, a


def cli(n, d, m, kappa, lr, rounds, Q, seed, out, *extra):
    return [
        "--samples", str(n), "--dim", str(d), "--width", str(m), "--kappa", str(kappa),
        "--lr", str(lr), "--rounds", str(rounds), "--local-steps", str(Q), "--seed", str(seed),
        "--out", str(out), *extra,
    ]  # fmt: skip


def launch(workers, args, timeout_s, ranks=None):
    """Start ``python -m mgn.distributed`` for ``ranks`` of a group of ``workers`` (env://)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    procs = []
    for rank in range(workers) if ranks is None else ranks:
        env = dict(
            os.environ,
            RANK=str(rank),
            WORLD_SIZE=str(workers),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            OMP_NUM_THREADS="1",
        )
        cmd = [sys.executable, "-m", "mgn.distributed", *args, "--timeout", str(timeout_s)]
        procs.append(subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True))
    return procs


def simulate(n, d, m, kappa, lr, rounds, Q, workers, seed, **kwargs):
    X, y, W0, a = problem(n, d, m, seed)
    return train_local_sgd(
        X, y, W0, a, [kappa], lr, rounds, Q, workers, seed=seed, device="cpu", **kwargs
    )


def test_kappa_zero_one_step_is_gradient_descent_with_step_lr_over_k():
    X, y, W0, a = problem()
    K, lr, rounds = 3, 0.09, 25
    local = train_local_sgd(X, y, W0, a, [0.0], lr, rounds, 1, K, device="cpu")
    gd = train_masked_gd(X, y, W0, a, [0.0], lr / K, rounds, device="cpu")
    torch.testing.assert_close(local.W, gd.W, rtol=0, atol=1e-13)
    torch.testing.assert_close(local.clean_loss, gd.clean_loss, rtol=0, atol=1e-12)
    assert local.clean_loss[0, -1] < 0.5 * local.clean_loss[0, 0]  # it did train
    assert mgn.train_local_sgd is train_local_sgd


def test_more_local_steps_is_not_gradient_descent():
    """Q = 2 must differ from GD with lr/K (local models drift apart): the previous test is not trivial."""
    X, y, W0, a = problem()
    local = train_local_sgd(X, y, W0, a, [0.0], 0.09, 10, 2, 3, device="cpu")
    gd = train_masked_gd(X, y, W0, a, [0.0], 0.09 * 2 / 3, 10, device="cpu")
    assert (local.W - gd.W).abs().max() > 1e-8


def test_runs_do_not_depend_on_their_batch_and_shards_are_uneven():
    X, y, W0, a = problem(n=31)
    assert [len(s) for s in shard_indices(31, 3)] == [11, 10, 10]
    both = train_local_sgd(X, y, W0, a, [0.0, 0.7], 0.05, 6, 3, 3, seed=4, device="cpu")
    alone = train_local_sgd(X, y, W0, a, [0.7], 0.05, 6, 3, 3, seed=4, device="cpu")
    assert torch.equal(both.W[1], alone.W[0])
    sweep = train_local_sgd(X, y, W0[None].repeat(2, 1, 1), a, [0.7], 0.05, 6, 3, 3, seed=4)
    assert sweep.replicate_seeds == (derived_seed(4, 0), derived_seed(4, 1))
    first = train_local_sgd(X, y, W0, a, [0.7], 0.05, 6, 3, 3, seed=derived_seed(4, 0))
    assert torch.equal(sweep.W[0, 0], first.W[0])
    assert not torch.equal(sweep.W[0, 1], first.W[0])  # another replicate seed, other masks
    assert both.bytes_per_worker == 6 * W0.numel() * 8


def test_split_by_output_gives_each_worker_a_band_of_targets():
    X, y, W0, a = problem(n=31)
    iid = shard_indices(31, 3)
    assert torch.equal(torch.cat(iid), torch.arange(31))
    assert all(torch.equal(s, t) for s, t in zip(shard_indices(31, 3, "iid", y), iid, strict=True))
    bands = shard_indices(31, 3, "by_output", y)
    assert [len(s) for s in bands] == [11, 10, 10]
    assert torch.equal(torch.sort(torch.cat(bands)).values, torch.arange(31))  # a partition
    assert all(torch.equal(s, torch.sort(s).values) for s in bands)  # ascending within a shard
    assert y[bands[0]].max() <= y[bands[1]].min() and y[bands[1]].max() <= y[bands[2]].min()
    # the simulation and the closed-form prediction take the same shards
    run = train_local_sgd(X, y, W0, a, [0.0], 0.05, 2, 3, 3, split="by_output", device="cpu")
    assert run.split == "by_output"
    manual = []
    for rows in bands:
        W = W0.clone()
        for _ in range(3):
            W = W - 0.05 * clean_gradient(W, a, X[rows], y[rows])
        manual.append(W)
    first_round = train_local_sgd(X, y, W0, a, [0.0], 0.05, 1, 3, 3, split="by_output")
    torch.testing.assert_close(first_round.W[0], torch.stack(manual).mean(0), rtol=0, atol=1e-12)
    _, history = expected_local_gd(X, y, W0, a, 0.0, 0.05, 2, 3, 3, split="by_output")
    torch.testing.assert_close(history[-1], run.W[0], rtol=0, atol=1e-12)
    iid_run = train_local_sgd(X, y, W0, a, [0.0], 0.05, 2, 3, 3, device="cpu")
    assert (iid_run.W - run.W).abs().max() > 1e-6  # other shards, another run


@pytest.mark.parametrize(
    ("arguments", "name"),
    [((31, 3, "random"), "split"), ((31, 3, "by_output"), "targets"),
     ((31, 3, "by_output", torch.zeros(30)), "shape")],
)  # fmt: skip
def test_bad_splits_are_named(arguments, name):
    with pytest.raises(ValueError, match=name):
        shard_indices(*arguments)


def test_checkpoint_resume_is_bit_identical(tmp_path, monkeypatch, interrupt_after_first_save):
    X, y, W0, a = problem()
    kwargs = dict(batch_size=5, kappa_up=0.3, seed=1, device="cpu")
    whole = train_local_sgd(X, y, W0, a, [0.5], 0.05, 6, 2, 3, **kwargs)
    path = tmp_path / "state.pt"
    with pytest.raises(KeyboardInterrupt):
        train_local_sgd(X, y, W0, a, [0.5], 0.05, 6, 2, 3, **kwargs, checkpoint=path,
                        checkpoint_every=0)  # fmt: skip
    assert interrupt_after_first_save == [1]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="checkpoint"):
        train_local_sgd(X, y, W0, a, [0.5], 0.05, 6, 2, 3, **{**kwargs, "seed": 2}, checkpoint=path)
    resumed = train_local_sgd(X, y, W0, a, [0.5], 0.05, 6, 2, 3, **kwargs, checkpoint=path)
    assert torch.equal(resumed.W, whole.W) and torch.equal(resumed.clean_loss, whole.clean_loss)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("workers", {"workers": 31}),
        ("workers", {"workers": 0}),
        ("local_steps", {"local_steps": 0}),
        ("rounds", {"rounds": 0}),
        ("kappa_up", {"kappa_up": -0.1}),
        ("batch_size", {"batch_size": 11}),
    ],
)
def test_bad_arguments_are_named(name, options):
    X, y, W0, a = problem()
    settings = {"rounds": 2, "local_steps": 1, "workers": 3, **options}
    kappa_up = settings.pop("kappa_up", 0.0)
    batch_size = settings.pop("batch_size", None)
    with pytest.raises((ValueError, TypeError), match=name):
        train_local_sgd(
            X, y, W0, a, [0.1], 0.1, **settings, kappa_up=kappa_up, batch_size=batch_size
        )


@pytest.mark.slow
def test_distributed_run_equals_simulation_three_workers(tmp_path):
    out = tmp_path / "run.json"
    args = cli(31, 4, 6, 0.6, 0.05, 8, 3, 2, out, "--kappa-up", "0.2", "--split", "by_output")
    procs = launch(3, args, timeout_s=30)
    for proc in procs:
        assert proc.wait(timeout=90) == 0, proc.stderr.read()
    record = json.loads(out.read_text())
    sim = simulate(31, 4, 6, 0.6, 0.05, 8, 3, 3, 2, kappa_up=0.2, split="by_output")
    assert record["workers"] == 3
    assert torch.equal(torch.tensor(record["W"], dtype=F64), sim.W[0])  # bit-identical
    assert torch.equal(torch.tensor(record["clean_loss"], dtype=F64), sim.clean_loss[0])


@pytest.mark.slow
def test_torchrun_command_equals_simulation(tmp_path):
    out = tmp_path / "run.json"
    args = cli(24, 3, 5, 0.4, 0.05, 5, 2, 7, out, "--batch-size", "6", "--dtype", "float64")
    cmd = [TORCHRUN, "--standalone", "--nproc-per-node=2", "-m", "mgn.distributed", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    sim = simulate(24, 3, 5, 0.4, 0.05, 5, 2, 2, 7, batch_size=6)
    assert torch.equal(torch.tensor(json.loads(out.read_text())["W"], dtype=F64), sim.W[0])


def test_dying_worker_ends_the_run_with_an_error(tmp_path):
    """Rank 1 is killed after the group formed; rank 0 must exit 1 within 30 s, naming the round."""
    args = cli(200, 10, 50, 0.5, 0.01, 10**6, 1, 0, tmp_path / "never.json")
    rank0, rank1 = launch(2, args, timeout_s=10)
    try:
        for line in rank1.stderr:  # until the group formed (or rank 1 ended: then fail below)
            if "group formed" in line:
                break
        assert rank1.poll() is None, "rank 1 ended before the group formed"
        time.sleep(0.3)
        rank1.kill()
        start = time.monotonic()
        _, err = rank0.communicate(timeout=30)
    finally:
        for proc in (rank0, rank1):
            proc.kill()
    assert rank0.returncode == 1
    assert "all_gather of round" in err and "failed" in err
    assert time.monotonic() - start < 30
    assert not (tmp_path / "never.json").exists()


@pytest.mark.slow
def test_rendezvous_that_cannot_form_ends_with_an_error(tmp_path):
    """Only rank 0 of 2 starts: it must give up after its 2 s timeout (bounded here by 40 s)."""
    (rank0,) = launch(2, cli(20, 3, 4, 0.5, 0.01, 3, 1, 0, tmp_path / "x.json"), 2, ranks=[0])
    _, err = rank0.communicate(timeout=40)
    assert rank0.returncode == 1
    assert "did not form within 2 s" in err


def test_command_line_names_bad_options(tmp_path):
    env = dict(os.environ, RANK="0", WORLD_SIZE="1")
    args = cli(20, 3, 4, 0.5, 0.01, 0, 1, 0, tmp_path / "x.json")
    done = subprocess.run(
        [sys.executable, "-m", "mgn.distributed", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "rounds" in done.stderr


def test_expected_local_gd_is_local_sgd_at_kappa_zero_and_per_shard_otherwise():
    X, y, W0, a = problem(n=20, d=3, m=4)
    losses, history = expected_local_gd(X, y, W0, a, 0.0, 0.05, 4, 3, 3)
    sim = train_local_sgd(X, y, W0, a, [0.0], 0.05, 4, 3, 3, device="cpu")
    torch.testing.assert_close(history[-1], sim.W[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(losses, sim.clean_loss[0].numpy(), rtol=1e-12)
    # kappa > 0, one round of three steps: the mean of the K shards' local GD on E_c[L_k]
    _, history = expected_local_gd(X, y, W0, a, 0.5, 0.05, 1, 3, 3)
    local_models = []
    for rows in shard_indices(20, 3):
        W = W0.clone()
        for _ in range(3):
            W.requires_grad_(True)
            loss = mgn.expected_masked_loss(W, a, X[rows], y[rows], 0.5)
            (grad,) = torch.autograd.grad(loss, W)
            W = (W - 0.05 * grad).detach()
        local_models.append(W)
    torch.testing.assert_close(history[1], torch.stack(local_models).mean(0), rtol=0, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_simulation_on_cuda_matches_the_cpu():
    X, y, W0, a = problem()
    kwargs = dict(batch_size=5, kappa_up=0.3, seed=2)
    cpu = train_local_sgd(X, y, W0, a, [0.0, 0.5], 0.05, 6, 2, 3, device="cpu", **kwargs)
    gpu = train_local_sgd(X, y, W0, a, [0.0, 0.5], 0.05, 6, 2, 3, device="cuda", **kwargs)
    torch.testing.assert_close(gpu.W, cpu.W, rtol=0, atol=1e-10)
