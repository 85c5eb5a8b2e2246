"""The game's own rules as the model's starting point (model/priors.py), the calibration of change
probabilities, and the fields older replays never recorded, on real replays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode, to_torch
from dreamland.data.store import Store, pack
from dreamland.data.windows import Gather
from dreamland.model.heads import KEEP, N_MODES, Base, part_losses, real_targets, split
from dreamland.model.priors import KEEP_TOLERANCE
from dreamland.model.rules import game_age_offset
from dreamland.model.window import loss_from_heads, prepare_window

from .conftest import WINDOW, make_tiny

BIG = 30.0
OLD_GAME = "hohav_peppi__tests_data_console_name.slp"  # Slippi 1.7.1: no velocities, hitlag, flags
NEW_GAME = "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp"  # 3.x: every field


@pytest.fixture(scope="module")
def mixed_store(replay_file, tmp_path_factory) -> Store:
    """An old (1.7.1) and a modern full game, packed together."""
    from dreamland.replay.ingest import ingest

    root = tmp_path_factory.mktemp("mixed")
    folder = root / "replays"
    folder.mkdir()
    for name in (OLD_GAME, NEW_GAME):
        (folder / name).symlink_to(replay_file(name))
    ingest([str(folder)], root / "dataset", workers=1)
    pack(root / "dataset", root / "store")
    return Store(root / "store")


def _game(store: Store, name: str) -> int:
    sources = store.index["source"].to_pylist()
    return next(i for i, s in enumerate(sources) if s.endswith(name))


def _windows(store: Store, game: int, n: int = 4, length: int = WINDOW) -> dict[str, torch.Tensor]:
    first = int(store.start[game]) + 600
    last = int(store.start[game] + store.length[game]) - length - 1
    starts = np.linspace(first, last, n).astype(np.int64)
    return to_torch(Gather(store, length)(starts, np.full(n, game)))


def _exact_heads(model, inputs, targets, base=None):
    """Head outputs that state the real next frame exactly: the target mode, delta and value of
    every real column, the target id of every categorical field, the target flags."""
    out = {}
    for part in (model.char_part, model.item_part):
        p = part.name
        ex = targets[f"{p}_exists"]
        o = torch.zeros(*ex.shape, part.n_out)
        h = split(part, o)
        h.exists.copy_(torch.where(ex > 0.5, BIG, -BIG))
        dunit = getattr(model.rules, f"{p}_dunit")
        b = base if p == "char" else None
        mode, delta, value = real_targets(part, inputs, targets, dunit, model.rules.jump_threshold, b)
        h.mode.copy_(torch.where(torch.nn.functional.one_hot(mode, N_MODES) > 0, BIG, -BIG))
        h.delta.copy_(delta)
        h.value.copy_(value)
        for k, j in enumerate(part.cat_pred):
            h.cat[k].fill_(-BIG)
            h.cat[k].scatter_(-1, targets[f"{p}_cat"][..., j].unsqueeze(-1), BIG)
        for k, j in enumerate(part.bin_pred):
            h.bin[..., k] = torch.where(targets[f"{p}_bin"][..., j] > 0.5, BIG, -BIG)
        out[p] = o
    return out


def _col(name: str) -> int:
    return layout.PLAYER_GROUPS[0].index(name)


# ------------------------------------------------------------------------------ the rules


def test_positions_integrate_the_next_frames_velocities_in_real_games(small_store):
    """x(t+1) = x(t) + the next frame's ground or air velocity + attack velocity, and in the air
    y likewise: the rule describes most frames of real games where the character moves."""
    model = make_tiny(rule_priors=True)
    priors = model.rules.priors
    hits, moving = np.zeros(2), np.zeros(2)
    air = layout.PRESENT_FIELDS.index("airborne") - len(model.char_part.real) - len(model.char_part.cat)
    for game in range(len(small_store.start)):
        enc = encode(_windows(small_store, game, n=8, length=120))
        cur, nxt = enc["char_real"][:, :-1], enc["char_real"][:, 1:]
        base = priors.base(cur, enc["char_cat"][:, :-1], nxt, enc["char_bin"][:, 1:])
        on = (enc["char_exists"][:, :-1] > 0.5) & (enc["char_exists"][:, 1:] > 0.5)
        scored = (on, on & (enc["char_bin"][:, 1:, :, air] > 0.5))  # y: in the air
        for i, k in enumerate((priors.k["x"], priors.k["y"])):
            j = model.char_part.real_pred[k]
            scale = model.char_part.real[j].scale
            moved = scored[i] & (nxt[..., j] != cur[..., j])
            close = (base[..., k] - nxt[..., j]).abs() * scale <= KEEP_TOLERANCE
            hits[i] += (close & moved).sum().item()
            moving[i] += moved.sum().item()
    share = hits / np.maximum(moving, 1)
    print(f"velocity integration where the character moves: x {share[0]:.3f} of {moving[0]:.0f} frames, "
          f"y in the air {share[1]:.3f} of {moving[1]:.0f}")
    assert moving.min() > 1000
    assert share[0] > 0.8 and share[1] > 0.8


def test_hitlag_counts_down_in_real_games(small_store):
    model = make_tiny(rule_priors=True)
    priors = model.rules.priors
    j = model.char_part.real_pred[priors.k["hitlag"]]
    scale = model.char_part.real[j].scale
    agree = total = 0
    for game in range(len(small_store.start)):
        enc = encode(_windows(small_store, game, n=8, length=200))
        cur, nxt = enc["char_real"][:, :-1], enc["char_real"][:, 1:]
        base = priors.base(cur, enc["char_cat"][:, :-1], nxt, enc["char_bin"][:, 1:])[..., priors.k["hitlag"]] * scale
        hit = cur[..., j] > 0
        agree += ((base == nxt[..., j] * scale) & hit).sum().item()
        total += hit.sum().item()
    print(f"hitlag countdown: {agree}/{total} frames in hitlag")
    assert total > 50 and agree / total > 0.95


def test_the_games_state_age_counter_follows_its_rule_in_real_games(small_store):
    """The replay's counter, from one real frame to the next with the real actions and hitlag:
    +1, +0 from hitlag to hitlag, 0 with a new action (`rules.game_age_offset`). Far closer than
    holding it, which is what a stepper reported before it kept the game's counter."""
    age, hitlag, action = (layout.PLAYER_GROUPS[0].index("state_age"), layout.PLAYER_GROUPS[0].index("hitlag"),
                           layout.PLAYER_GROUPS[2].index("action"))
    rule_err = hold_err = stalls = 0.0
    total = 0
    for g in range(len(small_store.start)):
        a, n = int(small_store.start[g]), int(small_store.length[g])
        real = torch.from_numpy(np.array(small_store["player_real"][a:a + n], np.float32))
        act = torch.from_numpy(np.asarray(small_store["player_wide"][a:a + n]).astype(np.int64))[..., action]
        cur, nxt = real[:-1], real[1:]
        continued = act[1:] == act[:-1]
        stalled = (cur[..., hitlag] > 0) & (nxt[..., hitlag] > 0)
        offset = game_age_offset(torch.zeros_like(cur[..., age]), continued, stalled)
        predicted = torch.where(continued, cur[..., age] + 1 + offset, torch.zeros_like(offset))
        rule_err += (predicted - nxt[..., age]).abs().sum().item()
        hold_err += (cur[..., age] - nxt[..., age]).abs().sum().item()
        stalls += (stalled & continued).sum().item()
        total += cur[..., age].numel()
    print(f"state_age one frame on: rule {rule_err / total:.3f}, hold {hold_err / total:.3f} "
          f"over {total} frames, {stalls:.0f} in hitlag")
    assert total > 10_000 and stalls > 100
    assert rule_err < 0.5 * hold_err


