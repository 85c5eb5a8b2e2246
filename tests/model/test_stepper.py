"""The world model behind the stepper protocol: a batch of N games steps exactly as N single games."""

from __future__ import annotations

import numpy as np
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode, to_torch
from dreamland.data.frame import FRAME_KEYS, first_frames
from dreamland.data.windows import Gather
from dreamland.model.checkpoint import default_checkpoint
from dreamland.model.step import seed
from dreamland.model.stepper import CompiledStep, ModelStepper

from .conftest import make_tiny, make_tiny_lookup

SEED_FRAMES = 10
STEPS = 20


def _roll(stepper: ModelStepper, window: dict, rows: slice) -> list[dict]:
    part = {k: v[rows] for k, v in window.items()}
    controllers = encode(part)["controller"]
    state = stepper.init(first_frames(part, SEED_FRAMES))
    frame = {k: part[k][:, SEED_FRAMES - 1] if k not in ("stage", "characters") else part[k] for k in FRAME_KEYS}
    frames = []
    for t in range(SEED_FRAMES, SEED_FRAMES + STEPS):
        state, frame = stepper.step(state, frame, controllers[:, t])
        frames.append(frame)
    return frames


def _assert_same_rollouts(stepper: ModelStepper, window: dict) -> None:
    batch = _roll(stepper, window, slice(None))
    n = window["player_exists"].shape[0]
    assert n >= 3
    for b in range(n):
        single = _roll(stepper, window, slice(b, b + 1))
        for t, (many, one) in enumerate(zip(batch, single)):
            for k in FRAME_KEYS:
                got, want = many[k][b : b + 1], one[k]
                assert got.dtype == want.dtype and got.shape == want.shape, (k, t)
                if got.dtype.is_floating_point:
                    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-3, msg=f"{k} at step {t}, game {b}")
                else:
                    assert torch.equal(got, want), f"{k} at step {t}, game {b}"


def test_a_batch_of_games_steps_as_each_game_alone(real_window):
    """Three real games from three replays (one with Ice Climbers, items in the others), seeded
    with real frames and driven by their real controllers."""
    _assert_same_rollouts(ModelStepper(make_tiny(5), context=SEED_FRAMES), real_window)


def test_the_same_with_every_rule_and_the_action_table(real_window, action_table):
    model = make_tiny_lookup(action_table, 6, rule_priors=True, velocity_rules=True, lookup_to_heads=True,
                             absent_inputs=True)
    _assert_same_rollouts(ModelStepper(model, context=SEED_FRAMES), real_window)


_AGE = layout.PLAYER_GROUPS[0].index("state_age")
_HITLAG = layout.PLAYER_GROUPS[0].index("hitlag")
_ACTION = layout.PLAYER_GROUPS[2].index("action")


