"""Where a frame of the web game spends its time, and which model it steps.

`/api/stats` reports, over the last `window` frames, each phase's time (mean, p99, max: a stall
shows in the max, not the mean) and its share of the frame period (1 / fps): bots (controllers), model (`stepper.step`), rules (`play.rules.apply`), state
(the readable view and its dict), json (`json.dumps`), send (writing the frame to every socket,
on the event loop). What the phases leave of the period is the time the loop sleeps, which is
what the browser and everything else on the machine can use.
"""

from __future__ import annotations

import collections
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

PHASES = ("bots", "model", "rules", "state", "json", "send")


class PhaseTimes:
    """Per-phase durations in milliseconds over a sliding window of frames. Phases are added from
    the model thread and the event loop, hence the lock."""

    def __init__(self, window: int = 600) -> None:
        self._ms = {p: collections.deque(maxlen=window) for p in PHASES}
        self._lock = threading.Lock()

    def add(self, phase: str, ms: float) -> None:
        with self._lock:
            self._ms[phase].append(ms)

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, (time.perf_counter() - t0) * 1000.0)

    def snapshot(self, fps: float) -> dict[str, Any]:
        period = 1000.0 / fps
        with self._lock:
            copies = {p: sorted(d) for p, d in self._ms.items()}
        phases = {}
        for p, ms in copies.items():
            mean = sum(ms) / len(ms) if ms else 0.0
            phases[p] = {"mean_ms": round(mean, 3), "p99_ms": round(_pct(ms, 0.99), 3),
                         "max_ms": round(ms[-1] if ms else 0.0, 3), "share": round(mean / period, 4)}
        busy = sum(v["share"] for v in phases.values())
        return {"phases": phases, "idle_share": round(max(0.0, 1.0 - busy), 4)}


def _pct(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(p * len(sorted_ms)))] if sorted_ms else 0.0


def describe_model(stepper: Any, checkpoint: Any) -> dict[str, Any]:
    """{name, step_mode, parameters, dtype, compile_error} of what `load_stepper` returned."""
    model = getattr(stepper, "model", None)
    out: dict[str, Any] = {"name": _model_name(stepper, checkpoint), "step_mode": _step_mode(stepper),
                           "parameters": None, "dtype": None,
                           "compile_error": getattr(stepper, "compile_error", None)}
    if model is not None and hasattr(model, "parameters"):
        params = list(model.parameters())
        out["parameters"] = sum(p.numel() for p in params)
        out["dtype"] = str(params[0].dtype).removeprefix("torch.") if params else None
    return out


def _model_name(stepper: Any, checkpoint: Any) -> str:
    if checkpoint is None:
        return "default model (shipped with dreamland)"
    if isinstance(checkpoint, (str, Path)):
        return "physics toy (not a model)" if str(checkpoint) == "toy" else Path(checkpoint).name
    return type(stepper).__name__


def _step_mode(stepper: Any) -> str:
    inner = getattr(stepper, "_step", stepper)  # model.stepper.ModelStepper wraps a CompiledStep
    mode = getattr(inner, "mode", None)
    if mode is not None:
        return str(mode)
    return "python" if getattr(stepper, "name", "") != "model" else "eager"


__all__ = ["PHASES", "PhaseTimes", "describe_model"]
