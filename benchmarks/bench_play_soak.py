"""Soak test of the web game loop: N minutes at 60 Hz with two bots (not part of the test suite).

    python benchmarks/bench_play_soak.py --minutes 10                      # the shipped model
    python benchmarks/bench_play_soak.py --minutes 10 --preset large --compile aot --dtype float16
    python benchmarks/bench_play_soak.py --minutes 1 --stepper toy         # the loop alone

Runs the real `GameLoop` (the server's loop: model in a worker thread, absolute deadlines, one
spectator client with a one-frame mailbox) with two bots, and reports frame time p50 / p99 / max,
late and skipped frames, and the process's resident memory at the start and the end (sampled
every 10 s, so growth shows). `--preset NAME` steps an untrained model of that size (frame time
does not depend on the weights); `--stepper` takes anything `load_stepper` takes (a checkpoint
folder, "toy" for the physics toy; default: the model shipped with dreamland). `--compile` and
`--dtype` choose how the model steps (model.stepper.CompiledStep). The summary is printed as JSON and
written to `--out` when given.

Targets (issue 7): zero late frames at p99 (frame time p99 below 16.7 ms), memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time

import psutil


class _NullSocket:
    closed = False

    async def send_str(self, text: str) -> None:
        await asyncio.sleep(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--stepper", default=None, help="a checkpoint folder or 'toy' (default: the shipped model)")
    ap.add_argument("--preset", default=None, help="an untrained model of this preset instead (e.g. large)")
    ap.add_argument("--compile", default="", choices=("", "aot", "aot-tuned", "inductor"), help="compile the model's step")
    ap.add_argument("--dtype", default=None, choices=("float16", "bfloat16"), help="half-precision weights")
    ap.add_argument("--bots", default="chase,random")
    ap.add_argument("--stage", default="battlefield")
    ap.add_argument("--characters", default="fox,falco")
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from dreamland.play.server import Client, GameLoop

    if args.threads:
        torch.set_num_threads(args.threads)  # before compiling: AOTInductor fixes its thread pool
    if args.preset:
        from dreamland.model.config import preset
        from dreamland.model.stepper import ModelStepper
        from dreamland.model.world import WorldModel

        stepper = ModelStepper(WorldModel(preset(args.preset)), context=10, compile=args.compile or False,
                               dtype=args.dtype)
    elif args.stepper == "toy" or not (args.compile or args.dtype):
        stepper = args.stepper
    else:
        from dreamland.steppers.load import load_stepper

        stepper = load_stepper(args.stepper, compile=args.compile or False, dtype=args.dtype)
    proc = psutil.Process()
    game = GameLoop(stepper, args.stage, args.characters.split(","), slots=tuple(args.bots.split(",")),
                    fps=args.fps, timer_frames=10**9, torch_threads=args.threads or None)
    frame_ms: list[float] = []
    memory: list[tuple[float, float]] = []

    async def run() -> None:
        client = Client(1, _NullSocket(), spectator=True)
        game.clients[1] = client
        sender = asyncio.ensure_future(client.sender())
        task = asyncio.ensure_future(game.run())
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        seen = 0
        next_mem = t0
        while time.monotonic() < end:
            await asyncio.sleep(0.5)
            ms = list(game.stats.frame_ms)
            new = game.stats.frames - seen
            frame_ms.extend(ms[-new:] if new <= len(ms) else ms)
            seen = game.stats.frames
            if time.monotonic() >= next_mem:
                memory.append((round(time.monotonic() - t0, 1), proc.memory_info().rss / 2**20))
                next_mem += 10
        game.stop()
        await task
        sender.cancel()

    started = time.monotonic()
    rss0 = proc.memory_info().rss / 2**20
    asyncio.run(run())
    game.close()
    wall = time.monotonic() - started
    ms = sorted(frame_ms)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 3) if ms else 0.0

    after_warmup = [m for t, m in memory if t >= 30] or [m for _, m in memory]
    summary = {
        "minutes": args.minutes, "wall_s": round(wall, 1), "fps_target": args.fps,
        "stepper": type(game.stepper).__name__, "checkpoint": None if args.preset else (args.stepper or "default model"),
        "preset": args.preset, "compile": args.compile or "eager", "dtype": args.dtype or "float32",
        "compile_error": getattr(game.stepper, "compile_error", None),
        "bots": args.bots,
        "frames": game.stats.frames, "frames_expected": int(wall * args.fps),
        "frame_ms_p50": pct(0.5), "frame_ms_p99": pct(0.99), "frame_ms_max": round(max(ms), 3) if ms else 0.0,
        "late": game.stats.late, "skipped": game.stats.skipped,
        "late_fraction": round(game.stats.late / max(1, game.stats.frames), 5),
        "rss_mb_start": round(rss0, 1), "rss_mb_end": round(proc.memory_info().rss / 2**20, 1),
        "rss_mb_growth_after_30s": round(after_warmup[-1] - after_warmup[0], 1) if after_warmup else 0.0,
        "memory_samples": [(t, round(m, 1)) for t, m in memory],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "torch": torch.__version__,
                    "platform": platform.platform(), "torch_threads": torch.get_num_threads()},
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
