"""The world model behind the stepper protocol: a batch of N games steps exactly as N single games."""

from __future__ import annotations

import torch

from dreamland.data.encoding import encode
from dreamland.data.frame import FRAME_KEYS, first_frames
from dreamland.model.stepper import ModelStepper

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
