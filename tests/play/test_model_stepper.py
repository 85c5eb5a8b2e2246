"""The real world model (untrained, tiny preset) through the play adapter: plumbing only."""

import torch


def test_world_model_plugs_into_a_session():
    from dreamland.model.config import preset
    from dreamland.model.stepper import ModelStepper
    from dreamland.model.world import WorldModel
    from dreamland.play import ChaseBot, RandomBot, Session

    torch.manual_seed(0)
    s = Session(ModelStepper(WorldModel(preset("tiny")), context=4), "battlefield", ("fox", "marth"))
    st = s.reset()
    a, b = ChaseBot(), RandomBot(seed=1)
    for _ in range(15):
        st = s.step(a(st, 0), b(st, 1))
    assert st.frame == 15 or st.game_over
    for k, v in s.tensors.items():
        if v.is_floating_point():
            assert torch.isfinite(v).all(), k
    assert all(p.stocks <= 4 for p in st.players)


def test_play_loads_a_checkpoint_compiled_and_in_half_precision_when_asked(tmp_path):
    """`dreamland play --compile aot-tuned --dtype float16` reaches the model's Stepper (the native
    step is built on the first step, which GameLoop takes before the clock starts)."""
    from dreamland.steppers.load import load_stepper

    plain = load_stepper(None)
    fast = load_stepper(None, compile="aot-tuned", dtype="float16")
    assert plain._step.mode == "eager" and plain.model.dtype == torch.float32
    assert fast._step.mode == "aot-tuned" and fast._step.model.dtype == torch.float16
    assert fast.model.dtype == torch.float32  # the loaded model is untouched; the step has a copy


def test_play_refuses_an_unknown_compile_mode_in_one_line():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "dreamland.cli", "play", "--compile", "fast"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice: 'fast'" in proc.stderr
    assert "Traceback" not in proc.stderr
