"""Garbage-collection stalls of the game loop: N frames of `GameLoop`'s frame computation, back to
back (no clock, no page), with every collection of Python's cycle collector timed.

    python benchmarks/bench_play_gc.py                    # 36,000 frames: ten minutes of play
    python benchmarks/bench_play_gc.py --frames 6000 --stepper toy

A full (generation 2) collection walks every tracked object the process holds; what a session
keeps for ten minutes (its recording) decides how long that takes, and the frame that triggers it
waits. Prints JSON: the frames slower than `--slow-ms`, the longest collections (ms, generation,
objects collected) and the count per generation. The baseline to compare with is the same command
on the code before a change (docs/play.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=36_000)
    ap.add_argument("--stepper", default=None, help="checkpoint folder or 'toy' (default: the shipped model)")
    ap.add_argument("--compile", default="aot", help="the model's step mode (default: aot, play's)")
    ap.add_argument("--slow-ms", type=float, default=20.0, help="a frame slower than this is listed")
    args = ap.parse_args(argv)

    from dreamland.model.checkpoint import CheckpointError
    from dreamland.play.server import GameLoop

    try:
        game = GameLoop(args.stepper, slots=("chase", "random"), compile=args.compile)
    except (CheckpointError, ValueError) as exc:  # a path that is no checkpoint, a bad --compile
        print(f"bench_play_gc: {exc}", file=sys.stderr)
        return 2
    gc.collect()
    gc.freeze()  # as GameLoop.run does: what exists before the game is not walked
    started: dict[str, float] = {}
    collections: list[tuple[float, int, int]] = []

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        else:
            collections.append(((time.perf_counter() - started["t"]) * 1000.0, info["generation"], info["collected"]))

    gc.callbacks.append(timer)
    slow = []
    t0 = time.perf_counter()
    for i in range(args.frames):
        t = time.perf_counter()
        game._compute([None, None], None)
        ms = (time.perf_counter() - t) * 1000.0
        if ms > args.slow_ms:
            slow.append([i, round(ms, 1)])
    gc.callbacks.remove(timer)
    longest = sorted(collections, reverse=True)[:8]
    print(json.dumps({
        "benchmark": "play_gc", "frames": args.frames, "seconds": round(time.perf_counter() - t0, 1),
        "slow_frames": slow[:20], "slow_count": len(slow),
        "longest_collections": [{"ms": round(ms, 1), "generation": g, "collected": c} for ms, g, c in longest],
        "collections_per_generation": {str(g): sum(1 for _, gen, _ in collections if gen == g) for g in (0, 1, 2)},
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
