"""Latency of the one step function (encode, model, rules, decode), frame by frame, closed loop.

    python benchmarks/bench_step.py [--model large] [--batch 1 --batch 2] [--threads 2]
                                    [--dtype float32|float16|bfloat16] [--no-compile] [--json]

For each batch size: median and 99th-percentile milliseconds per step (one frame of every game of
the batch), eager, AOTInductor ("aot") and torch.compile ("inductor"), beside a plain window
re-encoding of the same model at K=30 (the last 30 frames encoded and run through the window
forward every frame: what the closest prior system did). Random weights: latency does not depend
on them. Not a test: nothing is asserted. See docs/model.md for the figures measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dreamland.model.bench import bench_step, format_table  # noqa: E402
from dreamland.model.config import PRESETS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="large", choices=list(PRESETS), help="preset (default large)")
    p.add_argument("--batch", type=int, action="append", help="batch size; repeatable (default 1 and 2)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="weights' precision for inference (states stay float32)")
    p.add_argument("--frames", type=int, default=1000, help="timed steps per measurement")
    p.add_argument("--no-compile", action="store_true", help="eager only")
    p.add_argument("--mode", action="append", choices=["eager", "aot", "inductor"],
                   help="modes to time; repeatable (default all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    result = bench_step(
        args.model,
        batch_sizes=tuple(args.batch or (1, 2)),
        threads=args.threads,
        compiled=not args.no_compile,
        frames=args.frames,
        dtype=args.dtype,
        modes=tuple(args.mode) if args.mode else None,
    )
    print(json.dumps(result) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
