"""The rules layer and the closed loop, on head outputs forced to known decisions.

Every field of the next frame is either written by a head, carried as a constant, or computed by
the state_age rule; then clamped and made consistent. These tests force the heads (so the answers
are known) and run the real `step`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode, encode_controller, to_torch
from dreamland.data.frame import frame_at
from dreamland.data.windows import Gather
from dreamland.model.bench import synthetic_frame
from dreamland.model.heads import DELTA, KEEP, SET, ZERO, split
from dreamland.model.rules import FLOOR_DIP, FLOOR_SPAN, TOP_SLACK
from dreamland.model.step import encode_state, step
from dreamland.model.window import prepare_window
from dreamland.schema import Role
from dreamland.schema import actions as A
from dreamland.schema.characters import NANA_INTERNAL, POPO_INTERNAL
from dreamland.schema.stages import FINAL_DESTINATION, geometry

from .conftest import make_tiny

BIG = 20.0
STANDING, FALLING, DEAD_DOWN, DEAD_RIGHT, HALO = 14, 29, 0, 2, 12
DAMAGE_HIGH_1 = 0x4B
ALL = slice(None)


def keep_heads(model, enc):
    """Head outputs that decide 'nothing changes': exists as now, every real KEEP, every id and
    flag its current value."""
    out = {}
    for part in (model.char_part, model.item_part):
        p = part.name
        ex = enc[f"{p}_exists"]
        o = torch.zeros(*ex.shape, part.n_out)
        h = split(part, o)  # views into o
        h.exists.copy_(torch.where(ex > 0.5, BIG, -BIG))
        h.mode[..., KEEP] = BIG
        for k, j in enumerate(part.cat_pred):
            h.cat[k].fill_(-BIG)
            h.cat[k].scatter_(-1, enc[f"{p}_cat"][..., j].unsqueeze(-1), BIG)
        for k, j in enumerate(part.bin_pred):
            h.bin[..., k] = torch.where(enc[f"{p}_bin"][..., j] > 0.5, BIG, -BIG)
        out[p] = o
    return out


class Forced:
    """Edit forced head outputs by field name (game units), for all slots of a part or one."""

    def __init__(self, model, enc):
        self.model, self.enc = model, enc
        self.out = keep_heads(model, enc)

    def _part(self, part_name):
        return self.model.char_part if part_name == "char" else self.model.item_part

    def real(self, name, mode, value=0.0, part="char", slot=ALL):
        pt = self._part(part)
        cols = [pt.real[j].name for j in pt.real_pred]
        k = cols.index(name)
        f = pt.real[pt.real_pred[k]]
        h = split(pt, self.out[part])
        h.mode[:, slot, k, :] = -BIG
        h.mode[:, slot, k, mode] = BIG
        dunit = getattr(self.model.rules, f"{part}_dunit")[k].item()
        if mode == SET:
            h.value[:, slot, k] = value / f.scale
        if mode == DELTA:
            h.delta[:, slot, k] = value / f.scale / dunit
        return self

    def cat(self, name, value, part="char", slot=ALL):
        pt = self._part(part)
        k = [pt.cat[j].name for j in pt.cat_pred].index(name)
        h = split(pt, self.out[part])
        h.cat[k][:, slot, :] = -BIG
        h.cat[k][:, slot, value] = BIG
        return self

    def bin(self, name, on, part="char", slot=ALL):
        pt = self._part(part)
        k = [pt.bin[j].name for j in pt.bin_pred].index(name)
        split(pt, self.out[part]).bin[:, slot, k] = BIG if on else -BIG
        return self

    def exists(self, on, part="char", slot=ALL):
        split(self._part(part), self.out[part]).exists[:, slot] = BIG if on else -BIG
        return self


def run_forced(model, frame, edit) -> dict:
    """One real `step` of `frame` whose heads are replaced by `edit(Forced)`."""
    enc = encode_state(frame)
    forced = Forced(model, enc)
    edit(forced)
    model.heads = lambda *inputs: forced.out  # instance attribute: the step calls this
    try:
        ctrl = torch.full((enc["stage"].shape[0], 2, 17), 0.5)
        with torch.no_grad():
            _, nxt = step(model, model.allocate_state(enc["stage"].shape[0]), frame, ctrl)
    finally:
        del model.heads
    return nxt


def col(group_name: str, field: str) -> int:
    for g in layout.PLAYER_GROUPS:
        if g.name == group_name:
            return g.index(field)
    raise KeyError(field)


R = lambda name: ("player_real", col("real", name))  # noqa: E731
S = lambda name: ("player_small", col("small", name))  # noqa: E731


def get(frame, where, slot=0):
    key, j = where
    return frame[key][0, slot, j].item()


def base(stocks=4, percent=0.0, shield=60.0, action=STANDING, stage=FINAL_DESTINATION, age=10.0):
    f = synthetic_frame(1, stage=stage)
    f["player_small"][..., col("small", "stocks")] = stocks
    f["player_real"][..., col("real", "percent")] = percent
    f["player_real"][..., col("real", "shield")] = shield
    f["player_real"][..., col("real", "state_age")] = age
    f["player_wide"][..., 0] = action
    return f


# ------------------------------------------------------------------------------- closed loop


def predicted_fields():
    """(store key, column, field) of every PREDICTED field the store keeps, from the schema."""
    out = []
    for prefix, groups in (("player", layout.PLAYER_GROUPS), ("follower", layout.PLAYER_GROUPS),
                           ("item", layout.ITEM_GROUPS)):
        for g in groups:
            for j, f in enumerate(g.fields):
                if f.role is Role.PREDICTED:
                    out.append((f"{prefix}_{g.name}", j, f))
    return out


def test_closed_loop_every_predicted_field_comes_from_a_head(real_window):
    """Heads forced to change every predicted field: the next frame differs from the input in
    every predicted field of every slot (none is a copy of its input by construction); constants
    are carried; state_age follows its rule. Then heads forced to keep: the next frame equals
    the input exactly in every predicted field (KEEP is exact)."""
    model = make_tiny()
    frame = frame_at(real_window, 20)
    enc = encode_state(frame)

    def change_everything(F: Forced):
        for part in (model.char_part, model.item_part):
            p = part.name
            F.exists(True, part=p)
            for j in part.real_pred:
                f = part.real[j]
                lo, hi = f.bounds or (-1e9, 1e9)
                cur = enc[f"{p}_real"][..., j] * f.scale  # game units, (B, S)
                step_size = 7.0 if f.scale >= 10 else 0.7  # integral counters move by >= 1
                target = torch.where(cur + step_size <= hi, cur + step_size, cur - step_size)
                target = torch.where(target < lo, cur + step_size, target)
                k = part.real_pred.index(j)
                h = split(part, F.out[p])
                h.mode[..., k, :] = -BIG
                h.mode[..., k, SET] = BIG
                h.value[..., k] = target / f.scale
            for k, j in enumerate(part.cat_pred):
                f = part.cat[j]
                cur = enc[f"{p}_cat"][..., j]
                if f.name == "action":
                    target = torch.where(cur == DEAD_DOWN, DEAD_RIGHT, DEAD_DOWN)  # dead: no clamping
                elif f.name == "stocks":
                    target = (cur - 1).clamp_min(0)
                else:
                    target = (cur + 1) % f.vocab
                h = split(part, F.out[p])
                h.cat[k].fill_(-BIG)
                h.cat[k].scatter_(-1, target.unsqueeze(-1), BIG)
            for k, j in enumerate(part.bin_pred):
                split(part, F.out[p]).bin[..., k] = torch.where(enc[f"{p}_bin"][..., j] > 0.5, -BIG, BIG)

    assert (enc["char_cat"][..., [f.name for f in model.char_part.cat].index("stocks")][..., :2] >= 1).all()
    nxt = run_forced(model, frame, change_everything)
    checked = set()
    for key, j, f in predicted_fields():
        a, b = nxt[key][..., j], frame[key][..., j]
        same = (a == b)
        if f.name == "stocks":  # an absent follower has 0 stocks, and stocks never rise (a rule)
            same &= b != 0
        assert not same.any(), f"{key}:{f.name} stayed equal to its input in {int(same.sum())} slots"
        checked.add((key.split("_")[0], f.name))
    # every predicted field of the schema was checked, in leaders, followers and items
    assert {(p, f.name) for p in ("player", "follower") for f in layout.PLAYER_STATE if f.role is Role.PREDICTED} | \
        {("item", f.name) for f in layout.ITEM_STATE if f.role is Role.PREDICTED} == checked
    # constants carried, the rule applied
    assert torch.equal(nxt["player_small"][..., col("small", "character")], frame["player_small"][..., col("small", "character")])
    assert torch.equal(nxt["stage"], frame["stage"].long())
    assert (nxt["player_real"][..., col("real", "state_age")] == 0).all()  # the action changed
    assert (nxt["follower_exists"] == 1).all() and (nxt["item_exists"] == 1).all()

    kept = run_forced(model, frame, lambda F: None)
    for key, j, f in predicted_fields():
        assert torch.equal(kept[key][..., j], frame[key][..., j].to(kept[key].dtype)), f"{key}:{f.name}"
    age_col = col("real", "state_age")
    exists = frame["player_exists"] > 0
    assert torch.allclose(kept["player_real"][..., age_col][exists], frame["player_real"][..., age_col][exists] + 1)


# ------------------------------------------------------------------------------- rules


def test_modes_keep_zero_set_delta():
    model = make_tiny()
    f = base(percent=12.5)
    f["player_real"][..., col("real", "x")] = torch.tensor([-60.123, 61.5])
    n = run_forced(model, f, lambda F: F.real("x", DELTA, 2.5, slot=1).real("vel_y", SET, -3.25)
                   .real("percent", ZERO))
    assert get(n, R("x"), 0) == get(f, R("x"), 0)  # KEEP is bit-exact
    assert get(n, R("x"), 1) == pytest.approx(64.0, abs=1e-4)
    assert get(n, R("vel_y"), 0) == pytest.approx(-3.25, abs=1e-5)
    assert get(n, R("percent"), 0) == 12.5  # ZERO refused: percent only falls on respawn


def test_percent_and_shield_clamps():
    model = make_tiny()
    f = base(percent=50.0, shield=30.0)
    n = run_forced(model, f, lambda F: F.real("percent", SET, 1200.0).real("shield", SET, 75.0))
    assert get(n, R("percent")) == 999.0 and get(n, R("shield")) == 60.0
    n = run_forced(model, f, lambda F: F.real("percent", DELTA, -10.0).real("shield", SET, -3.0)
                   .real("hitlag", SET, -5.0))
    assert get(n, R("percent")) == 50.0 and get(n, R("shield")) == 0.0 and get(n, R("hitlag")) == 0.0
    n = run_forced(model, f, lambda F: F.real("percent", ZERO).cat("action", HALO))
    assert get(n, R("percent")) == 0.0  # reset on entering the respawn platform


def test_stocks_change_only_by_one_on_a_death():
    model = make_tiny()
    f = base(stocks=3)
    n = run_forced(model, f, lambda F: F.cat("action", DEAD_DOWN).cat("stocks", 1))
    assert get(n, S("stocks")) == 2
    n = run_forced(model, f, lambda F: F.cat("action", DEAD_DOWN).cat("stocks", 4))
    assert get(n, S("stocks")) == 3
    n = run_forced(model, f, lambda F: F.cat("action", STANDING).cat("stocks", 2))
    assert get(n, S("stocks")) == 3
    n = run_forced(model, base(stocks=0), lambda F: F.cat("action", DEAD_DOWN).cat("stocks", 0))
    assert get(n, S("stocks")) == 0


def test_positions_stay_in_blast_zones_unless_dying():
    model = make_tiny()
    g = geometry(FINAL_DESTINATION)
    f = base()
    n = run_forced(model, f, lambda F: F.real("x", SET, 300.0, slot=0).real("x", SET, -300.0, slot=1)
                   .real("y", SET, -200.0, slot=0).real("y", SET, 210.0, slot=1))
    assert get(n, R("x"), 0) == g.blast_right and get(n, R("x"), 1) == g.blast_left
    assert get(n, R("y"), 0) == pytest.approx(g.blast_bottom)
    assert get(n, R("y"), 1) == pytest.approx(210.0)  # above the top, within the slack: allowed
    n = run_forced(model, f, lambda F: F.real("y", SET, 250.0))
    assert get(n, R("y")) == pytest.approx(g.blast_top + TOP_SLACK)
    n = run_forced(model, f, lambda F: F.real("x", SET, 300.0).cat("action", DEAD_RIGHT))
    assert get(n, R("x")) == pytest.approx(300.0)  # a stock being lost: no clamp
    n = run_forced(model, base(stage=0), lambda F: F.real("x", SET, 300.0))
    assert get(n, R("x")) == pytest.approx(300.0)  # no geometry for this stage: no clamp


def test_a_living_character_does_not_fall_through_the_main_floor():
    model = make_tiny()
    g = geometry(FINAL_DESTINATION)
    inside, outside = 0.8 * FLOOR_SPAN * g.ground_x, 1.05 * g.ground_x

    def y_after(x, y_now, y_next, action=FALLING, stage=FINAL_DESTINATION):
        f = base(stage=stage)
        f["player_real"][..., col("real", "x")] = x
        f["player_real"][..., col("real", "y")] = y_now
        n = run_forced(model, f, lambda F: F.real("x", KEEP).real("y", SET, y_next).cat("action", action))
        return get(n, R("y"))

    assert y_after(inside, 0.0, -FLOOR_DIP - 5) == pytest.approx(0.0, abs=1e-3)  # a landing
    assert y_after(-inside, 3.0, -FLOOR_DIP - 5) == pytest.approx(0.0, abs=1e-3)
    assert y_after(inside, 0.0, -FLOOR_DIP + 2) == pytest.approx(-FLOOR_DIP + 2)  # a landing's dip
    assert y_after(outside, 0.0, -FLOOR_DIP - 5) == pytest.approx(-FLOOR_DIP - 5)  # off the edge
    assert y_after(inside, -30.0, -35.0) == pytest.approx(-35.0)  # already below the stage
    assert y_after(inside, 0.0, -FLOOR_DIP - 5, action=DEAD_DOWN) == pytest.approx(-FLOOR_DIP - 5)
    assert y_after(inside, 0.0, -FLOOR_DIP - 5, stage=0) == pytest.approx(-FLOOR_DIP - 5)  # no geometry


def _transitions(store):
    """(frame t, frame t+1) of every game of `store` as encoded windows (states as training reads
    them), one game at a time."""
    for game in range(len(store.start)):
        n = int(store.length[game])
        enc = encode(to_torch(Gather(store, n)(np.array([int(store.start[game])]), np.array([game]))))
        cur, _, nxt = prepare_window(enc)
        yield cur, nxt


def test_real_games_keep_the_floor_rule(small_store):
    """Every real frame-to-frame transition of the test games already obeys the floor rule (the
    rule changes none, or a handful), while the games do dip below the floor."""
    rules = make_tiny().rules
    changed = total = dipped = 0
    for cur, nxt in _transitions(small_store):
        x, y = nxt["char_real"][..., rules.c_x], nxt["char_real"][..., rules.c_y]
        act = nxt["char_cat"][..., rules.c_action]
        alive = ~rules.is_dead[act] & ~rules.is_held[act] & (nxt["char_exists"] > 0.5)
        ruled = rules._floor(x, y, cur, alive)
        changed += int((ruled != y).sum())
        total += int(alive.sum())
        dipped += int((alive & (y * rules.scale_y < -0.5) & (x.abs() <= rules.floor_span[cur["stage"]].unsqueeze(-1))).sum())
    print(f"floor rule: {changed} of {total} real transitions changed; {dipped} frames below the floor over it")
    assert dipped > 0 and changed <= 1e-4 * total


def test_last_attack_landed_changes_only_where_a_hit_lands():
    model = make_tiny()
    f = base(percent=20.0)
    f["player_small"][..., col("small", "last_attack_landed")] = 7
    n = run_forced(model, f, lambda F: F.cat("last_attack_landed", 12))
    assert get(n, S("last_attack_landed")) == 7  # nobody's percent rose: kept
    n = run_forced(model, f, lambda F: F.cat("last_attack_landed", 12).real("percent", SET, 31.0, slot=1))
    assert get(n, S("last_attack_landed")) == 12  # the opponent took damage: a hit landed
    n = run_forced(model, f, lambda F: F.cat("last_attack_landed", 12).cat("action", FALLING))
    assert get(n, S("last_attack_landed")) == 7  # a new action alone lands no attack
    n = run_forced(model, f, lambda F: F.cat("last_attack_landed", 0).cat("action", HALO))
    assert get(n, S("last_attack_landed")) == 0  # but may clear it (a respawn)


def test_real_games_change_last_attack_landed_where_the_rule_lets_them(small_store):
    """In the test games every change of last_attack_landed comes on a frame where some
    character's percent rises, or is a reset to 0 with a new action: the frames the rule leaves
    open."""
    rules = make_tiny().rules
    allowed = changes = 0
    for cur, nxt in _transitions(small_store):
        damaged = nxt["char_real"][..., rules.c_percent] > cur["char_real"][..., rules.c_percent]
        new_action = nxt["char_cat"][..., rules.c_action] != cur["char_cat"][..., rules.c_action]
        now, then = cur["char_cat"][..., rules.c_landed], nxt["char_cat"][..., rules.c_landed]
        changed = (then != now) & (nxt["char_exists"] > 0.5)
        changes += int(changed.sum())
        allowed += int((changed & (rules._landed(then, now, damaged, new_action) == then)).sum())
    print(f"last_attack_landed: {allowed} of {changes} real changes on frames the rule leaves open")
    assert changes > 100 and allowed >= 0.98 * changes


def test_the_ground_is_kept_through_the_air():
    model = make_tiny()
    f = base(action=FALLING)
    f["player_small"][..., col("small", "airborne")] = 1
    f["player_small"][..., col("small", "ground")] = 3
    n = run_forced(model, f, lambda F: F.cat("ground", 5))
    assert get(n, S("ground")) == 3  # still in the air, in the same action: the ground it left
    n = run_forced(model, f, lambda F: F.cat("ground", 5).cat("action", STANDING))
    assert get(n, S("ground")) == 5  # it lands: the ground it lands on


def test_real_games_change_the_ground_where_the_rule_lets_them(small_store):
    """In the test games the ground changes (nearly) never while a character stays airborne in
    one action, and the characters do spend many frames like that."""
    rules = make_tiny().rules
    blocked = changes = in_air = 0
    for cur, nxt in _transitions(small_store):
        air = (nxt["char_bin"][..., rules.c_airborne] > 0.5) & (cur["char_bin"][..., rules.c_airborne] > 0.5)
        same = nxt["char_cat"][..., rules.c_action] == cur["char_cat"][..., rules.c_action]
        on = nxt["char_exists"] > 0.5
        changed = (nxt["char_cat"][..., rules.c_ground] != cur["char_cat"][..., rules.c_ground]) & on
        changes += int(changed.sum())
        blocked += int((changed & air & same).sum())
        in_air += int((air & same & on).sum())
    print(f"ground: {blocked} of {changes} real changes in the air within one action; {in_air} such frames")
    assert changes > 100 and in_air > 10_000 and blocked <= 0.02 * changes


def test_action_decides_airborne():
    model = make_tiny()
    assert A.is_airborne_only(FALLING) and A.is_grounded_only(STANDING)
    assert not A.is_airborne_only(DAMAGE_HIGH_1) and not A.is_grounded_only(DAMAGE_HIGH_1)
    f = base()
    air = S("airborne")
    n = run_forced(model, f, lambda F: F.cat("action", FALLING).bin("airborne", False))
    assert get(n, air) == 1
    n = run_forced(model, f, lambda F: F.cat("action", STANDING).bin("airborne", True))
    assert get(n, air) == 0
    for on in (True, False):
        n = run_forced(model, f, lambda F: F.cat("action", DAMAGE_HIGH_1).bin("airborne", on))
        assert get(n, air) == int(on)


def test_state_age_rule_and_integer_fields():
    model = make_tiny()
    f = base(age=10.0)
    n = run_forced(model, f, lambda F: F.real("combo_count", SET, 2.4))
    assert get(n, R("state_age")) == 11.0
    assert get(n, R("combo_count")) == 2.0  # uint8 in the schema: rounded
    n = run_forced(model, f, lambda F: F.cat("action", FALLING).real("combo_count", SET, -3.0))
    assert get(n, R("state_age")) == 0.0 and get(n, R("combo_count")) == 0.0


def test_absent_slots_are_zero_and_followers_come_back_as_nana():
    model = make_tiny()
    f = base()
    f["player_small"][..., col("small", "character")] = torch.tensor([POPO_INTERNAL, 2], dtype=torch.uint8)
    n = run_forced(model, f, lambda F: F.exists(True, slot=2).exists(False, slot=3)
                   .exists(True, part="item", slot=4).real("x", SET, 30.0, part="item", slot=4))
    assert n["follower_exists"][0].tolist() == [1, 0]
    assert n["follower_small"][0, 0, col("small", "character")] == NANA_INTERNAL
    assert (n["follower_real"][0, 1] == 0).all() and (n["follower_small"][0, 1] == 0).all()
    assert n["item_exists"][0].tolist() == [0, 0, 0, 0, 1] + [0] * 11
    assert n["item_real"][0, 4, 0].item() == pytest.approx(30.0)
    assert (n["item_real"][0, :4] == 0).all()
    n = run_forced(model, f, lambda F: F.exists(False, slot=0))
    assert n["player_exists"][0].tolist() == [1, 1]  # the leaders' existence is carried


def test_controllers_given_become_the_frames_inputs():
    model = make_tiny()
    f = base()
    sticks = torch.tensor([[[0.5, -1.0, 0.0, 0.25, 0.75], [0.0, 0.0, 0.0, 0.0, 0.0]]])
    buttons = torch.tensor([[0x100 | 0x20, 0]])
    ctrl = encode_controller(sticks, buttons)
    with torch.no_grad():
        _, n = step(model, model.allocate_state(1), f, ctrl)
    assert n["controller_buttons"][0, :, 0].tolist() == [0x120, 0]
    assert torch.allclose(n["controller_sticks"].float(), sticks, atol=1e-3)
