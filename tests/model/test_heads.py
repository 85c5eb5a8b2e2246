"""Heads, targets and losses: derived from the schema, events kept sharp, losses per field."""

from __future__ import annotations

import pytest
import torch

from dreamland.data.encoding import SPEC, encode
from dreamland.model.config import ConfigError
from dreamland.model.heads import CHAR, DELTA, ITEM, KEEP, SET, ZERO, LossConfig, loss_keys, real_targets
from dreamland.model.window import prepare_window, window_loss
from dreamland.schema import Kind, Role

from .conftest import make_tiny


def test_every_predicted_field_has_a_head_and_a_loss():
    keys = set(loss_keys())
    for part, fields in ((CHAR, SPEC.char_real + SPEC.char_cat + SPEC.char_bin),
                         (ITEM, SPEC.item_real + SPEC.item_cat + SPEC.item_bin)):
        for f in fields:
            assert (part.key(f) in keys) == (f.role is Role.PREDICTED), f.name
        assert f"{part.name}.exists" in keys
    # categorical heads are as wide as their vocabulary
    assert [b - a for a, b in CHAR.o_cat] == [CHAR.cat[j].vocab for j in CHAR.cat_pred]
    assert all(CHAR.real[j].kind in (Kind.CONTINUOUS, Kind.COUNTER) for j in CHAR.real_pred)


def test_real_targets_classify_events():
    """keep (bit-equal), zero (reset), set (a jump: respawn teleport, a new item), delta (motion)."""
    n = CHAR.n_real_pred
    idx = list(CHAR.real_pred)
    F = len(CHAR.real)
    cur = {"char_real": torch.zeros(1, 4, F), "char_exists": torch.tensor([[1.0, 1.0, 1.0, 0.0]])}
    nxt = {"char_real": torch.zeros(1, 4, F), "char_exists": torch.ones(1, 4)}
    x = [f.name for f in CHAR.real].index("x")
    cur["char_real"][0, :, x] = torch.tensor([0.5, 0.5, -2.0, 0.0])
    nxt["char_real"][0, :, x] = torch.tensor([0.5, 0.0, 0.13, 0.1])  # keep, zero, jump, new slot
    cur["char_real"][0, 0, idx[1]] = 0.2
    nxt["char_real"][0, 0, idx[1]] = 0.21  # y moves a little
    dunit = torch.full((n,), 0.05)
    mode, delta, value = real_targets(CHAR, cur, nxt, dunit, jump_threshold=10.0)
    k = idx.index(x)
    assert mode[0, :, k].tolist() == [KEEP, ZERO, SET, SET]
    assert mode[0, 0, 1].item() == DELTA and delta[0, 0, 1].item() == pytest.approx(0.2, abs=1e-5)
    assert value[0, 2, k].item() == pytest.approx(0.13)


def test_window_loss_is_finite_per_field_and_weighted(real_window):
    model = make_tiny().train()
    enc = encode(real_window)
    total, losses = window_loss(model, enc)
    assert set(losses) == set(loss_keys())
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["item.x"] > 0  # the windows have items
    total.backward()
    assert model.char_head.out.weight.grad.abs().sum() > 0
    only = {k: 0.0 for k in loss_keys()}
    only["char.action"] = 2.0
    t2, l2 = window_loss(model, enc, LossConfig(weights=only))
    assert t2.item() == pytest.approx(2 * l2["char.action"].item(), rel=1e-5)
    with pytest.raises(ConfigError, match="unknown key 'char.nope'"):
        LossConfig(weights={"char.nope": 1.0})


def test_tiny_model_learns_a_window(real_window):
    """A few optimiser steps on one batch cut the loss: the heads, targets and gradients fit."""
    torch.manual_seed(0)
    model = make_tiny().train()
    enc = encode(real_window)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        total, _ = window_loss(model, enc)
        first = first if first is not None else total.item()
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < 0.7 * first


def test_prepare_window_shifts_inputs_and_targets(real_window):
    enc = encode(real_window)
    inputs, controllers, targets = prepare_window(enc)
    T = enc["char_real"].shape[1]
    assert inputs["char_cat"].shape[1] == T - 1 == controllers.shape[1] == targets["char_cat"].shape[1]
    assert torch.equal(targets["char_cat"][:, 0], enc["char_cat"][:, 1])
    assert torch.equal(controllers[:, 0], enc["controller"][:, 1])  # the input producing frame 1
    assert inputs["stage"].shape == inputs["char_exists"].shape[:2]
