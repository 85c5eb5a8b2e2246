"""The action table as the start of the action head (model/lookup.py), on real games."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamland.config import ConfigError
from dreamland.data import layout
from dreamland.data.action_table import ActionTable, input_class, run_age
from dreamland.data.encoding import encode, encode_controller, to_torch
from dreamland.data.windows import Gather
from dreamland.model.checkpoint import load, save
from dreamland.model.config import preset
from dreamland.model.heads import split
from dreamland.model.window import predict_window, prepare_window
from dreamland.schema.actions import UNKNOWN_ACTION

from .conftest import make_tiny_lookup

ACTION = layout.PLAYER_GROUPS[2].index("action")
CHAR = layout.PLAYER_GROUPS[1].index("character")
UNSEEN = 3  # Sheik vs Falco: both characters are also in the other four games


def _game_window(store, g: int):
    """A whole game as one window of store values (1, T, ...)."""
    n = int(store.length[g])
    return to_torch(Gather(store, n)(np.array([int(store.start[g])]), np.array([g])))


def _table_answers(store, table, g: int) -> torch.Tensor:
    """The table's next action for every frame of a game (T-1, 2), from the raw store arrays and
    run ages counted from the game's first frame: the lookup baseline's reading."""
    a, b = int(store.start[g]), int(store.start[g] + store.length[g])
    action = torch.from_numpy(np.asarray(store["player_wide"][a:b, :, ACTION]).astype(np.int64)).clamp(0, UNKNOWN_ACTION)
    char = torch.from_numpy(np.asarray(store["player_small"][a:b, :, CHAR]).astype(np.int64))
    ctrl = encode_controller(torch.from_numpy(np.asarray(store["controller_sticks"][a:b]).astype(np.float32)),
                             torch.from_numpy(np.asarray(store["controller_buttons"][a:b, :, 0]).astype(np.int64)))
    age = torch.from_numpy(run_age(action.numpy()))
    return table.next_action(char[:-1], action[:-1], age[:-1], input_class(ctrl[1:]))


def test_an_untrained_model_predicts_what_the_table_predicts(small_store):
    """With the heads' own output zeroed, the action logits are the table's bonus alone: on a game
    the table did not count, the model's teacher-forced next action is the lookup baseline's, and
    it beats "the action stays" as the baseline does."""
    games = np.arange(len(small_store.start))
    table = ActionTable.count(small_store, np.setdiff1d(games, [UNSEEN]), top=UNKNOWN_ACTION)
    model = make_tiny_lookup(table)
    with torch.no_grad():
        model.char_head.out.weight.zero_()
        model.char_head.out.bias.zero_()
    enc = encode(_game_window(small_store, UNSEEN))
    inputs, controllers, targets = prepare_window(enc)
    with torch.no_grad():
        pred = predict_window(model, inputs, controllers)
    a = model.lookup.action
    pred_action, real, cur = (x["char_cat"][0, :, :2, a] for x in (pred, targets, inputs))
    reference = _table_answers(small_store, table, UNSEEN)
    # (the window's first action run reads the game's own age counter, the baseline the run age)
    agree = (pred_action == reference)[300:].float().mean().item()
    acc, base = ((x == real).float().mean().item() for x in (pred_action, reference))
    hold = (cur == real).float().mean().item()
    print(f"agrees with the baseline on {agree:.4f}; accuracy {acc:.4f}, baseline {base:.4f}, hold {hold:.4f}")
    assert agree > 0.999
    assert acc > hold


def test_the_bonus_is_only_on_the_leaders_table_action(real_window, action_table):
    model = make_tiny_lookup(action_table)
    enc = encode(real_window)
    inputs, controllers, _ = prepare_window(enc)
    like = torch.zeros(*controllers.shape[:2], 4, model.char_part.n_out)
    with torch.no_grad():
        bonus = model.lookup(inputs, controllers, like)
        nxt, _, _ = model.lookup.proposal(inputs, controllers)
    cat = split(model.char_part, bonus).cat[model.char_part.cat_pred.index(model.lookup.action)]
    assert (bonus[..., 2:, :] == 0).all()  # followers: no table
    assert ((bonus != 0).sum(-1) <= 1).all()
    picked = cat[..., :2, :].gather(-1, nxt.unsqueeze(-1)).squeeze(-1)
    assert torch.equal(cat[..., :2, :].sum(-1), picked)


def test_the_heads_read_the_proposal_only_with_lookup_to_heads(real_window, action_table):
    """With `lookup_to_heads` a leader's heads change when the table proposes another action;
    without it they do not read the proposal at all."""
    enc = encode(real_window)
    inputs, controllers, _ = prepare_window(enc)
    for to_heads in (False, True):
        model = make_tiny_lookup(action_table, lookup_to_heads=to_heads)
        with torch.no_grad():
            out = model(inputs, controllers)["char"]
            model.lookup.actions.copy_((model.lookup.actions + 1) % (model.lookup.top + 1))
            model.lookup.back_actions.copy_((model.lookup.back_actions + 1) % (model.lookup.top + 1))
            moved = model(inputs, controllers)["char"]
        real = split(model.char_part, moved - out)
        changed = (real.mode.abs() + real.delta.abs().unsqueeze(-1)).sum((-1, -2))[..., :2] > 0
        assert bool(changed.any()) == to_heads


def test_the_table_travels_with_the_checkpoint(action_table, tmp_path):
    model = make_tiny_lookup(action_table)
    save(tmp_path / "ck", model)
    loaded = load(tmp_path / "ck").model
    for name in ("keys", "actions", "shares", "back_keys", "back_actions", "back_shares"):
        assert torch.equal(getattr(loaded.lookup, name), getattr(model.lookup, name)), name
    assert loaded.config.lookup_keys == len(action_table.keys)


def test_table_and_config_errors(action_table):
    with pytest.raises(ConfigError, match="needs action_lookup"):
        preset("tiny", lookup_keys=10)
    with pytest.raises(ConfigError, match="lookup_to_heads needs action_lookup"):
        preset("tiny", lookup_to_heads=True)
    with pytest.raises(ConfigError, match="lookup_back_keys must be an integer"):
        preset("tiny", action_lookup=True, lookup_back_keys=-1)
    model = make_tiny_lookup(action_table)
    small = ActionTable(*(getattr(action_table, n)[:5] for n in ("keys", "actions", "shares")),
                        action_table.back_keys, action_table.back_actions, action_table.back_shares)
    with pytest.raises(ValueError, match="was built for"):
        model.lookup.fill(small)
    with pytest.raises(ValueError, match="needs at least one game"):
        ActionTable.count(None, np.array([], dtype=int))
