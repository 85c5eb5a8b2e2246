"""The baselines every evaluation shows beside the model, as steppers (`steppers.protocol`).

- `HoldStepper`: the next state is the last real state, forever (nothing moves, nothing happens).
- `ConstantVelocityStepper`: the positions of every player, follower and item advance each frame by
  that character's or item's last observed per-frame displacement (the last two seed frames);
  everything else is held. An item that did not exist in both of those frames does not move.
- `LookupStepper`: constant velocity, with each player's next action looked up in a table counted
  over the store's training games (`data.action_table`): how much of the action counting alone
  gets. Against constant velocity it differs only in the action (and state_age, which follows it).

A model that does not beat them at every horizon is not learning the game (SPEC section 5). Each is
built by `for_evaluation(store, games)`, which returns None where it cannot be built (the lookup
without training games other than the evaluated ones).
"""

from __future__ import annotations

import numpy as np
import torch

from dreamland.data import layout
from dreamland.data.store import Store
from dreamland.data.action_table import ActionTable, input_class, run_age
from dreamland.data.frame import FRAME_KEYS, Frame

_X = layout.PLAYER_GROUPS[0].index("x")
_Y = layout.PLAYER_GROUPS[0].index("y")
_IX = layout.ITEM_GROUPS[0].index("x")
_IY = layout.ITEM_GROUPS[0].index("y")
_AGE = layout.PLAYER_GROUPS[0].index("state_age")
_ACTION = layout.PLAYER_GROUPS[2].index("action")
_CHAR = layout.PLAYER_GROUPS[1].index("character")


class HoldStepper:
    """Next state = the last real state."""

    name = "hold"

    @classmethod
    def for_evaluation(cls, store: Store, games: np.ndarray) -> "HoldStepper":
        return cls()

    def init(self, seed: dict[str, torch.Tensor]) -> None:
        return None

    def step(self, model_state, game_state: Frame, controllers: torch.Tensor):
        return model_state, {k: game_state[k] for k in FRAME_KEYS}


class ConstantVelocityStepper:
    """Positions advance by the last observed per-frame displacement; everything else held."""

    name = "constant_velocity"

    @classmethod
    def for_evaluation(cls, store: Store, games: np.ndarray) -> "ConstantVelocityStepper":
        return cls()

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


class LookupStepper(ConstantVelocityStepper):
    """Constant velocity, with each player's action looked up in a counted table."""

    name = "lookup"

    def __init__(self, table: ActionTable):
        self.table = table

    @classmethod
    def for_evaluation(cls, store: Store, games: np.ndarray) -> "LookupStepper | None":
        """Counted over the store's training games that are not among `games`."""
        train = np.setdiff1d(store.games_in("train"), games)
        return cls(ActionTable.count(store, train)) if len(train) else None

    def init(self, seed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        state = super().init(seed)
        action = seed["player_wide"][..., _ACTION].long().numpy()  # (B, K, 2)
        state["age"] = torch.from_numpy(run_age(action.swapaxes(0, 1))[-1])
        return state

    def step(self, model_state, game_state: Frame, controllers: torch.Tensor):
        model_state, out = super().step(model_state, game_state, controllers)
        action = game_state["player_wide"][..., _ACTION].long()
        char = game_state["player_small"][..., _CHAR].long()
        nxt = self.table.next_action(char, action, model_state["age"], input_class(controllers))
        same = nxt == action
        model_state["age"] = torch.where(same, model_state["age"] + 1, torch.zeros_like(action))
        wide, real = out["player_wide"].clone(), out["player_real"].clone()
        wide[..., _ACTION] = nxt.to(wide.dtype)
        real[..., _AGE] = torch.where(same, real[..., _AGE] + 1, torch.zeros_like(real[..., _AGE]))
        out["player_wide"], out["player_real"] = wide, real
        return model_state, out


# The one list of baselines: reports key their figures by these names, in this order.
BASELINES = {"hold": HoldStepper, "constant_velocity": ConstantVelocityStepper, "lookup": LookupStepper}
BASELINE_NAMES = tuple(BASELINES)


def baseline_name(text: str) -> str | None:
    """The baseline a word names (`constant-velocity` as the command line spells it, or
    `constant_velocity` as reports key it), or None."""
    name = str(text).replace("-", "_")
    return name if name in BASELINES else None
