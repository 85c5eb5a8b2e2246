"""The world model computes one function two ways: window forward (training, seeding) and
frame-by-frame step (play, rollouts, self-forcing), on real encoded frames."""

from __future__ import annotations

import pytest
import torch

from dreamland.data.encoding import decode, encode
from dreamland.model.config import PRESETS, ConfigError, preset
from dreamland.model.rules import age_rule_window
from dreamland.data.frame import first_frames, frame_at
from dreamland.model.step import STATE_KEYS, seed, step, step_encoded
from dreamland.model.stepper import CompiledStep
from dreamland.model.window import predict_window, prepare_window
from dreamland.model.world import WorldModel, count_parameters

from .conftest import make_tiny, make_tiny_lookup

TOL = 1e-4  # float32: max |a - b| / max |b|


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def test_window_forward_equals_frame_by_frame_step(real_window):
    model = make_tiny()
    enc = encode(real_window)
    inputs, controllers, _ = prepare_window(enc)
    assert inputs["item_exists"].sum() > 0 and inputs["char_exists"][..., 2:].sum() > 0  # items, followers
    T = controllers.shape[1]
    with torch.no_grad():
        out_w, state_w = model(inputs, controllers, return_state=True)
        state = model.allocate_state(controllers.shape[0])
        outs = []
        for t in range(T):
            o, state = model.step(state, {k: v[:, t] for k, v in inputs.items()}, controllers[:, t])
            outs.append(o)
    diffs = {p: rel_diff(torch.stack([o[p] for o in outs], 1), out_w[p]) for p in out_w}
    state_diffs = [rel_diff(a, b) for a, b in zip(state, state_w)]
    print(f"window vs step over {T} real frames: heads {diffs}, state max {max(state_diffs):.2e}")
    assert max(diffs.values()) < TOL
    assert max(state_diffs) < TOL


@pytest.mark.parametrize("structure", [{}, {"rule_priors": True, "absent_inputs": True},
                                       {"rule_priors": True, "velocity_rules": True},
                                       {"rule_priors": True, "action_lookup": True},
                                       {"rule_priors": True, "action_lookup": True, "lookup_to_heads": True},
                                       {"rule_priors": True, "velocity_rules": True, "hitlag_rules": True,
                                        "motion_rules": True}],
                         ids=["plain", "priors", "physics", "lookup", "lookup-heads", "hitlag-motion"])
def test_step_function_matches_teacher_forced_window(real_window, structure, action_table):
    """The store-valued `step` on real frames gives the frames `predict_window` decodes from the
    window forward: one decoding, two paths (with and without the game's rules as priors, with
    the action table's bonus)."""
    structure = dict(structure)
    if structure.pop("action_lookup", False):
        model = make_tiny_lookup(action_table, 1, **structure)
    else:
        model = make_tiny(1, **structure)
    enc = encode(real_window)
    inputs, controllers, _ = prepare_window(enc)
    with torch.no_grad():
        pred = decode({**predict_window(model, inputs, controllers), "stage": enc["stage"]})
        state = model.allocate_state(controllers.shape[0])
        frames = decode({**{k: inputs[k] for k in STATE_KEYS}, "controller": enc["controller"][:, :-1]})
        frames["stage"] = real_window["stage"]
        far = mismatched = total_real = total = 0
        worst_typical = 0.0
        for t in range(controllers.shape[1]):
            state, nxt = step(model, state, frame_at(frames, t), controllers[:, t])
            for k, v in nxt.items():
                if k not in pred or k in ("stage", "controller_sticks", "controller_buttons"):
                    continue
                ref = pred[k][:, t]
                if v.dtype.is_floating_point:
                    d = (v - ref).abs()
                    far += int((d > 0.05).sum())
                    total_real += v.numel()
                    worst_typical = max(worst_typical, d[d <= 0.05].max().item() if (d <= 0.05).any() else 0)
                else:
                    mismatched += int((v != ref).sum())
                    total += v.numel()
    print(f"step vs teacher-forced window: {far}/{total_real} real values differ by > 0.05 game units "
          f"(others by <= {worst_typical:.1e}), {mismatched}/{total} discrete values differ")
    # The two paths compute the heads in different float32 orders (relative 1e-4, see above), so
    # a decision whose logits are that close may flip (random weights make near-ties common);
    # everything else is identical up to rounding.
    assert far <= 0.001 * total_real
    assert mismatched <= 0.001 * total


def test_seed_then_step_continues_the_window(real_window):
    """seed(K frames) + step == the window forward over K+n frames."""
    model = make_tiny(2)
    K, n = 25, 10
    enc = encode(real_window)
    inputs, controllers, _ = prepare_window(enc)
    with torch.no_grad():
        out_w = model(inputs, controllers)
        state, frame = seed(model, first_frames(real_window, K))
        outs = []
        enc_t = {k: inputs[k][:, K - 1] for k in STATE_KEYS}
        for t in range(K - 1, K - 1 + n):
            enc_t = {k: inputs[k][:, t] for k in STATE_KEYS}  # teacher forcing
            o, state = model.step(state, enc_t, controllers[:, t])
            outs.append(o)
    d = max(rel_diff(torch.stack([o[p] for o in outs], 1), out_w[p][:, K - 1 : K - 1 + n]) for p in out_w)
    print(f"seed({K}) + {n} steps vs window forward: {d:.2e}")
    assert d < TOL
    assert frame["player_real"].shape == real_window["player_real"][:, 0].shape
    assert torch.equal(frame["frame_id"], real_window["frame_id"][:, K - 1])


