"""What the data teaches exactly about actions: a lookup table counted over real games.

Melee's actions last a fixed number of frames and are followed by what the controls ask for. Over
a set of games, count for every (character, action, frames since it began, input) the action that
most often comes next. The input is a coarse class of the controller of the frame to predict
(`input_class`: the main stick's direction among 9, and whether A, B, a jump button, a shield, Z or
the C-stick is pressed). Where a key was never counted the table backs off to (character, action,
age) without the input, then holds the action. The lookup baseline (`steppers.baselines`) steps
with it, and a model with `action_lookup` starts its action head from it (model/lookup.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode_controller
from dreamland.data.store import Store
from dreamland.schema.controller import BUTTONS

MAX_AGE = 63  # ages beyond this share one key: what follows a long action depends on the input
N_INPUT = 9 * 2**6
N_ACTION = 1 << 16  # action ids are stored as uint16
_ACTION = layout.PLAYER_GROUPS[2].index("action")
_CHAR = layout.PLAYER_GROUPS[1].index("character")
_DEADZONE = 0.2875  # the game's main-stick dead zone, in replay units (-1..1)


def input_class(controller: torch.Tensor) -> torch.Tensor:
    """Encoded controllers (..., 17) -> (...,) int64 in [0, N_INPUT)."""
    stick = controller[..., :4] * 2 - 1  # main x, main y, C x, C y back in replay units (-1..1)
    dx = (stick[..., 0] > _DEADZONE).long() - (stick[..., 0] < -_DEADZONE).long()
    dy = (stick[..., 1] > _DEADZONE).long() - (stick[..., 1] < -_DEADZONE).long()
    direction = (dx + 1) * 3 + (dy + 1)
    b = {name: controller[..., 5 + k] > 0.5 for k, name in enumerate(BUTTONS)}
    shield = b["L"] | b["R"] | (controller[..., 4] > 0.3)
    cstick = (stick[..., 2].abs() > _DEADZONE) | (stick[..., 3].abs() > _DEADZONE)
    bits = (b["A"], b["B"], b["X"] | b["Y"], shield, b["Z"], cstick)
    flags = sum(bit.long() << k for k, bit in enumerate(bits))
    return direction * 64 + flags


def key(char: torch.Tensor, action: torch.Tensor, age: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
    """The table key of (character, action, run age, input class), int64; without the input class
    the back-off key."""
    base = (char * N_ACTION + action) * (MAX_AGE + 1) + age.clamp(max=MAX_AGE)
    return base if cls is None else base * N_INPUT + cls


def run_age(action: np.ndarray) -> np.ndarray:
    """Frames since the action began (0 on its first frame), along axis 0 (any trailing shape)."""
    flat = action.reshape(len(action), -1)
    start = np.ones(flat.shape, bool)
    start[1:] = flat[1:] != flat[:-1]
    t = np.arange(len(flat))[:, None]
    return (t - np.maximum.accumulate(np.where(start, t, 0), axis=0)).reshape(action.shape)


def _most_common(keys: np.ndarray, nxt: np.ndarray, min_count: int) -> tuple[np.ndarray, ...]:
    """Sorted unique keys, the most common next action of each and the share of the key's
    transitions it takes (keys seen fewer than `min_count` times dropped)."""
    pairs, counts = np.unique(keys * N_ACTION + nxt, return_counts=True)
    k, a = pairs // N_ACTION, pairs % N_ACTION
    order = np.lexsort((-counts, k))  # per key, the most counted pair first
    k, a, counts = k[order], a[order], counts[order]
    first = np.ones(len(k), bool)
    first[1:] = k[1:] != k[:-1]
    total = np.add.reduceat(counts, np.flatnonzero(first))
    keep = total >= min_count
    return k[first][keep], a[first][keep], (counts[first] / total)[keep].astype(np.float32)


def _transitions(store: Store, g: int, top: int | None) -> tuple[np.ndarray, np.ndarray]:
    """One game's (key, next action) pairs of both players, flat (action ids above `top` as `top`)."""
    a, b = int(store.start[g]), int(store.start[g] + store.length[g])
    action = torch.from_numpy(np.asarray(store["player_wide"][a:b, :, _ACTION]).astype(np.int64))
    if top is not None:
        action = action.clamp(0, top)
    char = torch.from_numpy(np.asarray(store["player_small"][a:b, :, _CHAR]).astype(np.int64))
    sticks = torch.from_numpy(np.asarray(store["controller_sticks"][a:b]).astype(np.float32))
    buttons = torch.from_numpy(np.asarray(store["controller_buttons"][a:b, :, 0]).astype(np.int64))
    inp = input_class(encode_controller(sticks, buttons))
    age = torch.from_numpy(run_age(action.numpy()))
    k = key(char[:-1], action[:-1], age[:-1], inp[1:])
    return k.numpy().ravel(), action[1:].numpy().ravel()


@dataclass
class ActionTable:
    """Sorted keys -> next action and its share of the key's transitions, with the input class
    (`keys`...) and without it (`back_keys`...)."""

    keys: torch.Tensor
    actions: torch.Tensor
    shares: torch.Tensor
    back_keys: torch.Tensor
    back_actions: torch.Tensor
    back_shares: torch.Tensor

    @classmethod
    def count(cls, store: Store, games: np.ndarray, min_count: int = 2, top: int | None = None) -> "ActionTable":
        """Count over `games` of `store` (indices, e.g. `store.games_in("train")`). With `top`,
        action ids above it count as `top` (a model's vocabulary: data.encoding)."""
        if not len(games):
            raise ValueError("an action table needs at least one game to count")
        keys, nxt = [], []
        for g in games:
            k, n = _transitions(store, int(g), top)
            keys.append(k)
            nxt.append(n)
        keys, nxt = np.concatenate(keys), np.concatenate(nxt)
        t = torch.from_numpy
        exact = [t(x) for x in _most_common(keys, nxt, min_count)]
        back = [t(x) for x in _most_common(keys // N_INPUT, nxt, min_count)]
        return cls(*exact, *back)

    def next_action(self, char, action, age, cls) -> torch.Tensor:
        """The most common next action (int64, same shape), or `action` where nothing was counted."""
        found, i = lookup(self.back_keys, key(char, action, age))
        back = torch.where(found, self.back_actions[i], action)
        found, i = lookup(self.keys, key(char, action, age, cls))
        return torch.where(found, self.actions[i], back)


def lookup(table: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each key sits in the sorted `table`: (found, index), the index valid where found."""
    if not len(table):
        return torch.zeros_like(keys, dtype=torch.bool), torch.zeros_like(keys)
    i = torch.searchsorted(table, keys).clamp(max=len(table) - 1)
    return table[i] == keys, i


__all__ = ["ActionTable", "MAX_AGE", "input_class", "key", "lookup", "run_age"]
