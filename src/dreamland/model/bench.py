"""Step latency and model size: the library behind `dreamland bench step` and `dreamland model info`.

`bench_step` times the full step (encode, model, rules, decode: `model.stepper.CompiledStep`) one frame at
a time, closed loop (each output frame is the next input, as in play), for each batch size,
eager and torch.compile'd, beside a plain window re-encoding of the same model: every frame, the
last K=30 frames are encoded and run through the window forward, and the last position decoded
(what the closest prior system did every frame). Milliseconds are per step, i.e. per frame of
every game of the batch at once (what a 60 Hz loop must fit in 16.7 ms).
"""

from __future__ import annotations

import platform
from pathlib import Path
import statistics
import time
from typing import Any

import torch

from dreamland.data import layout
from dreamland.data.encoding import encode, encode_controller
from dreamland.model.config import COMPILE_MODES, PRESETS, ModelConfig, preset as get_preset
from dreamland.data.frame import STEP_KEYS, blank
from dreamland.model.step import STATE_KEYS, decode_state
from dreamland.model.stepper import CompiledStep
from dreamland.model.world import WorldModel, count_parameters
from dreamland.schema.stages import FINAL_DESTINATION


def model_info(config: ModelConfig | str) -> dict[str, Any]:
    """Parameter counts per part of a model built from `config`: a ModelConfig, a preset name, or
    a checkpoint folder (its config.json is read and checked; the weights are not loaded)."""
    if isinstance(config, ModelConfig):
        cfg = config
    elif str(config) in PRESETS:
        cfg = get_preset(str(config))
    elif Path(str(config)).exists():
        from dreamland.model.checkpoint import read_config

        cfg = ModelConfig.from_dict(read_config(config)["model"])
    else:
        cfg = get_preset(str(config))  # raises the unknown-preset error
    model = WorldModel(cfg)
    parts = {
        "encoder": sum(count_parameters(getattr(model, n)) for n in ("char_enc", "item_enc", "stage_emb", "frame_in")),
        "backbone": count_parameters(model.layers) + count_parameters(model.norm_f),
        "heads": count_parameters(model.char_head) + count_parameters(model.item_head),
    }
    per_layer = count_parameters(model.layers[0]) if len(model.layers) else 0
    return {
        "params": count_parameters(model),
        "parts": parts,
        "per_layer": per_layer,
        "heads_out": {"char": model.char_part.n_out, "item": model.item_part.n_out},
        "config": cfg.to_dict(),
    }


def synthetic_frame(batch: int, stage: int = FINAL_DESTINATION, item_slots: int = 16) -> dict[str, torch.Tensor]:
    """A plausible start-of-game frame as store values (two characters standing, no items)."""
    frame = blank(batch, item_slots, keys=STEP_KEYS)
    R, S, W = layout.PLAYER_GROUPS
    pr, ps, pw = frame["player_real"], frame["player_small"], frame["player_wide"]
    pr[:, 0, R.index("x")], pr[:, 1, R.index("x")] = -60.0, 60.0
    pr[:, :, R.index("shield")] = 60.0
    ps[:, :, S.index("character")] = torch.tensor([2, 1], dtype=torch.uint8)  # any two characters
    ps[:, :, S.index("stocks")] = 4
    ps[:, 0, S.index("facing")] = 1
    ps[:, :, S.index("last_hit_by")] = 2
    pw[:, :, W.index("action")] = 14  # standing
    frame["player_exists"][:] = 1
    frame["stage"][:] = stage
    return frame


def _controllers(n: int, batch: int, seed: int = 0) -> torch.Tensor:
    """Random controller inputs (sticks anywhere, each button pressed 10% of the time)."""
    g = torch.Generator().manual_seed(seed)
    sticks = torch.rand(n, batch, 2, 5, generator=g) * 2 - 1
    sticks[..., 4] = sticks[..., 4].clamp_min(0)
    buttons = torch.zeros(n, batch, 2, dtype=torch.long)
    from dreamland.schema.controller import BUTTON_BITS

    for bit in BUTTON_BITS.values():
        buttons |= (torch.rand(n, batch, 2, generator=g) < 0.1).long() * bit
    return encode_controller(sticks, buttons)


def _stats(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1e3 for t in times)
    p = lambda q: ms[min(len(ms) - 1, int(round(q * (len(ms) - 1))))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ms), 4), "p99_ms": round(p(0.99), 4),
            "mean_ms": round(statistics.fmean(ms), 4), "max_ms": round(ms[-1], 4)}


class _Run:
    """One (stepper, batch size) being timed closed loop, a slice at a time."""

    def __init__(self, stepper: CompiledStep, batch: int, frames: int):
        self.stepper, self.batch = stepper, batch
        self.ctrl = _controllers(frames, batch)
        self.frame = synthetic_frame(batch, item_slots=stepper.model.item_slots)
        self.state = stepper.initial_state(batch)
        self.i = 0
        self.times: list[float] = []

    def run(self, n: int, record: bool = True) -> None:
        for _ in range(n):
            c = self.ctrl[self.i % len(self.ctrl)]
            t0 = time.perf_counter()
            self.state, self.frame = self.stepper(self.state, self.frame, c)
            dt = time.perf_counter() - t0
            self.i += 1
            if record:
                self.times.append(dt)