def test_age_rule_window_matches_sequential_rule(real_window):
    enc = encode(real_window)
    from dreamland.model.heads import CHAR

    j = [f.name for f in CHAR.real].index("state_age")
    a = [f.name for f in CHAR.cat].index("action")
    on = enc["char_exists"] > 0.5
    got = age_rule_window(enc["char_real"], enc["char_cat"], enc["char_exists"])[..., j] * 100
    act = enc["char_cat"][..., a]
    age = enc["char_real"][:, 0, :, j] * 100
    for t in range(1, act.shape[1]):
        same = (act[:, t] == act[:, t - 1]) & on[:, t - 1]
        age = torch.where(same, age + 1, torch.zeros_like(age)) * on[:, t]
        assert torch.allclose(got[:, t], age.clamp(-1, 100000), atol=1e-3)


def test_no_grad_step_builds_no_graph_and_keeps_strides(real_window):
    model = make_tiny(3)
    frames = {k: v for k, v in real_window.items()}
    stepper = CompiledStep(model)
    with torch.no_grad():
        state, frame = seed(model, first_frames(frames, 5))
    strides = [s.stride() for s in state]
    shapes = {k: (v.shape, v.dtype) for k, v in frame.items()}
    enc = encode(real_window)
    for t in range(5, 12):
        state, frame = stepper(state, frame, enc["controller"][:, t])
        assert all(s.grad_fn is None and not s.requires_grad for s in state)
        assert all(v.grad_fn is None for v in frame.values())
        assert [s.stride() for s in state] == strides
        assert all(s.is_contiguous() for s in state)
    for k, (shape, dtype) in shapes.items():
        assert frame[k].shape == shape and frame[k].dtype == dtype, k


@pytest.mark.parametrize("structure", ["plain", "physics"])
def test_gradients_flow_through_three_steps(real_window, structure, action_table):
    """Self-forcing: a loss on the 3rd predicted frame reaches the parameters through the
    carried recurrent state and the continuous fields of the first two predictions, finite also
    through the physics rules (knockback at rest has no direction) and the action table."""
    if structure == "plain":
        model = make_tiny(4).train()
    else:
        model = make_tiny_lookup(action_table, 4, rule_priors=True, velocity_rules=True, lookup_to_heads=True).train()
    enc = encode(real_window)
    inputs, controllers, targets = prepare_window(enc)
    state = model.allocate_state(controllers.shape[0])
    cur = {k: inputs[k][:, 0] for k in STATE_KEYS}
    states = []
    for t in range(3):
        state, cur = step_encoded(model, state, cur, controllers[:, t])
        states.append(state)
    assert all(s.requires_grad for s in state)
    loss = cur["char_real"].sum() + sum(s.sum() for s in state)
    grads = torch.autograd.grad(loss, [model.layers[0].mixer.in_proj.weight, model.frame_in.weight],
                                retain_graph=True)
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    params = [p for p in model.parameters() if p.requires_grad]
    every = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    assert all(g is None or torch.isfinite(g).all() for g in every)
    # the first step's contribution: differentiate the 3rd state w.r.t. the 1st
    g1 = torch.autograd.grad(state[1].sum() + cur["char_real"].sum(), states[0][1])[0]
    assert g1.abs().sum() > 0


TARGETS = {"small": 1.2e6, "medium": 5e6, "large": 15e6}


@pytest.mark.parametrize("name", list(TARGETS))
def test_preset_parameter_counts(name):
    n = count_parameters(WorldModel(preset(name)))
    print(f"{name}: {n:,} parameters (target {TARGETS[name]:,.0f})")
    assert abs(n - TARGETS[name]) / TARGETS[name] < 0.2


def test_tiny_preset_is_small():
    assert count_parameters(WorldModel(PRESETS["tiny"])) < 100_000


def test_preset_errors_are_one_line():
    with pytest.raises(ConfigError, match="unknown model preset 'huge'") as e:
        preset("huge")
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="unknown key") as e:
        preset("small", d_modle=3)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="multiple of mamba.headdim"):
        preset("small", d_model=100)
    with pytest.raises(ConfigError, match="delta_scale has unknown field"):
        preset("small", delta_scale={"char.nope": 1.0})
    assert preset("small", d_model=128).d_model == 128


