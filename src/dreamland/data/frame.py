"""One frame of game state as every stepper reads and writes it: keys, dtypes, shapes, columns.

A frame is a dict of torch tensors with a batch axis first: the arrays of a `data.windows` batch
without the time axis. Training windows, the model's step, evaluation rollouts, play and the agent
environments all build, slice and normalise frames here, so the layout (from `data.layout`, which
derives it from the schema) is written down once.

    player_real / player_small / player_wide   (B, 2, F)  leaders, the store groups of layout
    follower_*                                  (B, 2, F)  Nana and other followers
    player_exists, follower_exists              (B, 2)
    item_real / item_small                      (B, S, F)  S item slots
    item_exists                                 (B, S)
    stage (B,), characters (B, 2)               the game's, no time axis in a window
    controller_sticks (B, 2, 5), controller_buttons (B, 2, 1)  the input that produced the frame
    present                                     (B, len(layout.PRESENT_FIELDS)), per game
    frame_id                                    (B,)
"""

from __future__ import annotations

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.items import MAX_ITEM_SLOTS

Frame = dict[str, Tensor]

_PARTS = ("player", "follower")
# The game state a stepper reads and returns (controllers, present and frame_id excluded).
FRAME_KEYS: tuple[str, ...] = (
    *(k for who in _PARTS for k in (*(f"{who}_{g.name}" for g in layout.PLAYER_GROUPS), f"{who}_exists")),
    *(f"item_{g.name}" for g in layout.ITEM_GROUPS), "item_exists",
    "stage", "characters",
)
CONTROLLER_KEYS = tuple(f"controller_{g.name}" for g in layout.CONTROLLER_GROUPS)
# Keys of a window batch without a time axis (one value per game).
TIMELESS = ("stage", "characters", "game", "present")


def _torch_dtype(store_dtype: str) -> torch.dtype:
    return torch.int32 if store_dtype == "uint16" else getattr(torch, store_dtype)  # torch has no uint16 math


# The torch dtype of every key (the store's, uint16 widened to int32): what `decode` returns and
# what `normalize` gives a compiled step, so that it sees one signature.
DTYPES: dict[str, torch.dtype] = {
    "player_exists": torch.uint8, "follower_exists": torch.uint8, "item_exists": torch.uint8,
    "stage": torch.long, "characters": torch.long, "frame_id": torch.int32, "present": torch.uint8,
    **{f"controller_{g.name}": _torch_dtype(g.dtype) for g in layout.CONTROLLER_GROUPS},
    **{f"{who}_{g.name}": _torch_dtype(g.dtype) for who in _PARTS for g in layout.PLAYER_GROUPS},
    **{f"item_{g.name}": _torch_dtype(g.dtype) for g in layout.ITEM_GROUPS},
}
# What the model's compiled step reads and writes: everything but the keys it carries around
# (characters and frame_id never change within a game), in one order (torch.compile guards on it).
STEP_KEYS = tuple(sorted(k for k in DTYPES if k not in ("characters", "frame_id")))


def shapes(batch: int, item_slots: int = MAX_ITEM_SLOTS) -> dict[str, tuple[int, ...]]:
    """The shape of every key of a frame of `batch` games."""
    out: dict[str, tuple[int, ...]] = {
        "stage": (batch,), "characters": (batch, 2), "frame_id": (batch,),
        "player_exists": (batch, 2), "follower_exists": (batch, 2), "item_exists": (batch, item_slots),
        "present": (batch, len(layout.PRESENT_FIELDS)),
        "controller_sticks": (batch, 2, len(layout.CONTROLLER_GROUPS[0].fields)),
        "controller_buttons": (batch, 2, 1),  # the twelve buttons as one bit mask
    }
    for g in layout.PLAYER_GROUPS:
        out[f"player_{g.name}"] = out[f"follower_{g.name}"] = (batch, 2, len(g.fields))
    for g in layout.ITEM_GROUPS:
        out[f"item_{g.name}"] = (batch, item_slots, len(g.fields))
    return out


def blank(batch: int = 1, item_slots: int = MAX_ITEM_SLOTS, device=None, keys=None) -> Frame:
    """All zeros (nobody exists), every field recorded (`present` 1), with the canonical dtypes;
    `keys` picks a subset (default: all)."""
    sizes = shapes(batch, item_slots)
    out = {k: torch.zeros(sizes[k], dtype=DTYPES[k], device=device) for k in (keys or DTYPES)}
    if "present" in out:
        out["present"].fill_(1)
    return out


def canonical(v: Tensor) -> Tensor:
    """`v` with exactly the strides of a fresh contiguous tensor. (`.contiguous()` keeps odd
    strides on size-1 dims, e.g. a (1, 2, 13) slice of a (1, 4, 13) tensor, and torch.compile
    guards on strides.)"""
    expected, acc = [], 1
    for n in reversed(v.shape):
        expected.append(acc)
        acc *= max(n, 1)
    if tuple(reversed(expected)) == v.stride():
        return v
    return torch.empty(v.shape, dtype=v.dtype, device=v.device).copy_(v)


def normalize(frame: Frame, device: torch.device | str | None = None) -> Frame:
    """Canonical dtypes and strides, keys in sorted order, on `device`: a frame from a numpy batch
    and a stepped frame then look the same to a compiled step (no recompiles). Keys this module
    does not know keep their dtype."""
    out = {}
    for k in sorted(frame):
        v = frame[k] if isinstance(frame[k], Tensor) else torch.as_tensor(frame[k])
        out[k] = canonical(v.to(device=device if device is not None else v.device, dtype=DTYPES.get(k, v.dtype)))
    return out


def frame_at(window: Frame, t: int, keys=None) -> Frame:
    """Frame `t` of a window batch (B, T, ...) as a frame (B, ...); timeless keys as they are.
    `keys` picks a subset (default: every key of the window)."""
    return {k: (v if k in TIMELESS else v[:, t]) for k, v in window.items() if keys is None or k in keys}


def first_frames(window: Frame, k: int) -> Frame:
    """Frames 0..k-1 of a window batch (B, T, ...): a seed of k frames."""
    return {key: (v if key in TIMELESS else v[:, :k]) for key, v in window.items()}


def player_column(name: str) -> tuple[str, int]:
    """(group name, column) of a character field: ('real', 0) for 'x'. KeyError if unknown."""
    for g in layout.PLAYER_GROUPS:
        if name in g.names:
            return g.name, g.index(name)
    raise KeyError(f"no player field {name!r} in the store layout")


def item_column(name: str) -> tuple[str, int]:
    """(group name, column) of an item field. KeyError if unknown."""
    for g in layout.ITEM_GROUPS:
        if name in g.names:
            return g.name, g.index(name)
    raise KeyError(f"no item field {name!r} in the store layout")


__all__ = ["CONTROLLER_KEYS", "DTYPES", "FRAME_KEYS", "Frame", "STEP_KEYS", "TIMELESS", "blank",
           "canonical", "first_frames", "frame_at", "item_column", "normalize", "player_column", "shapes"]