def _time_window(model: WorldModel, batch: int, frames: int, warmup: int, K: int, fn=None) -> dict[str, float]:
    """Re-encode the last K frames every frame (ring of store frames, encode, forward, rules on
    the last position, decode it)."""
    ctrl = _controllers(frames + warmup + K, batch)
    frame = synthetic_frame(batch, item_slots=model.item_slots)
    frame.pop("present")  # every field recorded: what play steps
    ring = {k: v.unsqueeze(1).repeat(1, K, *([1] * (v.dim() - 1))) for k, v in frame.items() if k != "stage"}
    ring["stage"] = frame["stage"]

    def one(ring, c):
        enc = encode(ring)
        inputs = {k: enc[k] for k in STATE_KEYS}
        controllers = torch.cat([enc["controller"][:, 1:], c.unsqueeze(1)], 1)
        out = model(inputs, controllers)
        last_in = {k: (v[:, -1] if k != "stage" else v) for k, v in inputs.items()}
        last_out = {k: v[:, -1] for k, v in out.items()}
        return decode_state(model.rules(last_in, last_out, c))

    f = fn(one) if fn is not None else one
    times = []
    with torch.no_grad():
        for i in range(frames + warmup):
            t0 = time.perf_counter()
            nxt = f(ring, ctrl[i])
            ring = {k: (torch.cat([v[:, 1:], nxt[k].unsqueeze(1)], 1) if k != "stage" else v) for k, v in ring.items()}
            dt = time.perf_counter() - t0
            if i >= warmup:
                times.append(dt)
    return _stats(times)


def bench_step(
    preset: str | ModelConfig = "large",
    batch_sizes: tuple[int, ...] = (1, 2),
    threads: int = 2,
    compiled: bool = True,
    frames: int = 500,
    warmup: int = 50,
    window: int = 30,
    window_frames: int = 100,
    dtype: str = "float32",
    modes: tuple[str, ...] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Time the step; see the module docstring. Returns a JSON-able dict with at least `p50_ms`,
    `p99_ms` (batch 1, the fastest mode that worked) and `params`, plus every measurement in
    `results`, the window re-encoding in `window`, `speedup` (window p50 / step p50 at the first
    batch size) and `compile_errors`. Modes: "eager", "aot" (torch.export + AOTInductor),
    "aot-tuned" (the same with max-autotune) and "inductor" (torch.compile); `compiled=False`
    runs eager only. `dtype` "float16"/"bfloat16"
    runs the weights in half precision (the recurrent state and the game state stay float32)."""
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    modes = tuple(modes) if modes else (COMPILE_MODES if compiled else ("eager",))
    try:
        cfg = get_preset(preset) if isinstance(preset, str) else preset
        model = WorldModel(cfg).eval()
        if dtype != "float32":
            model = model.inference_copy(dtype)
        result: dict[str, Any] = {
            "preset": preset if isinstance(preset, str) else "custom",
            "params": count_parameters(model),
            "threads": threads,
            "dtype": dtype,
            "frames": frames,
            "torch": torch.__version__,
            "cpu": _cpu_name(),
            "results": [],
            "window": [],
            "compile_errors": {},
        }
        runs: list[tuple[str, _Run, float]] = []
        for mode in modes:  # build every variant first (compilation must not overlap timing)
            stepper = CompiledStep(model, compile=False if mode == "eager" else mode, cache=False)  # time the build
            for b in batch_sizes:
                t0 = time.perf_counter()
                run = _Run(stepper, b, frames + warmup)
                run.run(1, record=False)  # builds the compiled step for this batch size
                build = time.perf_counter() - t0
                if stepper.mode != mode:  # it fell back: not a measurement of this mode
                    result["compile_errors"][mode] = stepper.compile_error
                    break
                runs.append((mode, run, build))
        time.sleep(1.0)  # let compiler worker processes settle
        for run in (r for _, r, _ in runs):
            run.run(warmup, record=False)
        rounds = min(5, frames)  # interleaved, so a burst of load from elsewhere hits every variant alike
        for k in range(rounds):
            for _, run, _ in runs:
                run.run(frames // rounds)
        for mode, run, build in runs:
            r = _stats(run.times)
            r.update({"batch": run.batch, "mode": mode, "build_s": round(build, 1)})
            result["results"].append(r)
        for b in batch_sizes[:1]:
            r = _time_window(model, b, window_frames, 5, window)
            r.update({"batch": b, "mode": "eager", "K": window})
            result["window"].append(r)
        first = [r for r in result["results"] if r["batch"] == batch_sizes[0]]
        best = min(first, key=lambda r: r["p50_ms"])
        result["p50_ms"], result["p99_ms"], result["mode"] = best["p50_ms"], best["p99_ms"], best["mode"]
        w = result["window"][0]["p50_ms"]
        result["speedup"] = {r["mode"]: round(w / r["p50_ms"], 1) for r in first}
        return result
    finally:
        torch.set_num_threads(old_threads)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"preset {result['preset']}: {result['params']:,} parameters, {result['dtype']} weights, "
        f"{result['threads']} threads, {result['cpu']}, torch {result['torch']}",
        f"{'per step (all games of the batch)':<34}{'batch':>6}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}",
    ]
    for r in result["results"]:
        lines.append(f"{'step ' + r['mode']:<34}{r['batch']:>6}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{r['mean_ms']:>10.3f}")
    for r in result["window"]:
        lines.append(f"{'window re-encode K=' + str(r['K']) + ' ' + r['mode']:<34}{r['batch']:>6}"
                     f"{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{r['mean_ms']:>10.3f}")
    for mode, err in result.get("compile_errors", {}).items():
        lines.append(f"{mode}: not measured ({err})")
    ratios = ", ".join(f"{m} {x}x" for m, x in result["speedup"].items())
    lines.append(f"speed-up over window re-encoding (p50, batch {result['results'][0]['batch']}): {ratios}")
    lines.append(f"best: {result['mode']} p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms "
                 f"(frame budget 16.7 ms)")
    return "\n".join(lines)


__all__ = ["bench_step", "format_table", "model_info", "synthetic_frame"]
