"""One epoch of masked training (Figure 4): the plain PyTorch loop vs ``mgn.vision.train_classifier``.

The plain way: a ``Dataset`` whose ``__getitem__`` masks (and, on CIFAR-shaped images, crops and
flips) one image at a time, a ``DataLoader`` (shuffle, batch 128, no workers), one model, Adam, in
float32, then the clean evaluation of the train and test sets that our trainer records, the
textbook way (``torch.no_grad``, a ``DataLoader`` with batches of 1,000). Ours: the data on the
device, shuffling, augmentation and masking as batched tensor operations, in float32 and in the
trainer's default precision (bfloat16 mixed precision where the device computes it natively). Same
model, same data, side by side in one run; the ratios and the clean test accuracies after the epoch
are printed (targets: 3x on the CPU, 10x on a GPU). Data: the MNIST-5k fallback (1,250 training
images, as the chapter) and CIFAR-10-shaped random tensors; the paper's MLP (4096 hidden units) and
CNN, and on MNIST-5k the 512-unit MLP of the book's CPU setting. Then the kappa sweep of the MLP:
one model after another vs all models as one ``torch.func`` program (``stack_module_state`` +
``vmap``).

Run: ``python benchmarks/vision_train.py [--device auto] [--cifar-n 2048] [--threads 1]
[--repeats 3]``.
"""

from __future__ import annotations

import argparse
import copy
import functools
import time

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils.data import DataLoader, Dataset, TensorDataset

from mgn.device import describe_device, resolve_device, resolve_precision
from mgn.vision import CNN, MLP, membership_split, resolve_images, train_classifier
from mgn.vision.trainer import mask_batch

KAPPA, BATCH, LR, WD = 0.5, 128, 1e-3, 1e-5
SWEEP = (0.0, 0.2, 0.5, 0.7, 1.0, 1.25, 1.8)


class MaskedImages(Dataset):
    """Per-sample masking (and crop + flip when ``augment``), the textbook way."""

    def __init__(self, images, labels, kappa, augment):
        self.images, self.labels, self.kappa, self.augment = images, labels, kappa, augment

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = self.images[i]
        if self.augment:
            padded = nn.functional.pad(x, (4, 4, 4, 4))
            r, c = torch.randint(0, 9, (2,)).tolist()
            x = padded[:, r : r + x.shape[1], c : c + x.shape[2]]
            if torch.rand(()) < 0.5:
                x = x.flip(2)
        return x * (1 + self.kappa * torch.randn_like(x)), self.labels[i]


def plain_epoch(model, train, test, augment, device):
    model = copy.deepcopy(model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
    loader = DataLoader(
        MaskedImages(train.images, train.labels, KAPPA, augment), batch_size=BATCH, shuffle=True
    )
    model.train()
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    plain_accuracy(model, train, device)  # the train-set accuracy our trainer records too
    return plain_accuracy(model, test, device)


@torch.no_grad()
def plain_accuracy(model, group, device):
    """Clean accuracy, the textbook way: eval mode, a DataLoader with batches of 1,000."""
    model.eval()
    correct = 0
    for x, y in DataLoader(TensorDataset(group.images, group.labels), batch_size=1000):
        correct += int((model(x.to(device)).argmax(1) == y.to(device)).sum())
    return correct / len(group.labels)


def ours_epoch(model, train, test, augment, device, precision):
    result = train_classifier(
        model,
        train,
        test,
        KAPPA,
        1,
        augment=augment,
        device=device,
        precision=precision,
        show_progress=False,
    )
    return result.test_accuracy[0]


def vmap_sweep_epoch(make_model, train, device, kappas=SWEEP):
    """All models of a kappa sweep as one program: stacked weights, one batch, a mask per model."""
    models = [make_model().to(device) for _ in kappas]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    opt = torch.optim.Adam(list(params.values()), lr=LR, weight_decay=WD)
    kappa = torch.tensor(kappas, device=device)[:, None, None, None, None]
    images, labels = train.images.to(device), train.labels.to(device)
    generator = torch.Generator(device=device).manual_seed(0)

    def logits(p, b, x):
        return functional_call(base, (p, b), (x,))

    batched = vmap(logits, randomness="different")
    order = torch.randperm(len(labels), generator=generator, device=device)
    for start in range(0, len(labels), BATCH):
        index = order[start : start + BATCH]
        x = images[index].expand(len(kappas), *images[index].shape)
        noise = torch.randn(x.shape, generator=generator, device=device)
        out = batched(params, buffers, x * (1 + kappa * noise))
        loss = nn.functional.cross_entropy(out.flatten(0, 1), labels[index].repeat(len(kappas)))
        opt.zero_grad()
        (loss * len(kappas)).backward()
        opt.step()


def loop_sweep_epoch(make_model, train, device, kappas=SWEEP):
    """The same sweep, one model after another (no evaluation, as :func:`vmap_sweep_epoch`)."""
    images, labels = train.images.to(device), train.labels.to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    for k in kappas:
        model = make_model().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WD)
        order = torch.randperm(len(labels), generator=generator, device=device)
        for start in range(0, len(labels), BATCH):
            index = order[start : start + BATCH]
            out = model(mask_batch(images[index], k, generator))
            loss = nn.functional.cross_entropy(out, labels[index])
            opt.zero_grad()
            loss.backward()
            opt.step()


