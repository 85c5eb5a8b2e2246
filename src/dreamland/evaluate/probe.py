"""Controllability probe: does changing a controller change the predicted state the way the game does?

From real positions where one player stands on the ground, free to act (standing, walking or
crouching, not in hitlag, no button or trigger held on the last seed frame), the stepper is seeded
with K real frames; then, for PROBE_FRAMES frames, that player's controller is replaced by a script
while the other player keeps their real inputs:

| probe  | script                                   | the game's response, within the frames    |
|--------|------------------------------------------|-------------------------------------------|
| jump   | X held                                   | airborne and at least 1 unit higher       |
| shield | R and the analog trigger fully pressed   | a shield action state                     |
| left   | main stick fully left                    | x at the last frame >= 3 units further left |
| right  | main stick fully right                   | x >= 3 units further right                |
| attack | A pressed for 3 frames, then released    | a ground attack action state (jab)        |

The same positions are also run with a neutral controller (sticks centred, nothing pressed): the
share that "responds" without the input is reported beside, since a model that jumps whatever the
input is not controllable. The game itself responds to every script from these states.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode_controller
from dreamland.data.store import Store
from dreamland.evaluate.errors import EvaluationError
from dreamland.evaluate.metrics import AIRBORNE, X, Y, _num
from dreamland.evaluate.rollout import RolloutResult, rollout
from dreamland.evaluate.starts import Starts, choose_starts
from dreamland.schema import actions
from dreamland.schema.actions import Action, ActionCategory
from dreamland.schema.controller import BUTTON_BITS
from dreamland.steppers.protocol import Stepper

PROBE_FRAMES = 20
PROBES = ("jump", "shield", "left", "right", "attack")
MOVE_MIN = 3.0  # game units
START_ACTIONS = frozenset(
    int(a) for a in (Action.STANDING, Action.WALK_SLOW, Action.WALK_MIDDLE, Action.WALK_FAST, Action.CROUCHING)
)
_HITLAG = layout.PLAYER_GROUPS[0].index("hitlag")
_STICK = {f.name: j for j, f in enumerate(layout.CONTROLLER_GROUPS[0].fields)}
_HELD = sum(BUTTON_BITS[b] for b in ("A", "B", "X", "Y", "Z", "L", "R"))


def script(name: str, frames: int = PROBE_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """(sticks (frames, 5) in replay units, button masks (frames,)) of a probe, or `neutral`."""
    sticks = np.zeros((frames, len(_STICK)), np.float32)
    buttons = np.zeros(frames, np.int64)
    if name == "jump":
        buttons[:] = BUTTON_BITS["X"]
    elif name == "shield":
        sticks[:, _STICK["trigger"]] = 1.0
        buttons[:] = BUTTON_BITS["R"]
    elif name == "left":
        sticks[:, _STICK["stick_x"]] = -1.0
    elif name == "right":
        sticks[:, _STICK["stick_x"]] = 1.0
    elif name == "attack":
        buttons[:3] = BUTTON_BITS["A"]
    elif name != "neutral":
        raise ValueError(f"unknown probe {name!r}")
    return sticks, buttons


def encoded_script(name: str, frames: int = PROBE_FRAMES) -> torch.Tensor:
    sticks, buttons = script(name, frames)
    return encode_controller(torch.from_numpy(sticks), torch.from_numpy(buttons))  # (frames, 17)


def probe_positions(store: Store, games: np.ndarray, context: int, count: int, seed: int,
                    frames: int = PROBE_FRAMES) -> tuple[Starts, np.ndarray]:
    """Up to `count` (start, probed player) pairs whose player is free to act on the ground at the
    last seed frame; drawn (seeded) among random candidate starts."""
    cand = choose_starts(store, games, context, frames, count * 40, seed + 7919)
    last = cand.row + context - 1
    small = store["player_small"][last]  # (C, 2, F)
    wide = store["player_wide"][last][..., 0]
    real = store["player_real"][last]
    sticks = store["controller_sticks"][last].astype(np.float32)
    buttons = store["controller_buttons"][last][..., 0].astype(np.int64)
    ok = (
        (store["player_exists"][last] > 0)
        & (small[..., layout.PLAYER_GROUPS[1].index("airborne")] == 0)
        & np.isin(wide, list(START_ACTIONS))
        & (real[..., _HITLAG] <= 0)
        & ((buttons & _HELD) == 0)
        & (sticks[..., _STICK["trigger"]] < 0.3)
    )
    c, p = np.nonzero(ok)
    if not len(c):
        raise EvaluationError("no position where a player stands free to act was found for the controllability probe")
    pick = np.sort(np.random.default_rng(seed).permutation(len(c))[:count])
    c, p = c[pick], p[pick]
    return cand.subset(c), p.astype(np.int64)


def responded(name: str, res: RolloutResult, player: np.ndarray) -> np.ndarray:
    """Whether each rollout shows the game's response to probe `name` (see the module table)."""
    s = np.arange(len(player))
    pred = res.pred
    x = pred.real[s, :, player, X].astype(np.float64)  # (n, T)
    y = pred.real[s, :, player, Y].astype(np.float64)
    a = pred.action[s, :, player]
    with np.errstate(invalid="ignore"):
        if name == "jump":
            air = pred.small[s, :, player, AIRBORNE] == 1
            return (air[:, 1:] & (y[:, 1:] > y[:, :1] + 1.0)).any(1)
        if name == "shield":
            return actions.is_shielding(a[:, 1:]).any(1)
        if name == "left":
            return x[:, -1] < x[:, 0] - MOVE_MIN
        if name == "right":
            return x[:, -1] > x[:, 0] + MOVE_MIN
        if name == "attack":
            return (actions.action_category(a[:, 1:]) == int(ActionCategory.GROUND_ATTACK)).any(1)
    raise ValueError(f"unknown probe {name!r}")


