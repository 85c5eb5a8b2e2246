"""Encoding real frames and decoding them back gives the game's values within stated tolerances."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import torch

from dreamland.data import encoding as E
from dreamland.data import layout
from dreamland.data.windows import WindowSampler, whole_game
from dreamland.replay.dataset import Dataset
from dreamland.schema import Kind, Role, Table, fields
from dreamland.schema.actions import UNKNOWN_ACTION


def test_every_model_field_is_encoded():
    """Each predicted, constant or rule field of the schema appears in the encoding exactly once."""
    encoded = [f.name for f in E.SPEC.char_real + E.SPEC.char_cat + E.SPEC.char_bin]
    wanted = [f.name for f in fields(Table.PLAYER) if f.role in (Role.PREDICTED, Role.CONSTANT, Role.RULE)]
    assert sorted(encoded) == sorted(wanted)
    item_encoded = [f.name for f in E.SPEC.item_real + E.SPEC.item_cat + E.SPEC.item_bin]
    item_wanted = [f.name for f in fields(Table.ITEM) if f.role is Role.PREDICTED]
    assert sorted(item_encoded) == sorted(item_wanted)


def test_round_trip_against_the_replay(small_store, small_dataset):
    """Encode whole real games, decode them, and compare with the Parquet values in game units."""
    ds = Dataset(small_dataset)
    for game in range(len(small_store)):
        row = small_store.index.to_pylist()[game]
        batch = E.to_torch(whole_game(small_store, game))
        dec = E.decode(E.encode(batch))
        players = ds.players(row["game_id"])
        for slot, port in enumerate(row["ports"]):
            ref = players.filter(pc.and_(pc.equal(players["port"], port), pc.invert(players["follower"])))
            real = dec["player_real"][0, :, slot].numpy()
            for j, f in enumerate(layout.PLAYER_GROUPS[0].fields):
                want = np.nan_to_num(ref[f.name].fill_null(0).to_numpy().astype(np.float32))
                if f.bounds:
                    want = np.clip(want, *f.bounds)
                # float32 rounding of value / scale * scale: relative 1e-6
                np.testing.assert_allclose(real[:, j], want, rtol=1e-6, atol=1e-4, err_msg=f.name)
            action = dec["player_wide"][0, :, slot, 0].numpy()
            raw = ref["action"].to_numpy()
            np.testing.assert_array_equal(action, np.minimum(raw, UNKNOWN_ACTION))
            small = dec["player_small"][0, :, slot].numpy()
            names = layout.PLAYER_GROUPS[1].names
            np.testing.assert_array_equal(small[:, names.index("stocks")], np.minimum(ref["stocks"].to_numpy(), 4))
            ground = ref["ground"].to_numpy()
            expected_ground = np.where(ground == 65535, 255, np.minimum(ground, 62))
            np.testing.assert_array_equal(small[:, names.index("ground")], expected_ground)
            np.testing.assert_array_equal(small[:, names.index("facing")], (ref["facing"].to_numpy() > 0))
            sticks = dec["controller_sticks"][0, :, slot].float().numpy()
            np.testing.assert_allclose(sticks[:, 0], ref["stick_x"].to_numpy(), atol=1e-3)
            np.testing.assert_allclose(sticks[:, 4], ref["trigger"].to_numpy(), atol=1e-3)
            buttons = dec["controller_buttons"][0, :, slot, 0].numpy()
            np.testing.assert_array_equal(buttons, ref["buttons"].to_numpy() & layout.ALL_BUTTONS)
        # items: every stored record comes back in its slot
        np.testing.assert_array_equal(dec["item_exists"].numpy(), batch["item_exists"].numpy())
        np.testing.assert_allclose(dec["item_real"].numpy(), batch["item_real"].numpy(), rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(dec["item_small"].numpy(), batch["item_small"].numpy())


def test_encoded_ranges(small_store):
    s = WindowSampler(small_store, np.arange(len(small_store)), 30, 16, seed=0)
    enc = E.encode(E.to_torch(next(s.batches(0))))
    assert torch.isfinite(enc["char_real"]).all()
    assert enc["controller"].min() >= 0 and enc["controller"].max() <= 1
    for k, f in enumerate(E.SPEC.char_cat):
        assert enc["char_cat"][..., k].max() < f.vocab and enc["char_cat"][..., k].min() >= 0
    for k, f in enumerate(E.SPEC.item_cat):
        assert enc["item_cat"][..., k].max() < f.vocab
    assert set(enc["char_bin"].unique().tolist()) <= {0.0, 1.0}


def test_controller_round_trip_libmelee_form():
    sticks = torch.tensor([[-1.0, 0.0, 1.0, 0.5, 0.25]])
    buttons = torch.tensor([0x0100 | 0x0800 | 0x0040])  # A, Y, L
    enc = E.encode_controller(sticks, buttons)
    assert enc[0, :5].tolist() == [0.0, 0.5, 1.0, 0.75, 0.25]  # sticks 0.5 neutral
    names = list(E.BUTTON_BITS)
    pressed = {names[i] for i, v in enumerate(enc[0, 5:].tolist()) if v == 1.0}
    assert pressed == {"A", "Y", "L"}
    back_sticks, back_buttons = E.decode_controller(enc)
    assert torch.allclose(back_sticks, sticks) and back_buttons.item() == buttons.item()


def test_kinds_are_covered():
    """Every kind the schema uses for model fields has an encoding."""
    kinds = {f.kind for f in fields(Table.PLAYER) if f.role in (Role.PREDICTED, Role.CONSTANT, Role.RULE)}
    assert kinds <= {Kind.CONTINUOUS, Kind.COUNTER, Kind.CATEGORICAL, Kind.BINARY}