VELOCITY_RULES = {  # field -> the frames where its rule applies, by the next frame's airborne flag
    "vel_y": "air", "vel_air_x": "air", "vel_ground_x": "ground", "vel_attack_x": "any", "vel_attack_y": "any",
}


def test_velocities_follow_each_characters_physics_in_real_games(small_store):
    """Gravity down to the terminal velocity, friction toward 0, knockback decay: on the frames
    where a velocity changes, the rule predicts most changes exactly, and over all frames it is
    right more often than "the velocity stays"."""
    model = make_tiny(rule_priors=True, velocity_rules=True)
    priors = model.rules.priors
    air_col = layout.PRESENT_FIELDS.index("airborne") - len(model.char_part.real) - len(model.char_part.cat)
    rule_hits, keep_hits, changed_hits, changed, frames = (dict.fromkeys(VELOCITY_RULES, 0) for _ in range(5))
    for game in range(len(small_store.start)):
        enc = encode(_windows(small_store, game, n=8, length=200))
        cur, nxt = enc["char_real"][:, :-1], enc["char_real"][:, 1:]
        base = priors.base(cur, enc["char_cat"][:, :-1], nxt, enc["char_bin"][:, 1:])
        air = enc["char_bin"][:, 1:, :, air_col] > 0.5
        on = (enc["char_exists"][:, :-1] > 0.5) & (enc["char_exists"][:, 1:] > 0.5)
        for name, where in VELOCITY_RULES.items():
            j, scale = _col(name), model.char_part.real[_col(name)].scale
            scored = on & {"air": air, "ground": ~air, "any": torch.ones_like(air)}[where]
            ruled = (base[..., priors.k[name]] - nxt[..., j]).abs() * scale <= KEEP_TOLERANCE
            moved = nxt[..., j] != cur[..., j]
            rule_hits[name] += (ruled & scored).sum().item()
            keep_hits[name] += (~moved & scored).sum().item()
            changed_hits[name] += (ruled & moved & scored).sum().item()
            changed[name] += (moved & scored).sum().item()
            frames[name] += scored.sum().item()
    for name in VELOCITY_RULES:
        print(f"{name}: rule {rule_hits[name] / frames[name]:.3f}, stays {keep_hits[name] / frames[name]:.3f}, "
              f"changes predicted {changed_hits[name] / max(changed[name], 1):.3f} of {changed[name]}")
        assert changed[name] > 200, name
        assert rule_hits[name] > keep_hits[name], name
    assert changed_hits["vel_y"] / changed["vel_y"] > 0.6
    for name in ("vel_attack_x", "vel_attack_y"):
        assert changed_hits[name] / changed[name] > 0.6, name


def test_velocity_rules_have_finite_gradients_at_rest(real_window):
    """Self-forcing differentiates the rules' base through predicted frames, where knockback is
    often exactly 0 (a vector with no direction): its gradient there must be finite."""
    model = make_tiny(velocity_rules=True, rule_priors=True)
    priors = model.rules.priors
    enc = encode(real_window)
    real = enc["char_real"][:, :3].clone()
    for name in ("vel_attack_x", "vel_attack_y"):
        real[..., priors.col[name]] = 0.0
    real.requires_grad_(True)
    base = priors.base(real, enc["char_cat"][:, :3], enc["char_real"][:, 1:4], enc["char_bin"][:, 1:4])
    (grad,) = torch.autograd.grad(base.sum(), real)
    assert torch.isfinite(grad).all()


def test_velocity_rules_need_the_rule_priors():
    from dreamland.config import ConfigError
    from dreamland.model.config import preset

    with pytest.raises(ConfigError, match="velocity_rules needs rule_priors"):
        preset("tiny", velocity_rules=True)


@pytest.mark.parametrize("rules", [{}, {"velocity_rules": True}, {"velocity_rules": True, "hitlag_rules": True}],
                         ids=["positions", "velocities", "hitlag"])
def test_targets_around_the_rules_decode_back_to_the_real_frame(real_window, rules):
    """Heads that state the targets computed around the rules decode, through the one rules layer,
    into the real next positions, velocities and hitlag: targets and decoding agree."""
    model = make_tiny(rule_priors=True, event_weight=5.0, **rules)
    inputs, controllers, targets = prepare_window(encode(real_window))
    priors = model.rules.priors
    value = priors.base(inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"])
    base = Base(value, priors.keep_tolerance(value))
    mode, _, _ = real_targets(model.char_part, inputs, targets, model.rules.char_dunit, model.rules.jump_threshold, base)
    assert (mode[..., priors.k["x"]] == KEEP).float().mean() > 0.5  # the rule, not "stays", is what keeps
    with torch.no_grad():
        nxt = model.rules(inputs, _exact_heads(model, inputs, targets, base), controllers)
    on = targets["char_exists"] > 0.5
    for name in ("x", "y", "vel_air_x", "vel_y", "vel_ground_x", "vel_attack_x", "vel_attack_y", "hitlag"):
        j = _col(name)
        scale = model.char_part.real[j].scale
        err = ((nxt["char_real"][..., j] - targets["char_real"][..., j]).abs() * scale)[on]
        assert err.max() < 0.05, (name, err.max())


def test_rule_priors_score_positions_from_the_rule(real_window):
    """With the rules, the loss of a model whose x heads say KEEP is lower than without them on
    real windows (moving characters keep moving), and the loss stays finite."""
    enc = encode(real_window)
    with_rules = make_tiny(rule_priors=True)
    without = make_tiny()
    inputs, controllers, targets = prepare_window(enc)
    losses = {}
    for name, model in (("rules", with_rules), ("plain", without)):
        out = _exact_heads(model, inputs, inputs)  # every head: "the frame stays as it is" ...
        h = split(model.char_part, out["char"])
        h.mode.fill_(-BIG)
        h.mode[..., KEEP] = BIG  # ... and every real field KEEPs
        _, per = loss_from_heads(model, out, inputs, targets)
        losses[name] = per["char.x"].item()
    assert math.isfinite(losses["rules"]) and losses["rules"] < losses["plain"]


# ------------------------------------------------------------------------------ calibration


def test_calibration_undoes_the_event_weight():
    """A logistic model trained with the loss's event weighting overstates a change's odds by the
    weight; the rules' calibrated decision recovers the true probability."""
    torch.manual_seed(0)
    w, n = 5.0, 20000
    p_change = torch.tensor([0.05, 0.15, 0.3, 0.6])  # four situations, each its own true rate
    situation = torch.randint(0, 4, (n,))
    changed = (torch.rand(n) < p_change[situation]).float()
    logit = torch.zeros(4, requires_grad=True)
    opt = torch.optim.Adam([logit], lr=0.1)
    for _ in range(500):
        opt.zero_grad()
        weight = 1 + (w - 1) * changed
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(
            logit[situation], changed, reduction="none") * weight).mean()
        loss.backward()
        opt.step()
    model = make_tiny(event_weight=w)
    current = torch.zeros(4)  # a flag that is 0 now; logit > 0 means "becomes 1"
    calibrated = model.rules._calibrated_flag(logit.detach(), current)
    raw_p, cal_p = torch.sigmoid(logit.detach()), torch.sigmoid(calibrated)
    assert (raw_p - p_change).abs().max() > 0.1  # the weighting really distorted them
    assert (cal_p - p_change).abs().max() < 0.02
    # a categorical field: the current id wins unless a change is more likely than staying
    logits = torch.log(torch.tensor([[0.30, 0.70, 1e-6]]))  # current id 0 at 0.3, change to 1 at 0.7
    assert model.rules._calibrated_cat(logits, torch.tensor([0])).argmax(-1).item() == 0
    assert make_tiny().rules._calibrated_cat(logits, torch.tensor([0])).argmax(-1).item() == 1
    modes = torch.log(torch.tensor([0.3, 0.1, 0.1, 0.5]))
    assert model.rules._calibrated_mode(modes).argmax(-1).item() == KEEP