def probe(stepper: Stepper, store: Store, positions: Starts, player: np.ndarray, *, batch_size: int = 1024,
          device: str = "cpu", frames: int = PROBE_FRAMES,
          progress: Callable[[int], None] | None = None) -> dict:
    """The share of positions where the predicted state responds to each scripted input, and the
    share that shows the same response under a neutral controller."""
    variants = ("neutral",) + PROBES
    n = len(positions)
    scripted = torch.stack([encoded_script(v, frames) for v in variants])  # (V, frames, 17)
    all_starts = positions.subset(np.tile(np.arange(n), len(variants)))
    all_starts.horizon = frames
    variant = np.repeat(np.arange(len(variants)), n)
    probed = np.tile(player, len(variants))

    def controllers(batch, real: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        out = real.clone()
        rows = torch.arange(len(idx))
        out[rows, :, torch.from_numpy(probed[idx])] = scripted[torch.from_numpy(variant[idx])]
        return out

    res = rollout(stepper, store, all_starts, batch_size=batch_size, device=device, controllers=controllers,
                  progress=progress)
    out: dict = {"positions": n, "frames": frames}
    neutral = res.pred.take(slice(0, n))
    shares = []
    for v, name in enumerate(variants[1:], start=1):
        sub = slice(v * n, (v + 1) * n)
        part = RolloutResult(res.pred.take(sub), res.real.take(sub), res.stage[sub], res.characters[sub],
                             res.game[sub], res.offset[sub], res.nan_values[sub], res.nan_frames[sub])
        base = RolloutResult(neutral, res.real.take(slice(0, n)), res.stage[:n], res.characters[:n],
                             res.game[:n], res.offset[:n], res.nan_values[:n], res.nan_frames[:n])
        r, r0 = responded(name, part, player), responded(name, base, player)
        out[name] = {"n": n, "responded": _num(r.mean()), "responded_neutral": _num(r0.mean())}
        shares.append(r.mean())
    out["mean_responded"] = _num(np.mean(shares))
    out["seconds"] = _num(res.seconds)
    return out
