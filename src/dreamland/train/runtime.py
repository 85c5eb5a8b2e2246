"""Where a run executes: device, precision, threads, and torchrun's process group.

The same command runs on a laptop CPU, one GPU, or several GPUs and nodes under torchrun: the
environment variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK) choose DDP; NCCL on GPUs, gloo
on CPUs. Only rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from dreamland.config import ConfigError


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    autocast_dtype: torch.dtype | None = None  # bf16 on CUDA unless turned off

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_mean(self, value: float) -> float:
        if not self.distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


# tcmalloc makes CPU training much faster than glibc's malloc at large batches (benchmarks/
# bench_train.py, figures in docs/training.md: PyTorch frees and reallocates the same large activation buffers every step;
# glibc hands them back to the kernel and page-faults them in again). It must be loaded before
# anything allocates, hence LD_PRELOAD and a re-exec.
TCMALLOC = "libtcmalloc_minimal.so.4"
_TCMALLOC_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                  "/usr/local/lib")
_RELAUNCHED = "DREAMLAND_ALLOCATOR_RELAUNCHED"


def find_tcmalloc() -> str | None:
    for d in _TCMALLOC_DIRS:
        path = Path(d) / TCMALLOC
        if path.is_file():
            return str(path)
    return None


def allocator() -> str:
    """The allocator this process runs with: "tcmalloc" when it is preloaded, else "system"."""
    return "tcmalloc" if "tcmalloc" in os.environ.get("LD_PRELOAD", "") else "system"


def relaunch_with_allocator(choice: str, device: str) -> None:
    """Re-exec this command with tcmalloc preloaded when `choice` asks for it ("tcmalloc") or
    `choice` is "auto" and training runs on the CPU (on GPUs the host allocator hardly matters).
    Returns when nothing needs to change; ConfigError when "tcmalloc" is not installed."""
    if choice == "system" or allocator() == "tcmalloc" or os.environ.get(_RELAUNCHED):
        return
    if choice == "auto" and (device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())):
        return
    lib = find_tcmalloc()
    if lib is None:
        if choice == "tcmalloc":
            raise ConfigError(f"run.allocator=tcmalloc but {TCMALLOC} is not installed "
                               "(Debian/Ubuntu: apt-get install libtcmalloc-minimal4)")
        return
    env = dict(os.environ, **{_RELAUNCHED: "1"})
    env["LD_PRELOAD"] = ":".join(p for p in (lib, os.environ.get("LD_PRELOAD", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, list(sys.orig_argv), env)


def setup(device: str = "auto", threads: int = 0, amp: str = "auto") -> Runtime:
    """Pick the device and, under torchrun, join the process group."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("run.device=cuda but no CUDA device is available")
        if world_size > 1:
            device = f"cuda:{local_rank}"
        torch.cuda.set_device(torch.device(device))
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if threads > 0:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    autocast = torch.bfloat16 if (amp == "bf16" or (amp == "auto" and dev.type == "cuda")) else None
    if autocast is not None and dev.type == "cpu" and amp == "auto":
        autocast = None  # bf16 is slower than float32 on CPUs without AMX
    return Runtime(dev, rank, world_size, local_rank, autocast)