def test_compiled_step_never_recompiles(real_window):
    """torch.compile guards on strides, dtypes and dict key order: a frame from a window batch
    (int16 stage, other key order) and frames the step returned must hit one graph. Traced with
    the 'eager' backend (same guards as inductor, no code generation: fast)."""
    import torch._dynamo

    model = make_tiny(5)
    stepper = CompiledStep(model, compile="inductor")
    stepper._backend = "eager"
    enc = encode(real_window)
    torch._dynamo.reset()
    with torch.no_grad():
        state, _ = seed(model, first_frames(real_window, 5))
    frame = frame_at(real_window, 4)  # straight from the batch: int16 stage, batch key order
    state, frame = stepper(state, frame, enc["controller"][:, 5])
    old = torch._dynamo.config.error_on_recompile
    torch._dynamo.config.error_on_recompile = True
    try:
        for t in range(6, 12):
            state, frame = stepper(state, frame, enc["controller"][:, t])
        state, frame = stepper(state, frame_at(real_window, 12), enc["controller"][:, 13])
    finally:
        torch._dynamo.config.error_on_recompile = old
    assert stepper.mode == "inductor" and stepper.compile_error is None


def test_aot_tuned_step_computes_the_eager_step(real_window):
    """The fastest CPU path (a native library built by AOTInductor with max-autotune, which swaps
    in its own matrix kernels) must compute what the eager step computes, closed loop on real
    frames and controllers: the same discrete values, continuous ones within float32 noise. It
    compiles C++ (about a minute for the tiny preset); without a compiler the step must fall back
    and say why."""
    import shutil

    from torch.utils._pytree import tree_map

    model = make_tiny(6)
    enc = encode(real_window)
    with torch.no_grad():
        state0, _ = seed(model, first_frames(real_window, 5))
    runs = {}
    for mode in (False, "aot-tuned"):
        stepper = CompiledStep(model, compile=mode)
        state, frame, frames = tree_map(torch.clone, state0), frame_at(real_window, 4), []
        for t in range(5, 13):
            state, frame = stepper(state, frame, enc["controller"][:, t])
            frames.append(frame)
        runs[mode] = (stepper, frames)
    tuned = runs["aot-tuned"][0]
    if shutil.which("c++") or shutil.which("g++"):
        assert tuned.mode == "aot-tuned" and tuned.compile_error is None, tuned.compile_error
    else:
        assert tuned.compile_error and tuned.compile_error.startswith("aot-tuned")
    for a, b in zip(runs[False][1], runs["aot-tuned"][1]):
        assert a.keys() == b.keys()
        for k in a:
            if a[k].is_floating_point():
                torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-3, msg=k)
            else:
                assert torch.equal(a[k], b[k]), k


def test_controller_features_read_the_stick_relative_to_neutral_and_facing():
    from dreamland.model.world import controller_features, n_controller_features

    c = torch.full((2, 2, 17), 0.0)
    c[..., :4] = 0.5  # both sticks neutral
    c[0, 0, 0] = 0.0  # game 0, player 0: main stick fully left
    c[1, 1, 2] = 1.0  # game 1, player 1: c-stick fully right
    char_bin = torch.zeros(2, 4, 2)
    char_bin[0, 0, 0] = 1.0  # game 0, player 0 faces right; everyone else faces left
    f = controller_features(c, char_bin)
    assert f.shape == (2, 2, n_controller_features())
    assert torch.equal(f[..., :17], c)
    distance, forward = f[..., 17:21], f[..., 21:23]
    assert distance[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0] and distance[1, 1].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert forward[0, 0].tolist() == [-1.0, 0.0]  # left while facing right: away from the facing
    assert forward[1, 1].tolist() == [0.0, -1.0]  # right while facing left
    assert distance[0, 1].abs().sum() == 0 and forward[0, 1].abs().sum() == 0  # neutral reads as nothing


def test_decoding_only_the_item_slots_that_will_exist_changes_no_frame(real_window):
    """The inference step computes the item heads only for the slots that will exist: on real
    frames with items, every decoded frame is the one the full heads decode."""
    model = make_tiny(7)
    inputs, controllers, _ = prepare_window(encode(real_window))
    state = model.allocate_state(controllers.shape[0])
    live = sparse_rows = 0
    with torch.no_grad():
        for t in range(controllers.shape[1]):
            cur = {k: inputs[k][:, t] for k in STATE_KEYS}
            donated = tuple(s.clone() for s in state)
            full_out, _ = model.step(state, cur, controllers[:, t])
            lean_out, _ = model.step(tuple(s.clone() for s in state), cur, controllers[:, t], decode_only=True)
            state, full = step_encoded(model, state, cur, controllers[:, t])
            _, lean = step_encoded(model, donated, cur, controllers[:, t], donate=True)
            for k in full:
                assert torch.equal(full[k], lean[k]), (k, t)
            live += int((full["item_exists"] > 0.5).sum())
            sparse_rows += int((lean_out["item"][..., 1:].abs().sum(-1) == 0).sum())
            torch.testing.assert_close(lean_out["item"][..., 0], full_out["item"][..., 0])
    assert live > 0 and sparse_rows > 0  # items existed, and empty slots were skipped
