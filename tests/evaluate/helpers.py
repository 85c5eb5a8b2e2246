"""Hand-made windows and an oracle stepper for the evaluation tests."""

from __future__ import annotations

import numpy as np

from dreamland.data import layout
from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.data.windows import Gather
from dreamland.data.frame import frame_at
from dreamland.schema.actions import Action
from dreamland.schema.stages import FINAL_DESTINATION

R, S = layout.PLAYER_GROUPS[0], layout.PLAYER_GROUPS[1]
X, Y = R.index("x"), R.index("y")


def blank_batch(b: int, t: int, stage: int = FINAL_DESTINATION) -> dict[str, np.ndarray]:
    """A window batch in store dtypes: two players standing still at the origin, four stocks."""
    out: dict[str, np.ndarray] = {}
    for prefix in ("player", "follower"):
        for g in layout.PLAYER_GROUPS:
            out[f"{prefix}_{g.name}"] = np.zeros((b, t, 2, len(g.fields)), g.dtype)
        out[f"{prefix}_exists"] = np.zeros((b, t, 2), np.uint8)
    out["player_exists"][:] = 1
    out["player_small"][..., S.index("stocks")] = 4
    out["player_small"][..., S.index("character")] = [2, 1]
    out["player_wide"][..., 0] = int(Action.STANDING)
    for g in layout.ITEM_GROUPS:
        out[f"item_{g.name}"] = np.zeros((b, t, MAX_ITEM_SLOTS, len(g.fields)), g.dtype)
    out["item_exists"] = np.zeros((b, t, MAX_ITEM_SLOTS), np.uint8)
    for g in layout.CONTROLLER_GROUPS:
        out[f"controller_{g.name}"] = np.zeros((b, t, 2, len(g.fields)), g.dtype)
    out["frame_id"] = np.tile(np.arange(t, dtype=np.int32), (b, 1))
    out["stage"] = np.full(b, stage, np.int16)
    out["characters"] = np.tile(np.array([2, 1], np.uint8), (b, 1))
    out["game"] = np.zeros(b, np.int32)
    return out


def straight_line(b: int, t: int, v: float) -> dict[str, np.ndarray]:
    """Both players move by (v, v) units every frame, from (0, 10)."""
    out = blank_batch(b, t)
    steps = np.arange(t, dtype=np.float32)[None, :, None]
    out["player_real"][..., X] = v * steps
    out["player_real"][..., Y] = 10 + v * steps
    return out


class ReplayStepper:
    """Returns the real future frames of an in-memory batch (optionally shifted): an "oracle"."""

    def __init__(self, batch: dict[str, np.ndarray], context: int, dx: float = 0.0, dy: float = 0.0):
        from dreamland.data.encoding import to_torch

        self.window = to_torch(batch)
        self.context, self.dx, self.dy = context, dx, dy

    def init(self, seed):
        return 0

    def step(self, t, game_state, controllers):
        frame = frame_at(self.window, self.context + t)
        return t + 1, shift(frame, self.dx, self.dy)


def shift(frame, dx: float, dy: float):
    if not dx and not dy:
        return frame
    frame = dict(frame)
    v = frame["player_real"].clone()
    v[..., X] += dx
    v[..., Y] += dy
    frame["player_real"] = v
    return frame


class StoreOracle:
    """The real game itself as a stepper: looks up where each seed came from in the store and
    returns the real frames that followed (optionally with the players shifted)."""

    def __init__(self, store, dx: float = 0.0, dy: float = 0.0):
        self.store, self.dx, self.dy = store, dx, dy
        self.gather = Gather(store, 1)
        self.first = store.index["first_frame"].to_numpy()

    def init(self, seed):
        game = seed["game"].numpy().astype(np.int64)
        last = seed["frame_id"][:, -1].numpy().astype(np.int64)
        row = self.store.start[game] + (last - self.first[game])
        return (game, row)

    def step(self, state, game_state, controllers):
        from dreamland.data.encoding import to_torch

        game, row = state
        batch = to_torch(self.gather(row + 1, game))
        frame = frame_at(batch, 0)
        return (game, row + 1), shift(frame, self.dx, self.dy)


def strip_timing(obj):
    """Metrics without the wall-clock fields (for determinism checks)."""
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in ("seconds", "created", "torch_threads")}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj
