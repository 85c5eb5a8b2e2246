"""Checkpoints: safetensors + JSON, round trip, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dreamland.data.encoding import encode
from dreamland.model import checkpoint as ck
from dreamland.model.checkpoint import CheckpointError
from dreamland.model.window import prepare_window

from .conftest import make_tiny


@pytest.fixture()
def saved(tmp_path):
    model = make_tiny()
    path = ck.save(tmp_path / "ckpt", model, extra={"step": 12, "note": "x"},
                   tensors={"adam.m": torch.arange(6.0).view(2, 3)})
    return model, path


def refused(path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as e:
        ck.load(path)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    return msg


def test_round_trip_same_outputs(saved, real_window):
    model, path = saved
    assert sorted(p.name for p in Path(path).iterdir()) == ["config.json", "extra.safetensors", "model.safetensors"]
    loaded, config, extra = ck.load(path)
    assert config == model.config and extra == {"step": 12, "note": "x"}
    assert torch.equal(ck.load_tensors(path)["adam.m"], torch.arange(6.0).view(2, 3))
    inputs, controllers, _ = prepare_window(encode(real_window))
    with torch.no_grad():
        a, b = model(inputs, controllers), loaded(inputs, controllers)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # saving again over it (no tensors this time) leaves a consistent checkpoint
    ck.save(path, loaded, extra={"step": 13})
    assert ck.load(path).extra == {"step": 13} and ck.load_tensors(path) == {}


def test_refuses_missing_files(saved, tmp_path):
    _, path = saved
    refused(tmp_path / "nowhere", "no such checkpoint")
    (path / "model.safetensors").unlink()
    refused(path, "model.safetensors is missing")
    (path / "config.json").unlink()
    refused(path, "no config.json")


def test_refuses_damaged_weights(saved):
    _, path = saved
    w = path / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))
    refused(path, "damaged \\(checksum")
    # damaged in a way the checksum agrees with (written damaged): the parser refuses it
    w.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    doc = json.loads((path / "config.json").read_text())
    doc["weights_sha256"] = ck._sha256(w)
    (path / "config.json").write_text(json.dumps(doc))
    refused(path, "model.safetensors: damaged")


def edit_config(path, fn):
    doc = json.loads((path / "config.json").read_text())
    fn(doc)
    (path / "config.json").write_text(json.dumps(doc))


def test_refuses_foreign_or_unknown_json(saved):
    _, path = saved
    (path / "config.json").write_text("{ broken")
    refused(path, "not valid JSON")
    (path / "config.json").write_text(json.dumps({"format": "something-else"}))
    refused(path, "not a dreamland model checkpoint")


def test_refuses_unknown_keys(saved):
    _, path = saved
    edit_config(path, lambda d: d["model"].update(n_heads=3))
    refused(path, "unknown key\\(s\\) 'n_heads'")


def test_refuses_unknown_top_level_key(saved):
    _, path = saved
    edit_config(path, lambda d: d.update(optimizer="adam"))
    refused(path, "unknown key\\(s\\) 'optimizer'")


def test_refuses_other_schema(saved):
    _, path = saved
    edit_config(path, lambda d: d.update(schema="0123456789abcdef"))
    refused(path, "made with schema '0123456789abcdef'")
    edit_config(path, lambda d: d.update(schema=ck.fingerprint(), encoding_version=99))
    refused(path, "encoding version 99")


def test_refuses_weights_that_do_not_fit(saved):
    _, path = saved
    edit_config(path, lambda d: d["model"].update(d_char=24))
    refused(path, "the config needs")


def test_never_unpickles():
    src = Path(ck.__file__).read_text()
    assert "torch.load" not in src and "pickle" not in src.replace("never pickle", "")


def test_model_info_reads_a_checkpoint_config(saved):
    from dreamland.model.bench import model_info
    from dreamland.model.world import count_parameters

    model, path = saved
    assert model_info(path)["params"] == count_parameters(model)
