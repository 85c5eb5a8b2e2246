"""Batched rollouts through the one `step` function, driven only by the real controllers.

For each start: the stepper consumes K real frames (`init`), then steps H times with the real
controllers of both players (or scripted ones, for the controllability probe), feeding on its own
output. Only the fields the metrics need are kept, as numpy arrays shaped (S, H + 1, ...): index 0
is the last seed frame (real, the same in both), index h the h-th predicted frame. At several
hundred starts x 300 frames this is tens of MB per stepper; NaNs in *every* predicted float field
are counted while stepping, so nothing else needs keeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode_controller, to_torch
from dreamland.data.frame import FRAME_KEYS, TIMELESS, Frame, frame_at
from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.data.store import Store
from dreamland.data.windows import Gather
from dreamland.evaluate.errors import EvaluationError
from dreamland.evaluate.starts import Starts
from dreamland.steppers.protocol import Stepper

N_REAL = len(layout.PLAYER_GROUPS[0].fields)
N_SMALL = len(layout.PLAYER_GROUPS[1].fields)
_IX = layout.ITEM_GROUPS[0].index("x")
_IY = layout.ITEM_GROUPS[0].index("y")


@dataclass
class Trajectory:
    """What the metrics read of a set of rollouts (or of the real game), (S, T, ...)."""

    real: np.ndarray  # (S, T, 2, 13) float32: player_real
    small: np.ndarray  # (S, T, 2, 10) uint8: player_small
    action: np.ndarray  # (S, T, 2) int32: player_wide[..., 0]
    exists: np.ndarray  # (S, T, 2) bool: player_exists
    item_exists: np.ndarray  # (S, T, slots) bool
    item_pos: np.ndarray  # (S, T, slots, 2) float32: item x, y

    @classmethod
    def empty(cls, s: int, t: int, item_slots: int = MAX_ITEM_SLOTS) -> "Trajectory":
        return cls(
            real=np.zeros((s, t, 2, N_REAL), np.float32),
            small=np.zeros((s, t, 2, N_SMALL), np.uint8),
            action=np.zeros((s, t, 2), np.int32),
            exists=np.zeros((s, t, 2), bool),
            item_exists=np.zeros((s, t, item_slots), bool),
            item_pos=np.zeros((s, t, item_slots, 2), np.float32),
        )

    @classmethod
    def from_frames(cls, batch: dict, item_slots: int | None = None) -> "Trajectory":
        """From a numpy window batch (B, T, ...) in store values."""
        n = item_slots or batch["item_exists"].shape[-1]
        return cls(
            real=np.asarray(batch["player_real"], np.float32),
            small=np.asarray(batch["player_small"], np.uint8),
            action=np.asarray(batch["player_wide"][..., 0], np.int32),
            exists=np.asarray(batch["player_exists"]) > 0,
            item_exists=np.asarray(batch["item_exists"][..., :n]) > 0,
            item_pos=np.asarray(batch["item_real"][..., :n, :][..., [_IX, _IY]], np.float32),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.action.shape[:2]

    def put(self, rows: slice | np.ndarray, t: int | slice, frame: dict[str, np.ndarray]) -> None:
        """Write frame(s) in store values (dict of numpy arrays with FRAME_KEYS)."""
        n = self.item_exists.shape[-1]
        self.real[rows, t] = frame["player_real"]
        small = frame["player_small"]
        if small.dtype != np.uint8:  # a stepper that returns ids in a wider or float type
            small = np.clip(np.nan_to_num(small), 0, 255)
        self.small[rows, t] = small
        self.action[rows, t] = frame["player_wide"][..., 0]
        self.exists[rows, t] = frame["player_exists"] > 0
        self.item_exists[rows, t] = frame["item_exists"][..., :n] > 0
        self.item_pos[rows, t] = frame["item_real"][..., :n, :][..., [_IX, _IY]]

    def take(self, rows) -> "Trajectory":
        return Trajectory(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def upto(self, t: int) -> "Trajectory":
        return Trajectory(**{f.name: getattr(self, f.name)[:, : t + 1] for f in fields(self)})


@dataclass
class RolloutResult:
    pred: Trajectory  # (S, H + 1, ...): index 0 = last seed frame
    real: Trajectory
    stage: np.ndarray  # (S,) external stage id
    characters: np.ndarray  # (S, 2) internal ids
    game: np.ndarray  # (S,) store game index (-1 for synthetic windows)
    offset: np.ndarray  # (S,) frame of the game where the seed starts
    nan_values: np.ndarray  # (S,) NaN values in every predicted float field, all steps
    nan_frames: np.ndarray  # (S, H + 1) bool: the predicted frame holds a NaN
    seconds: float = 0.0
    # (S,) bool: the start's game recorded the airborne flag (Slippi 1.7 did not; the store keeps 0)
    airborne_recorded: np.ndarray | None = None

    @property
    def horizon(self) -> int:
        return self.pred.shape[1] - 1


def _numpy_frame(frame: Frame) -> dict[str, np.ndarray]:
    return {k: frame[k].detach().to("cpu").numpy() for k in FRAME_KEYS if k not in TIMELESS}


def _check_frame(frame, reference: Frame) -> None:
    if not isinstance(frame, dict):
        raise EvaluationError(f"the stepper returned {type(frame).__name__}, expected a dict of tensors")
    for k in FRAME_KEYS:
        if k in TIMELESS:
            continue
        if k not in frame:
            raise EvaluationError(f"the stepper returned a frame without {k!r}")
        if tuple(frame[k].shape) != tuple(reference[k].shape):
            raise EvaluationError(
                f"the stepper returned {k} shaped {tuple(frame[k].shape)}, expected {tuple(reference[k].shape)}"
            )


def seed_of(window: dict[str, torch.Tensor], context: int) -> dict[str, torch.Tensor]:
    """The first K frames of a torch window, with the encoded controllers as `controller`."""
    seed = {k: (v if k in TIMELESS or v.dim() < 2 else v[:, :context]) for k, v in window.items()}
    seed["controller"] = encode_controller(seed["controller_sticks"], seed["controller_buttons"][..., 0])
    return seed


def real_controllers(window: dict[str, torch.Tensor], context: int) -> torch.Tensor:
    """The encoded controllers of the frames after the seed: (B, H, 2, 17)."""
    return encode_controller(window["controller_sticks"][:, context:], window["controller_buttons"][:, context:, ..., 0])


ControllerFn = Callable[[dict[str, np.ndarray], torch.Tensor, np.ndarray], torch.Tensor]


@torch.no_grad()
def run_batch(stepper: Stepper, batch: dict[str, np.ndarray], context: int, horizon: int,
              controllers: torch.Tensor | None = None, device: str | torch.device = "cpu",
              item_slots: int | None = None) -> tuple[Trajectory, Trajectory, np.ndarray, np.ndarray]:
    """Roll out one numpy window batch (B, >= K + H, ...): seed with frames 0..K-1, step H times.
    Returns (predicted, real, NaN values (B,), NaN frames (B, H + 1))."""
    t_need = context + horizon
    if batch["player_real"].shape[1] < t_need:
        raise EvaluationError(f"windows of {batch['player_real'].shape[1]} frames; K + H = {t_need} needed")
    batch = dict(batch)
    batch["controller_sticks"] = np.asarray(batch["controller_sticks"], np.float32)  # half math is slow on CPUs
    window = to_torch(batch, device)
    b = batch["player_real"].shape[0]
    if controllers is None:
        controllers = real_controllers(window, context)
    controllers = controllers.to(device)
    real = Trajectory.from_frames({k: v[:, context - 1 : t_need] for k, v in batch.items()
                                   if k not in TIMELESS and np.ndim(v) >= 2}, item_slots)
    pred = Trajectory.empty(b, horizon + 1, real.item_exists.shape[-1])
    pred.put(slice(None), 0, {k: v[:, context - 1] for k, v in batch.items() if k not in TIMELESS and np.ndim(v) >= 2})
    nan_values = np.zeros(b, np.int64)
    nan_frames = np.zeros((b, horizon + 1), bool)
    state = stepper.init(seed_of(window, context))
    frame = frame_at(window, context - 1, keys=FRAME_KEYS + ("present",))
    for t in range(horizon):
        state, nxt = stepper.step(state, frame, controllers[:, t])
        if t == 0:
            _check_frame(nxt, frame)
        out = _numpy_frame(nxt)
        for v in out.values():
            if v.dtype.kind == "f":
                nans = np.isnan(v).reshape(b, -1).sum(1)
                nan_values += nans
                nan_frames[:, t + 1] |= nans > 0
        pred.put(slice(None), t + 1, out)
        # what the stepper returned goes back in as it is (extra keys included); static keys it
        # left out (stage, characters) are carried
        frame = {**{k: v for k, v in frame.items() if k not in nxt}, **nxt}
    return pred, real, nan_values, nan_frames


def rollout(stepper: Stepper, store: Store, starts: Starts, *, batch_size: int = 256,
            device: str | torch.device = "cpu", controllers: ControllerFn | None = None,
            item_slots: int = MAX_ITEM_SLOTS, progress: Callable[[int], None] | None = None) -> RolloutResult:
    """Every start of `starts` through `stepper`, `batch_size` at a time. `controllers(batch, real
    encoded (B, H, 2, 17), start indices)` may replace the real controllers (probe)."""
    t0 = time.perf_counter()
    k, h = starts.context, starts.horizon
    s = len(starts)
    gather = Gather(store, k + h, item_slots)
    pred, real = Trajectory.empty(s, h + 1, item_slots), Trajectory.empty(s, h + 1, item_slots)
    stage = np.zeros(s, np.int16)
    chars = np.zeros((s, 2), np.uint8)
    nan_values = np.zeros(s, np.int64)
    nan_frames = np.zeros((s, h + 1), bool)
    for a in range(0, s, batch_size):
        idx = np.arange(a, min(s, a + batch_size))
        batch = gather(starts.row[idx], starts.game[idx])
        ctrl = None
        if controllers is not None:
            w = to_torch({"controller_sticks": batch["controller_sticks"].astype(np.float32),
                          "controller_buttons": batch["controller_buttons"]})
            ctrl = controllers(batch, real_controllers(w, k), idx)
        p, r, nv, nf = run_batch(stepper, batch, k, h, ctrl, device, item_slots)
        for f in fields(Trajectory):
            getattr(pred, f.name)[idx] = getattr(p, f.name)
            getattr(real, f.name)[idx] = getattr(r, f.name)
        stage[idx], chars[idx] = batch["stage"], batch["characters"]
        nan_values[idx], nan_frames[idx] = nv, nf
        if progress:
            progress(len(idx))
    recorded = store.present()[starts.game, layout.PRESENT_FIELDS.index("airborne")] > 0
    return RolloutResult(pred, real, stage, chars, starts.game.copy(), starts.offset.copy(), nan_values,
                         nan_frames, time.perf_counter() - t0, recorded)


def rollout_batch(stepper: Stepper, batch: dict[str, np.ndarray], context: int, horizon: int,
                  controllers: torch.Tensor | None = None) -> RolloutResult:
    """A rollout of an in-memory window batch (hand-made cases, tests)."""
    t0 = time.perf_counter()
    p, r, nv, nf = run_batch(stepper, batch, context, horizon, controllers)
    b = p.shape[0]
    return RolloutResult(p, r, np.asarray(batch["stage"]).reshape(b), np.asarray(batch["characters"]).reshape(b, 2),
                         np.full(b, -1), np.zeros(b, np.int64), nv, nf, time.perf_counter() - t0)
