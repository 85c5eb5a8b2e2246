"""Training throughput of `dreamland train` itself per preset and context, and its model FLOPs
utilisation (MFU).

    python benchmarks/bench_train.py [--presets small,medium,large] [--contexts 10,60] [--batch 256]
                                     [--steps 6] [--threads 2] [--store STORE]
                                     [--allocators auto,system] [--compile] [--json]

Each measurement is a real `dreamland train` process (subprocess, exactly the command a user runs:
the allocator it picks, its data loading, teacher-forced forward + backward + AdamW) for `--steps`
optimizer steps logged one by one; frames/s is the median of the logged steps after the first two
(batch x (K + 1) frames per step, as `train/frames_per_s` counts them). MFU = 6 x parameters x
frames/s / the float32 rate of a large square matmul measured in this run on the same threads.

Baselines printed beside each row: `--allocators auto,system` runs every configuration with the
automatic allocator choice (tcmalloc on CPU when installed) and with glibc's malloc, and prints
the ratio; the issue's pure-PyTorch reference on this class of machine (batch 256, float32, with
tcmalloc and torch.compile) is small 10k / 15k frames/s at K = 10 / 60 and large 1.6k / 2.3k
(33% / 49% MFU). The store defaults to one packed from ../shared/replays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = {("small", 10): 10_000, ("small", 60): 15_000, ("large", 10): 1_600, ("large", 60): 2_300}


def matmul_flops(threads: int, n: int = 2048, repeat: int = 5) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - t0)


def train_run(store: Path, preset: str, k: int, batch: int, steps: int, threads: int, allocator: str,
              compile_: bool, run_dir: Path) -> dict:
    cmd = [sys.executable, "-m", "dreamland.cli", "train", "--store", str(store), "--preset", preset,
           "--context", str(k), "--run-dir", str(run_dir), "--max-steps", str(steps), "-q", "--json",
           f"data.batch_size={batch}", f"run.threads={threads}", f"run.allocator={allocator}",
           f"run.compile={'true' if compile_ else 'false'}", "run.device=cpu", "log.every=1",
           "log.tensorboard=false", "validation.every=0", "validation.rollout_starts=0",
           "validation.batches=1", f"checkpoint.every={steps * 10}", "optim.warmup_steps=1"]
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "DREAMLAND_ALLOCATOR_RELAUNCHED")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"dreamland train failed ({preset}, K={k}): {proc.stderr.strip().splitlines()[-1:]}")
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    fps = [x["train/frames_per_s"] for x in lines if "train/frames_per_s" in x][2:]
    info = json.loads((run_dir / "run.json").read_text())
    return {"frames_per_s": statistics.median(fps), "params": info["parameters"],
            "allocator": info.get("allocator", "?")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="small,medium,large")
    parser.add_argument("--contexts", default="10,60")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run (the first 2 are not timed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--allocators", default="auto", help="comma list of run.allocator values to compare")
    parser.add_argument("--compile", action="store_true", help="run.compile=true (torch.compile)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    store_path = args.store
    if store_path is None:
        from dreamland.data.store import pack
        from dreamland.replay.ingest import ingest

        ingest([str(ROOT.parent / "shared" / "replays")], Path(tmp.name) / "ds")
        pack(Path(tmp.name) / "ds", Path(tmp.name) / "store")
        store_path = Path(tmp.name) / "store"
    peak = matmul_flops(args.threads)
    allocators = args.allocators.split(",")
    rows = []
    for name in args.presets.split(","):
        for k in (int(x) for x in args.contexts.split(",")):
            row = {"preset": name, "context": k}
            for alloc in allocators:
                r = train_run(store_path, name, k, args.batch, args.steps, args.threads, alloc, args.compile,
                              Path(tmp.name) / f"{name}-{k}-{alloc}")
                row["params"] = r["params"]
                row[alloc] = {"frames_per_s": r["frames_per_s"], "allocator": r["allocator"],
                              "mfu": 6 * r["params"] * r["frames_per_s"] / peak}
            rows.append(row)
    tmp.cleanup()
    report = {"threads": args.threads, "batch": args.batch, "compile": args.compile,
              "matmul_gflops": peak / 1e9, "runs": rows, "device": "cpu"}
    if args.json:
        print(json.dumps(report))
        return
    print(f"float32 matmul: {peak / 1e9:.1f} GFLOP/s on {args.threads} threads; batch {args.batch}; "
          f"torch.compile {'on' if args.compile else 'off'}")
    head = "".join(f"{a + ': frames/s':>24}{'MFU':>7}" for a in allocators)
    ratio = f"{allocators[0] + '/' + allocators[1]:>14}" if len(allocators) > 1 else ""
    print(f"{'preset':<8}{'K':>4}{'params':>12}{head}{ratio}{'reference':>11}")
    for r in rows:
        cells = "".join(f"{r[a]['frames_per_s']:>13.0f} ({r[a]['allocator']:<8}){r[a]['mfu'] * 100:>6.1f}%"
                        for a in allocators)
        rat = (f"{r[allocators[0]]['frames_per_s'] / r[allocators[1]]['frames_per_s']:>13.2f}x"
               if len(allocators) > 1 else "")
        ref = REFERENCE.get((r["preset"], r["context"]))
        print(f"{r['preset']:<8}{r['context']:>4}{r['params']:>12,}{cells}{rat}{ref or '':>11}")


if __name__ == "__main__":
    main()
