"""Frames per second of `MeleeVectorEnv`: N games, one agent each against a bot, stepped as one batch.

    python benchmarks/bench_vector_env.py [--batch 1 --batch 64 --batch 256] [--threads 1]
                                          [--opponent chase] [--checkpoint PATH] [--seconds 10] [--profile]
                                          [--compile aot]

For each batch size the environment is reset, warmed up, then stepped with random agent actions
(drawn before timing) for about `--seconds`; frames/s counts every game's frame (batch x steps /
seconds), the agent's observation, reward and auto-reset included. `--compile aot` steps the model
through its native step (built per batch size before timing, or loaded from the step cache;
`build_s` says how long that took). Prints one JSON object: the
figures, the ratio of each batch size to batch 1, and the ratio to the baseline of issue #14
(the shipped model, one thread, before the stepping core was rebuilt: 162, 1,199 and 864 frames/s
at 1, 64 and 256 games), and `floors`: the model's matrix arithmetic per frame against this
machine's float32 matrix-product rate (the frames/s no implementation of this model could pass on
these threads) and the recurrent state each game carries. Not a test: nothing is asserted.
docs/model.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dreamland.model.config import COMPILE_MODES  # noqa: E402
from dreamland.play.envs import MeleeVectorEnv  # noqa: E402
from dreamland.play.timing import describe_model  # noqa: E402

BASELINE_FPS = {1: 162.0, 64: 1199.0, 256: 864.0}  # issue #14, shipped model, one thread


def measure(batch: int, opponent: str, checkpoint: str | None, seconds: float, warmup: int,
            compile: str = "eager") -> dict:
    env = MeleeVectorEnv(num_envs=batch, checkpoint=checkpoint, opponent=opponent,
                         compile=False if compile == "eager" else compile)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.random((64, batch, env.single_action_space.shape[0]), dtype=np.float32)
    build = time.perf_counter()
    env.step(actions[0])  # a compiled step is built (or loaded) here
    build_s = time.perf_counter() - build
    for i in range(warmup):
        env.step(actions[i % len(actions)])
    steps, start = 0, time.perf_counter()
    while True:
        env.step(actions[steps % len(actions)])
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= 5:
            break
    return {"batch": batch, "step_mode": describe_model(env.stepper, checkpoint)["step_mode"],
            "build_s": round(build_s, 1), "steps": steps, "seconds": round(elapsed, 3),
            "frames_per_s": round(batch * steps / elapsed, 1),
            "ms_per_step": round(1000.0 * elapsed / steps, 3)}


def floors(checkpoint: str | None, batch: int = 64) -> dict:
    """What bounds a batched step on this machine: the model's matrix arithmetic per game
    (`torch.utils.flop_counter`, one environment step) against this machine's float32 matrix
    product rate at the same threads, and the recurrent state per game, which every step reads
    and writes at least once."""
    from torch.utils.flop_counter import FlopCounterMode

    env = MeleeVectorEnv(num_envs=batch, checkpoint=checkpoint, opponent="idle")
    env.reset(seed=0)
    act = np.full((batch, env.single_action_space.shape[0]), 0.5, np.float32)
    with FlopCounterMode(display=False) as counter:
        env.step(act)
    flops = counter.get_total_flops() / batch
    state_bytes = sum(t.numel() * t.element_size() for t in env.core.model_state[0]) / batch
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        torch.mm(a, b)
        n += 1
    rate = 2 * 1024**3 * n / (time.perf_counter() - start)
    return {"model_flops_per_frame": round(flops), "matmul_gflops": round(rate / 1e9, 1),
            "arithmetic_floor_frames_per_s": round(rate / flops, 1),
            "recurrent_state_bytes_per_game": round(state_bytes)}


def profile(batch: int, opponent: str, checkpoint: str | None, steps: int = 20, top: int = 12) -> list[dict]:
    """Where a step's time goes: the operators with the most self time over `steps` steps
    (torch.profiler, grouped by input shape), each with its share of the total."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    env = MeleeVectorEnv(num_envs=batch, checkpoint=checkpoint, opponent=opponent)
    env.reset(seed=0)
    act = np.random.default_rng(0).random((batch, env.single_action_space.shape[0]), dtype=np.float32)
    for _ in range(5):
        env.step(act)
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            env.step(act)
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [{"op": e.key, "shapes": str(e.input_shapes)[:80], "share": round(e.self_cpu_time_total / total, 3)}
            for e in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, action="append", help="games per batch; repeatable (default 1, 64, 256)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--opponent", default="chase", help="the bot (default chase, the environment's default)")
    p.add_argument("--checkpoint", default=None, help="a checkpoint (default: the shipped model)")
    p.add_argument("--seconds", type=float, default=10.0, help="timed seconds per batch size")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--compile", choices=COMPILE_MODES, default="eager",
                   help="how the model steps (default eager)")
    p.add_argument("--profile", action="store_true",
                   help="also list the operators that take a step's time at the largest batch size")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    rows = [measure(b, args.opponent, args.checkpoint, args.seconds, args.warmup, args.compile)
            for b in (args.batch or [1, 64, 256])]
    single = next((r["frames_per_s"] for r in rows if r["batch"] == 1), None)
    for r in rows:
        if single:
            r["vs_batch_1"] = round(r["frames_per_s"] / single, 2)
        if r["batch"] in BASELINE_FPS:
            r["vs_issue_14_baseline"] = round(r["frames_per_s"] / BASELINE_FPS[r["batch"]], 2)
    bound = floors(args.checkpoint)
    for r in rows:
        r["of_arithmetic_floor"] = round(r["frames_per_s"] / bound["arithmetic_floor_frames_per_s"], 3)
    out = {"benchmark": "vector_env", "threads": args.threads, "opponent": args.opponent, "compile": args.compile,
           "checkpoint": args.checkpoint or "shipped", "torch": torch.__version__, "floors": bound,
           "results": rows}
    if args.profile:
        out["profile"] = profile(max(r["batch"] for r in rows), args.opponent, args.checkpoint)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
