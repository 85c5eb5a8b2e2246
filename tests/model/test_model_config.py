"""ModelConfig.mamba: the mixer's hyper-parameters live once (MambaConfig); the flat form that
checkpoints written before it hold still loads, to the same model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dreamland.model import checkpoint as ck
from dreamland.model.config import PRESETS, ConfigError, MambaConfig, ModelConfig, migrate, preset
from dreamland.model.mamba2 import Mamba2Config
from dreamland.model.world import WorldModel

from .conftest import make_tiny

# the model section of a config.json written before ModelConfig.mamba (the default model's)
OLD_FLAT = {
    "A_init_max": 16.0, "A_init_min": 1.0, "chunk_size": 64, "d_char": 64, "d_conv": 4,
    "d_head_char": 128, "d_head_item": 64, "d_intermediate": 0, "d_item": 16, "d_model": 256,
    "d_state": 64, "delta_fraction": 0.05, "delta_scale": {}, "dropout": 0.0, "dt_max": 0.1,
    "dt_min": 0.001, "emb_char": 16, "emb_item": 8, "emb_stage": 8, "expand": 2, "head_layers": 1,
    "headdim": 64, "item_slots": 16, "jump_threshold": 10.0, "n_layers": 2, "ngroups": 1,
}


def flat(config: ModelConfig) -> dict:
    """`config` written the way checkpoints were before ModelConfig.mamba."""
    d = config.to_dict()
    m = d.pop("mamba")
    for k in ("dt_init_floor", "rmsnorm_eps", "norm_before_gate", "bias", "conv_bias"):
        assert m.pop(k) == getattr(MambaConfig(), k)  # never in the flat form: always the default
    lo, hi = m.pop("A_init_range")
    return {**d, **m, "A_init_min": lo, "A_init_max": hi}


def one_line_error(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(ConfigError, match=match) as e:
        fn(*args, **kwargs)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_the_old_flat_form_migrates_under_mamba():
    config = ModelConfig.from_dict(OLD_FLAT)
    assert config == PRESETS["small"]
    assert config.mamba == MambaConfig(d_state=64, headdim=64, expand=2, d_conv=4, ngroups=1, chunk_size=64,
                                       dt_min=0.001, dt_max=0.1, A_init_range=(1.0, 16.0))
    assert "d_state" not in config.to_dict() and config.to_dict()["mamba"]["d_state"] == 64
    # the new form round-trips, through JSON too (the range comes back a tuple)
    assert ModelConfig.from_dict(json.loads(config.to_json())) == config
    # changed values migrate as they are, a missing half of the range is the default
    odd = ModelConfig.from_dict({**OLD_FLAT, "d_state": 32, "chunk_size": 8, "A_init_max": 4})
    assert (odd.mamba.d_state, odd.mamba.chunk_size, odd.mamba.A_init_range) == (32, 8, (1.0, 4.0))
    assert migrate({"d_model": 64, "A_init_min": 2.0}) == {"d_model": 64, "mamba": {"A_init_range": (2.0, 16.0)}}
    assert migrate({"d_model": 64}) == {"d_model": 64}
    for name in PRESETS:
        assert ModelConfig.from_dict(flat(PRESETS[name])) == PRESETS[name]


def test_unknown_and_doubled_keys_are_one_line_errors():
    one_line_error(r"unknown key\(s\) 'mamba.d_staet'", ModelConfig.from_dict, {"mamba": {"d_staet": 3}})
    one_line_error(r"unknown key\(s\) 'd_staet'", ModelConfig.from_dict, {**OLD_FLAT, "d_staet": 3})
    one_line_error("mamba must be a mapping", ModelConfig.from_dict, {"mamba": 3})
    one_line_error(r"'d_state' beside 'mamba' \(it is mamba.d_state now\)", ModelConfig.from_dict,
                   {"d_state": 8, "mamba": {}})
    # replace and preset refuse the flat names, naming where they are now
    one_line_error(r"unknown key\(s\) 'd_state' \(the mixer's keys are under mamba: mamba.d_state\)",
                   preset, "tiny", d_state=8)
    one_line_error(r"unknown key\(s\) 'mamba.d_staet'", preset, "tiny", mamba={"d_staet": 8})
    one_line_error("mamba.A_init_range", preset, "tiny", A_init_min=2.0)


def test_mixer_values_are_checked_in_one_line():
    one_line_error("multiple of mamba.headdim = 48", preset, "small", d_model=100, mamba={"headdim": 48})
    one_line_error("multiple of mamba.ngroups", preset, "small", mamba={"ngroups": 3})
    one_line_error("mamba config: d_state must be a positive integer, got 0", preset, "small", mamba={"d_state": 0})
    one_line_error("mamba config: dt_min must be positive", preset, "small", mamba={"dt_min": 0})
    one_line_error("A_init_range must be two numbers", preset, "small", mamba={"A_init_range": (16.0, 1.0)})
    one_line_error("A_init_range must be two numbers", ModelConfig.from_dict, {"mamba": {"A_init_range": [1.0]}})
    one_line_error("bias must be true or false", MambaConfig, bias=1)
    assert preset("tiny", mamba={"d_state": 8}).mamba == MambaConfig(d_state=8, headdim=16, chunk_size=16)


def test_the_mixer_is_built_from_the_model_config():
    c = preset("tiny", mamba={"A_init_range": (2, 3)})
    mixer = WorldModel(c).mamba_config
    assert mixer == Mamba2Config(d_model=32, d_state=16, headdim=16, chunk_size=16, A_init_range=(2.0, 3.0))
    assert Mamba2Config.of(c.mamba, 64).d_inner == 128
    with pytest.raises(ValueError, match="multiple of headdim"):
        Mamba2Config(d_model=40, headdim=24)


def test_a_checkpoint_with_the_flat_form_loads_to_the_same_model(tmp_path, real_window):
    from dreamland.data.encoding import encode
    from dreamland.model.window import prepare_window

    model = make_tiny()
    path = ck.save(tmp_path / "ckpt", model)
    doc = json.loads((path / "config.json").read_text())
    doc["model"] = flat(model.config)
    (path / "config.json").write_text(json.dumps(doc))
    loaded = ck.load(path)
    assert loaded.config == model.config
    inputs, controllers, _ = prepare_window(encode(real_window))
    with torch.no_grad():
        a, b = model(inputs, controllers), loaded.model(inputs, controllers)
    assert all(torch.equal(a[k], b[k]) for k in a)
    doc["model"]["mamba"] = {"d_state": 16}
    (path / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ck.CheckpointError, match="'d_state' beside 'mamba'"):
        ck.load(path)


def test_a_committed_checkpoint_of_the_flat_form_loads():
    """models/fidelity-lookup-sf-s1-step4000 was written before the nesting (the shipped model
    since 2026-12-07 is nested)."""
    path = Path(__file__).resolve().parents[2] / "models" / "fidelity-lookup-sf-s1-step4000"
    doc = json.loads((path / "config.json").read_text())
    assert doc["model"]["d_state"] == 64 and "mamba" not in doc["model"]
    config = ck.load(path).config
    assert config.mamba == MambaConfig() and config.d_model == 256
    shipped = json.loads((ck.default_checkpoint() / "config.json").read_text())["model"]
    assert shipped["mamba"]["d_state"] == 64 and "d_state" not in shipped
