"""The two baselines every table shows beside the model, as steppers (`evaluate.stepper`).

- `HoldStepper`: the next state is the last real state, forever (nothing moves, nothing happens).
- `ConstantVelocityStepper`: the positions of every player, follower and item advance each frame by
  that character's or item's last observed per-frame displacement (the last two seed frames);
  everything else is held. An item that did not exist in both of those frames does not move.

A model that does not beat both at every horizon is not learning the game (SPEC section 5).
"""

from __future__ import annotations

import torch

from dreamland.data import layout
from dreamland.evaluate.stepper import FRAME_KEYS, Frame

_X = layout.PLAYER_GROUPS[0].index("x")
_Y = layout.PLAYER_GROUPS[0].index("y")
_IX = layout.ITEM_GROUPS[0].index("x")
_IY = layout.ITEM_GROUPS[0].index("y")


class HoldStepper:
    """Next state = the last real state."""

    name = "hold"

    def init(self, seed: dict[str, torch.Tensor]) -> None:
        return None

    def step(self, model_state, game_state: Frame, controllers: torch.Tensor):
        return model_state, {k: game_state[k] for k in FRAME_KEYS}


class ConstantVelocityStepper:
    """Positions advance by the last observed per-frame displacement; everything else held."""

    name = "constant_velocity"

    def init(self, seed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        def delta(key: str, cols: list[int], exists_key: str) -> torch.Tensor:
            v = seed[key][..., cols].float()
            if v.shape[1] < 2:
                return torch.zeros_like(v[:, -1])
            both = (seed[exists_key][:, -1] > 0) & (seed[exists_key][:, -2] > 0)
            d = v[:, -1] - v[:, -2]
            return torch.where(both[..., None], torch.nan_to_num(d), torch.zeros_like(d))

        return {
            "player_real": delta("player_real", [_X, _Y], "player_exists"),
            "follower_real": delta("follower_real", [_X, _Y], "follower_exists"),
            "item_real": delta("item_real", [_IX, _IY], "item_exists"),
        }

    def step(self, model_state, game_state: Frame, controllers: torch.Tensor):
        out = {k: game_state[k] for k in FRAME_KEYS}
        for key, (cx, cy), exists in (
            ("player_real", (_X, _Y), "player_exists"),
            ("follower_real", (_X, _Y), "follower_exists"),
            ("item_real", (_IX, _IY), "item_exists"),
        ):
            v = game_state[key].clone()
            d = model_state[key] * (game_state[exists] > 0)[..., None].to(v.dtype)
            v[..., cx] += d[..., 0]
            v[..., cy] += d[..., 1]
            out[key] = v
        return model_state, out


# The one list of baselines: reports key their figures by these names, in this order.
BASELINES = {"hold": HoldStepper, "constant_velocity": ConstantVelocityStepper}
BASELINE_NAMES = tuple(BASELINES)
# `dreamland eval CHECKPOINT` takes a baseline's name with hyphens, as command-line words are spelled
CHECKPOINT_SPELLINGS = tuple(name.replace("_", "-") for name in BASELINES)


def make_baseline(name: str):
    """`hold` or `constant-velocity` / `constant_velocity`."""
    return BASELINES[name.replace("-", "_")]()
