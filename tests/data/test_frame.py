"""The one frame layout (`data.frame`) round-trips through pack, windows and the model's step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamland.data import frame as F
from dreamland.data import layout
from dreamland.data.encoding import encode, to_torch
from dreamland.data.windows import Gather
from dreamland.model.config import preset
from dreamland.model.stepper import ModelStepper
from dreamland.model.world import WorldModel


def _real_window(store, frames: int) -> dict[str, torch.Tensor]:
    game = 0
    start = int(store.start[game]) + 1000  # mid-game, past the countdown
    return to_torch(Gather(store, frames)(np.array([start]), np.array([game])))


def test_a_packed_window_has_the_frame_layout(small_store):
    """Frame keys, shapes and (normalised) dtypes of a real window are the table's, and a
    column named through the table reads the store's own value of that field."""
    window = _real_window(small_store, 8)
    one = F.frame_at(window, 3)
    sizes = F.shapes(1, window["item_exists"].shape[-1])
    for k in F.FRAME_KEYS + F.CONTROLLER_KEYS + ("present", "frame_id"):
        assert k in one, k
        assert tuple(one[k].shape) == sizes[k], k
    normal = F.normalize(one)
    assert list(normal) == sorted(normal)
    for k, v in normal.items():
        if k in F.DTYPES:
            assert v.dtype == F.DTYPES[k], k
    group, col = F.player_column("percent")
    at = int(small_store.start[0]) + 1000 + 3
    stored = small_store[f"player_{group}"][at, :, col]
    assert np.array_equal(one[f"player_{group}"][0, :, col].numpy(), stored)
    group, col = F.item_column("type")
    assert group == "small" and layout.ITEM_GROUPS[1].names[col] == "type"


def test_the_step_returns_the_layout_it_reads(small_store):
    window = _real_window(small_store, 8)
    stepper = ModelStepper(WorldModel(preset("tiny")), context=4)
    state = stepper.init(F.first_frames(window, 4))
    frame = F.normalize(F.frame_at(window, 3))
    controllers = encode(window)["controller"][:, 4]
    _, nxt = stepper.step(state, frame, controllers)
    assert set(nxt) == set(frame)
    for k, v in frame.items():
        assert nxt[k].shape == v.shape and nxt[k].dtype == v.dtype, k
    assert int(nxt["frame_id"]) == int(frame["frame_id"]) + 1


def test_blank_and_step_keys():
    blank = F.blank(3, 5)
    assert set(blank) == set(F.DTYPES)
    assert all(v.shape == F.shapes(3, 5)[k] and v.dtype == F.DTYPES[k] for k, v in blank.items())
    assert (blank["present"] == 1).all() and not blank["player_exists"].any()
    assert list(F.STEP_KEYS) == sorted(F.STEP_KEYS)
    assert "characters" not in F.STEP_KEYS and "frame_id" not in F.STEP_KEYS
    assert set(F.blank(1, keys=F.STEP_KEYS)) == set(F.STEP_KEYS)


def test_canonical_strides():
    wide = torch.zeros(1, 4, 13)
    part = wide[:, 2:]
    assert part.is_contiguous() and part.stride() != (26, 13, 1)  # contiguous, odd strides
    assert F.canonical(part).stride() == (26, 13, 1)
    fresh = torch.zeros(2, 3)
    assert F.canonical(fresh) is fresh


def test_unknown_columns_are_named():
    with pytest.raises(KeyError, match="no player field 'nope'"):
        F.player_column("nope")
    with pytest.raises(KeyError, match="no item field 'nope'"):
        F.item_column("nope")
