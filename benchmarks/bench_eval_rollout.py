"""Seconds for `dreamland eval`'s rollouts: S starts of H frames through the shipped model.

    python benchmarks/bench_eval_rollout.py --store data/all-store [--starts 300] [--horizon 300]
                                            [--batch 64 --batch 300] [--threads 1]

The rollouts of `evaluate.rollout` (seeded with K real frames, then stepped H frames with both
players' real inputs, every predicted frame kept for the metrics), on the test split's seeded
starts, at each batch size. Prints one JSON object: seconds and frames/s per batch size, and, for
300 x 300 with the shipped model on one thread, the speed-up over `BASELINE_S`: the same rollouts
with the code before the stepping core was rebuilt (commit 02f135b, the default batch of 64 then),
timed on this project's 2-core development machine by this script run from that commit's tree;
a figure from another machine is not comparable. Not a test: nothing is asserted. docs/model.md
records the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from dreamland.data.store import Store  # noqa: E402
from dreamland.evaluate.rollout import rollout  # noqa: E402
from dreamland.evaluate.starts import choose_starts  # noqa: E402
from dreamland.steppers.load import load_stepper  # noqa: E402

BASELINE_S = 45.9  # 300 x 300, shipped model of 2026-12-07, one thread, commit 02f135b, batch 64


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True, help="a packed store (dreamland pack)")
    p.add_argument("--starts", type=int, default=300)
    p.add_argument("--horizon", type=int, default=300)
    p.add_argument("--batch", type=int, action="append", help="rollouts per batch; repeatable (default 64 and 300)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", default=None, help="default: the shipped model")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    store = Store(args.store)
    stepper = load_stepper(args.checkpoint, store=store)
    games = store.games_in("test")
    starts = choose_starts(store, games, int(getattr(stepper, "context", 1) or 1), args.horizon, args.starts, 0)
    rows = []
    for b in args.batch or [64, 300]:
        t0 = time.perf_counter()
        rollout(stepper, store, starts, batch_size=b)
        s = time.perf_counter() - t0
        row = {"batch": b, "seconds": round(s, 2), "frames_per_s": round(len(starts) * args.horizon / s, 1)}
        if (len(starts), args.horizon, args.threads, args.checkpoint) == (300, 300, 1, None):
            row["speedup_vs_baseline"] = round(BASELINE_S / s, 2)
        rows.append(row)
    print(json.dumps({"benchmark": "eval_rollout", "starts": len(starts), "horizon": args.horizon,
                      "threads": args.threads, "torch": torch.__version__, "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
