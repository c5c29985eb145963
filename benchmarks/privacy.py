"""Scoring every weight snapshot of a training: one batched pass against a per-snapshot loop.

The membership attacks need the logits of each snapshot (epochs 20, 40, ..., 120: six)
on every target and shadow example. The straightforward way loads each snapshot into the model and
runs the examples one at a time; ``mgn.privacy.snapshot_logits`` runs each snapshot's
weights through ``torch.func.functional_call`` on batches of examples. A third column maps the
model over all snapshots at once (``stack_module_state`` + ``vmap``), the variant the library does
not use because it is slower on the CPU. All run side by side on the same snapshots and images (MNIST-5k-shaped and CIFAR-10-shaped random tensors,
the MLP and the CNN of ``mgn.vision``); the ratio is printed.

Run: ``python benchmarks/privacy.py [--examples 1000] [--snapshots 6] [--device auto]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from _timing import median_seconds
from torch.func import functional_call, stack_module_state, vmap

from mgn.device import describe_device, resolve_device
from mgn.privacy import snapshot_logits
from mgn.vision import CNN, MLP


@torch.no_grad()
def plain_scores(model, states, images) -> torch.Tensor:
    """Load each snapshot, then score the examples one at a time."""
    rows = []
    for state in states:
        model.load_state_dict(state)
        model.eval()
        rows.append(torch.cat([model(x[None]) for x in images]))
    return torch.stack(rows)


@torch.no_grad()
def vmapped_scores(model, states, images) -> torch.Tensor:
    """All snapshots at once: stacked weights, the model mapped over them with ``vmap``."""
    copies = []
    for state in states:
        copy_ = type(model)(model.image_shape).to(images.device)
        copy_.load_state_dict(state)
        copies.append(copy_.eval())
    params, buffers = stack_module_state(copies)
    base = copies[0]

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    return torch.cat(
        [
            vmap(one, in_dims=(0, 0, None))(params, buffers, images[i : i + 1024])
            for i in range(0, len(images), 1024)
        ],
        dim=1,
    )


def snapshots_of(model, count: int) -> list[dict[str, torch.Tensor]]:
    """``count`` distinct weight sets of ``model``'s architecture (fresh initialisations)."""
    states = []
    for seed in range(count):
        torch.manual_seed(seed)
        states.append(
            {k: v.clone() for k, v in type(model)(model.image_shape).state_dict().items()}
        )
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(
        f"{args.snapshots} snapshots x {args.examples} examples, float32, on "
        f"{describe_device(device)}"
    )
    for shape in ((1, 28, 28), (3, 32, 32)):
        images = torch.randn(args.examples, *shape, device=device)
        for architecture in (MLP, CNN):
            model = architecture(shape).to(device)
            states = snapshots_of(model, args.snapshots)
            start = time.perf_counter()
            plain = plain_scores(model, states, images)
            plain_s = time.perf_counter() - start
            batched = snapshot_logits(model, states, images, device=device)
            batched_s = median_seconds(
                lambda m=model, s=states, x=images: snapshot_logits(m, s, x, device=device),
                repeats=args.repeats,
            )
            vmapped_s = median_seconds(
                lambda m=model, s=states, x=images: vmapped_scores(m, s, x), repeats=args.repeats
            )
            gap = (batched - plain.cpu()).abs().max().item()
            print(
                f"{architecture.__name__:>3} on {shape}: per-snapshot, per-example loop "
                f"{plain_s:7.2f} s   snapshot_logits {batched_s:6.3f} s   ratio "
                f"{plain_s / batched_s:6.1f}x   (vmap over snapshots {vmapped_s:6.3f} s)   "
                f"max |difference| {gap:.1e}"
            )


if __name__ == "__main__":
    main()