# ------------------------------------------------------------------------------ absent fields


def test_store_knows_which_fields_each_game_recorded(mixed_store):
    present = mixed_store.present()
    old, new = _game(mixed_store, OLD_GAME), _game(mixed_store, NEW_GAME)
    names = layout.PRESENT_FIELDS
    for name in ("vel_air_x", "vel_y", "hitlag", "airborne", "jumps", "l_cancel", "hurtbox"):
        assert present[old, names.index(name)] == 0, name
    assert present[new].all()
    for name in ("x", "y", "percent", "action", "stocks", "facing"):
        assert present[old, names.index(name)] == 1, name
    batch = Gather(mixed_store, 10)(np.array([int(mixed_store.start[old]) + 700]), np.array([old]))
    assert (batch["present"][0] == present[old]).all()
    # the old game really stored zeros there: a model reading them would read "standing still"
    vel = batch["player_real"][..., _col("vel_air_x")]
    assert (vel == 0).all() and (batch["player_real"][..., _col("x")] != 0).any()


def test_loss_skips_fields_a_game_never_recorded(mixed_store):
    """Whatever the heads say about velocities, an old game's loss does not move; a modern game's
    does. Fields it recorded (x, action) still count."""
    model = make_tiny(absent_inputs=True, rule_priors=True)
    for name, expect_change in ((OLD_GAME, False), (NEW_GAME, True)):
        enc = encode(_windows(mixed_store, _game(mixed_store, name)))
        inputs, controllers, targets = prepare_window(enc)
        with torch.no_grad():
            out = model(inputs, controllers)
            _, before = loss_from_heads(model, out, inputs, targets)
            h = split(model.char_part, out["char"])
            k = [model.char_part.real[j].name for j in model.char_part.real_pred].index("vel_air_x")
            h.mode[..., k, :] += torch.randn_like(h.mode[..., k, :]) * 5
            h.delta[..., k] += 3.0
            kb = [model.char_part.bin[j].name for j in model.char_part.bin_pred].index("airborne")
            h.bin[..., kb] += 7.0
            _, after = loss_from_heads(model, out, inputs, targets)
        changed = {key: not torch.isclose(before[key], after[key]) for key in ("char.vel_air_x", "char.airborne")}
        assert all(v == expect_change for v in changed.values()), (name, changed)
        assert before["char.x"] > 0 and before["char.action"] > 0


