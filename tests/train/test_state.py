"""Trainer state without pickle, and checkpoint folders kept and pruned as promised."""

from __future__ import annotations

import json

import torch

from dreamland.train.checkpoints import CheckpointManager, read_trainer
from dreamland.train.state import load_state, rng_state, save_state, set_rng_state


def test_optimizer_state_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.9))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    for _ in range(3):
        model(torch.randn(5, 4)).sum().backward()
        opt.step()
        sched.step()
    save_state(tmp_path, "optimizer", opt.state_dict())
    save_state(tmp_path, "scheduler", sched.state_dict())
    opt2 = torch.optim.AdamW(model.parameters(), lr=1.0)
    opt2.load_state_dict(load_state(tmp_path, "optimizer"))
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for k in a["state"]:
        for name, value in a["state"][k].items():
            assert torch.equal(value, b["state"][k][name])
    assert load_state(tmp_path, "scheduler")["last_epoch"] == 3


def test_rng_round_trip():
    state = rng_state()
    x = torch.rand(3)
    set_rng_state(state)
    assert torch.equal(torch.rand(3), x)


def test_checkpoints_are_pruned_and_best_kept(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_last=2)

    def write_model(folder):
        (folder / "model.safetensors").write_bytes(b"x")

    metrics = [5.0, 1.0, 3.0, 4.0]
    for i, m in enumerate(metrics):
        mgr.save((i + 1) * 10, write_model, {"states": ["s"]}, {"s": {"v": torch.tensor([i])}}, m)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())
    assert names == ["step-00000020", "step-00000030", "step-00000040"]  # last two + the best
    assert mgr.best() == ("step-00000020", 1.0)
    assert mgr.latest().name == "step-00000040"
    trainer, states = read_trainer(mgr.latest())
    assert trainer["step"] == 40 and states["s"]["v"].item() == 3
    assert json.loads((tmp_path / "checkpoints" / "best").read_text())["metric"] == 1.0


def test_half_written_checkpoint_is_never_latest(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_last=2)
    mgr.save(1, lambda f: (f / "model.safetensors").write_bytes(b"x"), {}, {}, None)
    (tmp_path / "checkpoints" / "step-00000002.tmp").mkdir()  # as if killed while writing
    again = CheckpointManager(tmp_path, keep_last=2)
    assert again.latest().name == "step-00000001"
    assert not (tmp_path / "checkpoints" / "step-00000002.tmp").exists()