def timed(device, repeats, fn, *args):
    """``fn(*args)`` run ``repeats`` times: the last output, the fewest wall and CPU seconds."""
    walls, cpus = [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return out, min(walls), min(cpus)


def cifar_shaped(n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (4 * n, 3, 32, 32), generator=generator, dtype=torch.uint8)
    labels = torch.randint(0, 10, (4 * n,), generator=generator)
    return membership_split(images, labels, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cifar-n", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    fast = resolve_precision("auto", device)
    print(
        f"One epoch of masked training (kappa = {KAPPA}, batch {BATCH}, Adam) on "
        f"{describe_device(device)},\nbest of {args.repeats} runs in wall seconds; ratio = plain / "
        f"ours; clean test accuracy after the epoch\n(plain / ours float32 / ours {fast}); 'kept "
        "memory': the plain loop again after our trainer\nset keep_freed_memory for the process\n"
    )
    mnist = resolve_images("mnist5k")
    sets = {
        "MNIST-5k (1x28x28, 1,250 train)": (
            membership_split(mnist.images, mnist.labels, 1250),
            False,
        ),
        f"CIFAR-shaped random (3x32x32, {args.cifar_n:,} train)": (
            cifar_shaped(args.cifar_n),
            True,
        ),
    }
    cases = []
    for name, (split, augment) in sets.items():
        shape = tuple(split.target_train.images.shape[1:])
        models = {"MLP 4096": MLP(shape), "CNN": CNN(shape)}
        if shape[0] == 1:  # the MLP that the book's CPU setting trains on MNIST-5k
            models["MLP 512"] = MLP(shape, hidden=512)
        for model_name, model in models.items():
            group = (split.target_train, split.target_test, augment)
            cases.append((f"{name} {model_name}", model, *group))
    # The plain loops first, under glibc's default allocator; our trainer then changes it for the
    # whole process (keep_freed_memory), and the plain loop is timed again under the same setting.
    plain = [timed(device, args.repeats, plain_epoch, *case[1:], device) for case in cases]
    for (name, *case), (plain_acc, plain_s, _) in zip(cases, plain, strict=True):
        fp32_acc, fp32_s, _ = timed(device, args.repeats, ours_epoch, *case, device, "float32")
        fast_acc, fast_s, _ = timed(device, args.repeats, ours_epoch, *case, device, fast)
        _, tuned_s, _ = timed(device, args.repeats, plain_epoch, *case, device)
        print(
            f"{name}\n  plain {plain_s:6.2f} s (kept memory {tuned_s:6.2f} s) | ours float32 "
            f"{fp32_s:6.2f} s {plain_s / fp32_s:4.1f}x | ours {fast} {fast_s:6.2f} s "
            f"{plain_s / fast_s:4.1f}x | accuracy {plain_acc:.3f} / {fp32_acc:.3f} / {fast_acc:.3f}"
        )
    train = sets["MNIST-5k (1x28x28, 1,250 train)"][0].target_train
    print(f"\nkappa sweep of {len(SWEEP)} MLPs on MNIST-5k, one epoch each (training only):")
    for hidden in (512, 4096):
        make = functools.partial(MLP, (1, 28, 28), hidden=hidden)
        _, loop_s, loop_cpu = timed(device, args.repeats, loop_sweep_epoch, make, train, device)
        _, vmap_s, vmap_cpu = timed(device, args.repeats, vmap_sweep_epoch, make, train, device)
        print(
            f"  hidden {hidden:5d}: one after another {loop_s:6.2f} s (cpu {loop_cpu:6.2f})  "
            f"vmap {vmap_s:6.2f} s (cpu {vmap_cpu:6.2f})  ratio {loop_s / vmap_s:4.2f}x"
        )


if __name__ == "__main__":
    main()