def test_model_is_told_a_field_is_absent_and_keeps_it_absent(mixed_store):
    """The same frames read with and without the game's flags give different predictions, and a
    step of an old game writes its unrecorded fields as the store keeps them (0)."""
    model = make_tiny(absent_inputs=True, rule_priors=True)
    enc = encode(_windows(mixed_store, _game(mixed_store, OLD_GAME)))
    inputs, controllers, _ = prepare_window(enc)
    all_present = {k: v for k, v in inputs.items() if k != "present"}
    with torch.no_grad():
        told = model(inputs, controllers)["char"]
        untold = model(all_present, controllers)["char"]
        assert (told - untold).abs().max() > 1e-4
        # heads that insist on moving every velocity and raising every flag
        out = model(inputs, controllers)
        h = split(model.char_part, out["char"])
        h.mode.fill_(-BIG)
        h.mode[..., 3] = BIG  # DELTA
        h.delta.fill_(10.0)
        h.bin.fill_(BIG)
        nxt = model.rules(inputs, out, controllers)
    present = inputs["present"][:, :, None, :]  # (B, T, 1, n)
    n_real = len(model.char_part.real)
    absent_real = (present[..., :n_real] < 0.5).expand_as(nxt["char_real"])
    assert absent_real.any() and (nxt["char_real"][absent_real] == 0).all()
    recorded_x = nxt["char_real"][..., _col("x")]
    assert (recorded_x != inputs["char_real"][..., _col("x")]).any()  # recorded fields still move


# ------------------------------------------------------------------------------ observed motion