def _windows_in_hitlag(store, n: int = 4) -> dict:
    """n real windows, each from a game of `store`, whose seed ends on a frame where a player is
    in hitlag and a player is in an action older than the seed (whose real counter and the
    model's clock then differ)."""
    gather = Gather(store, SEED_FRAMES + STEPS)
    starts, games = [], []
    for g in range(len(store.start)):
        a, length = int(store.start[g]), int(store.length[g])
        real = np.asarray(store["player_real"][a:a + length - SEED_FRAMES - STEPS])
        ends = np.flatnonzero((real[:, :, _HITLAG] > 0).any(-1) & (real[:, :, _AGE] > SEED_FRAMES).any(-1))
        ends = ends[ends >= SEED_FRAMES]
        if len(ends):
            starts.append(a + ends[len(ends) // 2] - SEED_FRAMES + 1)
            games.append(g)
    assert len(starts) >= 2
    return to_torch(gather(np.array(starts[:n]), np.array(games[:n])))


def test_frames_carry_the_games_counter_while_the_model_reads_its_clock(small_store):
    """The shipped model from real frames: every field but state_age is what the bare step gives
    when the model reads its own frames back (its clock, "frames since the action began"); the
    returned state_age continues the seed's real counter (+1 a frame, +0 from hitlag to hitlag)
    until the first new action, then equals the clock."""
    stepper = ModelStepper.from_checkpoint(default_checkpoint())
    window = _windows_in_hitlag(small_store)
    controllers = encode(window)["controller"]
    frames = _roll(stepper, window, slice(None))
    bare = CompiledStep(stepper.model)
    state, frame = seed(stepper.model, first_frames(window, SEED_FRAMES))
    offset = window["player_real"][:, SEED_FRAMES - 1, :, _AGE] - frame["player_real"][..., _AGE]
    assert (offset.abs() > 0.5).any(), "the seeds' real counters all equal the clock: no test"
    live = torch.ones_like(offset, dtype=torch.bool)
    carried = stalls = 0
    others = [j for j in range(frame["player_real"].shape[-1]) if j != _AGE]
    for t, got in enumerate(frames):
        previous = frame
        state, frame = bare(state, frame, controllers[:, SEED_FRAMES + t])
        for k in FRAME_KEYS:
            if k in ("player_real", "follower_real"):
                torch.testing.assert_close(got[k][..., others], frame[k][..., others], msg=f"{k} at step {t}")
            else:
                torch.testing.assert_close(got[k], frame[k].to(got[k].dtype), msg=f"{k} at step {t}")
        live &= frame["player_wide"][..., _ACTION] == previous["player_wide"][..., _ACTION]
        stalled = live & (previous["player_real"][..., _HITLAG] > 0) & (frame["player_real"][..., _HITLAG] > 0)
        offset = torch.where(live, offset - stalled.float(), torch.zeros_like(offset))
        torch.testing.assert_close(got["player_real"][..., _AGE], frame["player_real"][..., _AGE] + offset,
                                   msg=f"state_age at step {t}")
        carried, stalls = carried + int(live.sum()), stalls + int(stalled.sum())
    assert carried > 0 and stalls > 0, "no counter carried through hitlag: no test"


def test_a_native_step_is_built_once_per_model_and_code(tmp_path, monkeypatch):
    """The aot step is cached by what it was built from: a second stepper of the same model loads
    the package; other weights build their own; a damaged package is built again. (The compiler
    is replaced by a stand-in that writes a file: this checks the cache, not inductor.)"""
    from dreamland.model.stepper import CompiledStep, step_cache

    monkeypatch.setenv("DREAMLAND_CACHE", str(tmp_path))
    builds, loads = [], []

    def compile_package(exported, package_path, inductor_configs):
        builds.append(package_path)
        with open(package_path, "w") as fh:
            fh.write("package")
        return package_path

    def load_package(path):
        if open(path).read() != "package":
            raise RuntimeError("damaged")
        loads.append(path)
        return lambda *args: None

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", compile_package)
    monkeypatch.setattr(torch._inductor, "aoti_load_package", load_package)
    model = make_tiny(4)
    CompiledStep(model, compile="aot")._build_aot(1)
    CompiledStep(model, compile="aot")._build_aot(1)
    assert len(builds) == 1 and len(loads) == 2
    packages = list(step_cache().glob("step-*.pt2"))
    assert len(packages) == 1 and not list(step_cache().glob("*.partial.*"))
    CompiledStep(model, compile="aot")._build_aot(2)  # another batch size: another step
    CompiledStep(make_tiny(5), compile="aot")._build_aot(1)  # other weights
    assert len(builds) == 3
    packages[0].write_text("garbage")
    CompiledStep(model, compile="aot")._build_aot(1)
    assert len(builds) == 4 and packages[0].read_text() == "package"
    CompiledStep(model, compile="aot", cache=False)._build_aot(1)  # a benchmark times the build
    assert len(builds) == 5 and not str(builds[-1]).startswith(str(tmp_path))
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv("DREAMLAND_CACHE", str(not_a_folder))  # no cache to write: build for this process
    CompiledStep(model, compile="aot")._build_aot(1)
    assert len(builds) == 6 and not str(builds[-1]).startswith(str(tmp_path))
