"""Training throughput per preset and context, and model FLOPs utilisation (MFU).

    python benchmarks/bench_train.py [--presets small,medium,large] [--contexts 10,60] [--batch 256]
                                     [--steps 5] [--threads 2] [--store STORE] [--json]

One optimizer step = teacher-forced forward + backward + AdamW, through the same `Objective` that
`dreamland train` runs, on real windows from a store (built from ../shared/replays when --store is
not given). Frames/s counts batch x (K + 1) frames per step. MFU = (6 x parameters x frames/s) /
the float32 matmul rate of a large square matmul measured in the same run on the same threads.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def matmul_flops(threads: int, n: int = 2048, repeat: int = 5) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default="small,medium,large")
    parser.add_argument("--contexts", default="10,60")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from dreamland.data.encoding import encode, to_torch
    from dreamland.data.store import Store
    from dreamland.data.windows import WindowSampler
    from dreamland.model.config import preset
    from dreamland.model.heads import LossConfig
    from dreamland.model.world import WorldModel, count_parameters
    from dreamland.train.objective import Objective

    tmp = None
    store_path = args.store
    if store_path is None:
        from dreamland.data.store import pack
        from dreamland.replay.ingest import ingest

        tmp = tempfile.TemporaryDirectory()
        ingest([str(ROOT.parent / "shared" / "replays")], Path(tmp.name) / "ds")
        pack(Path(tmp.name) / "ds", Path(tmp.name) / "store")
        store_path = Path(tmp.name) / "store"
    store = Store(store_path)
    games = store.games_in("all", eligible_only=False)
    peak = matmul_flops(args.threads)
    rows = []
    for name in args.presets.split(","):
        for k in (int(x) for x in args.contexts.split(",")):
            torch.manual_seed(0)
            torch.set_num_threads(args.threads)
            model = WorldModel(preset(name))
            objective = Objective(model, LossConfig())
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            sampler = WindowSampler(store, games, k, args.batch, seed=0)
            batches = sampler.batches(0)
            encoded = [encode(to_torch(next(batches))) for _ in range(2)]
            times = []
            for i in range(args.steps + 1):
                t0 = time.perf_counter()
                total, _ = objective(encoded[i % 2])
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                times.append(time.perf_counter() - t0)
            step_s = sorted(times[1:])[len(times[1:]) // 2]  # median, first step excluded
            params = count_parameters(model)
            fps = args.batch * (k + 1) / step_s
            rows.append({"preset": name, "context": k, "params": params, "step_s": step_s,
                         "frames_per_s": fps, "mfu": 6 * params * fps / peak})
    report = {"threads": args.threads, "batch": args.batch, "matmul_gflops": peak / 1e9, "runs": rows,
              "device": "cpu"}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"float32 matmul peak: {peak / 1e9:.1f} GFLOP/s on {args.threads} threads; batch {args.batch}")
        print(f"{'preset':<8}{'K':>4}{'params':>12}{'s/step':>9}{'frames/s':>10}{'MFU':>7}")
        for r in rows:
            print(f"{r['preset']:<8}{r['context']:>4}{r['params']:>12,}{r['step_s']:>9.2f}"
                  f"{r['frames_per_s']:>10.0f}{r['mfu'] * 100:>6.1f}%")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