def test_positions_without_velocities_keep_their_last_motion(mixed_store):
    """In a game that recorded no velocities (Slippi 1.7.1), x and y of the next frame are the
    current ones plus the displacement into the current frame (constant velocity) far more often
    than they stay, and closer on average; a modern game's bases ignore the motion."""
    model = make_tiny(rule_priors=True, velocity_rules=True, motion_rules=True)
    priors = model.rules.priors
    for name in (OLD_GAME, NEW_GAME):
        inputs, _, targets = prepare_window(encode(_windows(mixed_store, _game(mixed_store, name), n=8, length=200)))
        args = (inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"])
        moved = priors.base(*args, model.window_motion(inputs), inputs["present"])
        still = priors.base(*args)
        if name == NEW_GAME:
            assert torch.equal(moved, still)
            continue
        on = (inputs["char_exists"] > 0.5) & (targets["char_exists"] > 0.5)
        on[:, 0] = False  # a window's first frame has no motion
        for field in ("x", "y"):
            j, k = _col(field), priors.k[field]
            scale = model.char_part.real[j].scale
            err_moved = ((moved[..., k] - targets["char_real"][..., j]).abs() * scale)[on]
            err_still = ((still[..., k] - targets["char_real"][..., j]).abs() * scale)[on]
            kept_moved, kept_still = (err_moved <= KEEP_TOLERANCE).float().mean(), (err_still <= KEEP_TOLERANCE).float().mean()
            print(f"{field}: exact {kept_moved:.3f} moving on against {kept_still:.3f} standing; "
                  f"error {err_moved.mean():.3f} against {err_still.mean():.3f}")
            assert err_moved.mean() < 0.5 * err_still.mean(), field
            assert kept_moved > kept_still, field


def test_motion_carry_scales_the_displacement_an_old_game_moves_by(mixed_store):
    """With `motion_carry` c an old game's bases move by c times the displacement they move by at
    1 (so a displacement the heads do not renew fades by c a frame); c = 0 is standing still."""
    inputs, _, targets = prepare_window(encode(_windows(mixed_store, _game(mixed_store, OLD_GAME), n=4, length=100)))
    args = (inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"])
    bases = {}
    for carry in (1.0, 0.75, 0.0):
        model = make_tiny(rule_priors=True, velocity_rules=True, motion_rules=True, motion_carry=carry)
        bases[carry] = model.rules.priors.base(*args, model.window_motion(inputs), inputs["present"])
    still = make_tiny(rule_priors=True, velocity_rules=True).rules.priors.base(*args)
    assert (bases[1.0] - still).abs().max() > 0.01  # the characters move
    torch.testing.assert_close(bases[0.75] - still, 0.75 * (bases[1.0] - still), rtol=0, atol=1e-5)
    torch.testing.assert_close(bases[0.0], still, rtol=0, atol=1e-6)
    # `motion_carry_y` scales y alone
    model = make_tiny(rule_priors=True, velocity_rules=True, motion_rules=True, motion_carry=1.0, motion_carry_y=0.5)
    split = model.rules.priors.base(*args, model.window_motion(inputs), inputs["present"])
    x, y = model.rules.priors.k["x"], model.rules.priors.k["y"]
    assert (bases[1.0][..., y] - still[..., y]).abs().max() > 0.01
    torch.testing.assert_close(split[..., x], bases[1.0][..., x], rtol=0, atol=1e-6)
    torch.testing.assert_close(split[..., y] - still[..., y], 0.5 * (bases[1.0][..., y] - still[..., y]), rtol=0, atol=1e-5)


def test_the_step_carries_the_motion_the_window_computes(mixed_store):
    """Seeded from real frames of an old game and stepped on them, the motion the step reads from
    its state is the window's, frame after frame, and the decoded frames agree with the window's
    decoding (a model without the motion decodes other positions there)."""
    from dreamland.data.frame import first_frames
    from dreamland.model.step import seed, state_keys, step_encoded
    from dreamland.model.window import predict_window

    model = make_tiny(3, rule_priors=True, velocity_rules=True, motion_rules=True, absent_inputs=True)
    plain = make_tiny(3, rule_priors=True, velocity_rules=True, absent_inputs=True)
    window = _windows(mixed_store, _game(mixed_store, OLD_GAME), n=3, length=WINDOW)
    inputs, controllers, _ = prepare_window(encode(window))
    K = 20
    xy = [_col("x"), _col("y")]
    with torch.no_grad():
        want = model.window_motion(inputs)
        pred = predict_window(model, inputs, controllers)["char_real"][..., xy]
        other = predict_window(plain, inputs, controllers)["char_real"][..., xy]
        state, _ = seed(model, first_frames(window, K))
        far = total = 0
        for t in range(K - 1, controllers.shape[1]):
            cur = {k: inputs[k][:, t] for k in state_keys(inputs)}
            torch.testing.assert_close(model.motion(state, cur), want[:, t], rtol=0, atol=1e-6)
            state, nxt = step_encoded(model, state, cur, controllers[:, t])
            far += int(((nxt["char_real"][..., xy] - pred[:, t]).abs() > 1e-3).sum())
            total += pred[:, t].numel()
    assert want[:, 1:].abs().sum() > 0  # the characters do move
    assert far <= 0.01 * total
    assert (pred - other).abs().max() > 1e-3


def test_characters_in_hitlag_stay_where_they_are(small_store):
    """On real frames whose next frame is in hitlag, "the position stays" is the game's rule far
    more often than "the velocities move it", and over all frames the freeze lowers the rule's
    error on x and y."""
    plain = make_tiny(rule_priors=True, velocity_rules=True).rules.priors
    frozen = make_tiny(rule_priors=True, velocity_rules=True, hitlag_rules=True).rules.priors
    err = {"plain": {"x": [], "y": []}, "frozen": {"x": [], "y": []}}
    lagged = []
    for game in range(len(small_store.start)):
        inputs, _, targets = prepare_window(encode(_windows(small_store, game, n=8, length=200)))
        args = (inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"])
        on = (inputs["char_exists"] > 0.5) & (targets["char_exists"] > 0.5)
        lagged.append((targets["char_real"][..., _col("hitlag")] > 0)[on])
        for name, priors in (("plain", plain), ("frozen", frozen)):
            base = priors.base(*args)
            for field in ("x", "y"):
                j = _col(field)
                e = (base[..., priors.k[field]] - targets["char_real"][..., j]).abs() * priors.scale[field]
                err[name][field].append(e[on])
    lagged = torch.cat(lagged)
    assert lagged.sum() > 100  # the games have hits
    for field in ("x", "y"):
        e_plain, e_frozen = torch.cat(err["plain"][field]), torch.cat(err["frozen"][field])
        exact_plain = (e_plain[lagged] <= KEEP_TOLERANCE).float().mean()
        exact_frozen = (e_frozen[lagged] <= KEEP_TOLERANCE).float().mean()
        print(f"{field}: in hitlag, the rule exact on {exact_frozen:.3f} frozen against {exact_plain:.3f}; "
              f"mean error over all frames {e_frozen.mean():.3f} against {e_plain.mean():.3f}")
        assert exact_frozen > exact_plain + 0.2
        assert e_frozen.mean() < e_plain.mean()


def test_hitlag_and_motion_rules_need_the_rule_priors():
    from dreamland.config import ConfigError
    from dreamland.model.config import preset

    for option in ("hitlag_rules", "motion_rules"):
        with pytest.raises(ConfigError, match=f"{option} needs rule_priors"):
            preset("tiny", **{option: True})
    with pytest.raises(ConfigError, match="motion_carry needs motion_rules"):
        preset("tiny", rule_priors=True, motion_carry=0.5)
    with pytest.raises(ConfigError, match="motion_carry must be in"):
        preset("tiny", rule_priors=True, motion_rules=True, motion_carry=1.5)
    with pytest.raises(ConfigError, match="motion_carry_y must be in"):
        preset("tiny", rule_priors=True, motion_rules=True, motion_carry_y=-0.1)
    with pytest.raises(ConfigError, match="motion_carry_y needs motion_rules"):
        preset("tiny", rule_priors=True, motion_carry_y=0.5)
