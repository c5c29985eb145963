import subprocess
import sys

import pytest
import torch

from mgn.device import (
    autocast,
    describe_device,
    native_bfloat16,
    resolve_device,
    resolve_precision,
)


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert describe_device("cpu").startswith("CPU")


def test_bad_device_is_named():
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")


def test_precision_names_and_auto():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"
    expected = "bfloat16" if native_bfloat16(cpu) else "float32"
    assert resolve_precision("auto", cpu) == expected
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", cpu)


def test_autocast_multiplies_in_the_asked_dtype_only():
    layer, x = torch.nn.Linear(4, 3), torch.randn(2, 4)
    with autocast(torch.device("cpu"), "bfloat16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "float32"):
        assert layer(x).dtype == torch.float32
    assert layer.weight.dtype == torch.float32


FAULTS = """
import resource, sys, torch
from mgn.device import keep_freed_memory
torch.set_num_threads(1)
if sys.argv[1] == "keep":
    assert keep_freed_memory()
faults = []
for _ in range(12):  # as a training step: 4 buffers of 40 MiB allocated, written, then freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffers = [torch.ones(10 * 2**20) for _ in range(4)]
    del buffers
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[8:]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_kept_memory_is_reused_without_page_faults():
    def faults(mode):
        out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    # blocks over 32 MiB get a fresh mapping from glibc by default: each round faults in 160 MiB,
    # 40,960 pages of 4 KiB (fewer with huge pages). Kept, the heap settles after three to five
    # rounds (how many varies with the address layout); the last four of twelve reuse its pages
    assert faults("default") > 10_000
    assert faults("keep") < 1_000
