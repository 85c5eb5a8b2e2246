"""`dreamland train` end to end on real games: runs, resumes exactly after kill -9, DDP on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dreamland.config import ConfigError
from dreamland.data.encoding import encode, to_torch
from dreamland.train.config import load_config, load_run_config
from dreamland.train.loop import Trainer, lr_factor
from dreamland.train.validation import teacher_forced

TINY = ["--preset", "tiny"]
# Every game goes to train (the fixture has five); deterministic single-threaded math so runs can
# be compared bit for bit.
COMMON = ["data.split_fractions=[1.0, 0.0, 0.0]", "run.threads=1", "validation.rollout_starts=0"]


def cli(*args: str, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamland.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def weights(run_dir: Path) -> dict:
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    return load_file(str(run_dir / "checkpoints" / latest / "model.safetensors"))


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_lr_schedule():
    cfg = load_config(["tiny"], ["optim.warmup_steps=10", "run.max_steps=110", "optim.min_lr_ratio=0.1"])
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(60, cfg) == pytest.approx(0.55)
    assert lr_factor(110, cfg) == pytest.approx(0.1)


def test_config_errors_before_anything_runs(small_store, tmp_path):
    with pytest.raises(ConfigError, match="unknown config key optim.lrr"):
        load_config(["tiny"], ["optim.lrr=1"])
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(tmp_path / "r"),
               "data.batch_size=many")
    assert proc.returncode == 2
    assert "data.batch_size: expected a whole number" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists(), "nothing is written for a bad config"
    # values the model's loss refuses are config errors too, not tracebacks
    for bad in ("loss_event_weight=0", "loss_weights={char.nope: 2}"):
        proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(tmp_path / "r"), bad)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (bad, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "r").exists()


def test_train_writes_run_dir_and_resumes_exactly_after_kill(small_store, tmp_path):
    # uninterrupted: 30 steps
    full = tmp_path / "full"
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(full),
               "--max-steps", "30", "-q", "checkpoint.every=10", *COMMON)
    assert proc.returncode == 0, proc.stderr
    for name in ("config.yaml", "run.json", "metrics.jsonl"):
        assert (full / name).is_file(), name
    run = json.loads((full / "run.json").read_text())
    assert run["schema_fingerprint"] and run["dreamland_version"]
    lines = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in x for x in lines) and any("train/loss/char.action" in x for x in lines)

    # killed after its step-10 or step-20 checkpoint, then resumed to 30
    killed = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "dreamland.cli", "train", "--store", str(small_store.path),
                          *TINY, "--run-dir", str(killed), "--max-steps", "30", "-q",
                          "checkpoint.every=10", *COMMON],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:
        if (killed / "checkpoints" / "latest").is_file():  # the step-10 checkpoint and its marker
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    latest = (killed / "checkpoints" / "latest").read_text().strip()
    assert latest in ("step-00000010", "step-00000020"), latest
    proc = cli("train", "--run-dir", str(killed), "--resume", "-q")
    assert proc.returncode == 0, proc.stderr
    assert same_weights(weights(full), weights(killed))


def test_resume_errors(tmp_path, small_store):
    proc = cli("train", "--run-dir", str(tmp_path / "none"), "--resume")
    assert proc.returncode == 2 and "nothing to resume" in proc.stderr
    run = tmp_path / "r"
    assert cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(run),
               "--max-steps", "2", "-q", *COMMON).returncode == 0
    again = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(run), "-q", *COMMON)
    assert again.returncode == 2 and "already holds a run" in again.stderr
    # a damaged checkpoint is refused in one line
    latest = (run / "checkpoints" / "latest").read_text().strip()
    (run / "checkpoints" / latest / "model.safetensors").write_bytes(b"not a safetensors file")
    proc = cli("train", "--run-dir", str(run), "--resume", "--max-steps", "4")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr


def test_self_forcing_runs_and_logs_unrolls(small_store, tmp_path):
    run = tmp_path / "sf"
    # overrides may sit between options
    proc = cli("train", "--store", str(small_store.path), *TINY, "--preset", "self-forcing",
               "self_forcing.start_step=0", "--run-dir", str(run), "--max-steps", "12", "-q", *COMMON,
               "self_forcing.share_start=1.0", "self_forcing.share_end=1.0",
               "self_forcing.unroll_start=3", "self_forcing.unroll_end=3")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    unrolls = [x["train/unroll"] for x in lines if "train/unroll" in x]
    assert unrolls and all(u == 3 for u in unrolls)


def test_bf16_autocast_path_trains_with_self_forcing(small_store, tmp_path):
    """The CUDA recipe's mixed precision (bf16 autocast), run on the CPU: the teacher-forced forward
    and the self-forcing unroll both run under autocast, losses stay finite, weights stay float32."""
    import math

    run = tmp_path / "bf16"
    proc = cli("train", "--store", str(small_store.path), *TINY, "--preset", "self-forcing",
               "self_forcing.start_step=0", "self_forcing.share_start=1.0", "self_forcing.share_end=1.0",
               "run.amp=bf16", "--run-dir", str(run), "--max-steps", "6", "-q", *COMMON)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [x["train/loss"] for x in lines if "train/loss" in x]
    assert losses and all(math.isfinite(v) for v in losses)
    assert {str(t.dtype) for t in weights(run).values()} == {"torch.float32"}


def test_cpu_training_preloads_tcmalloc_unless_told_not_to(small_store, tmp_path):
    from dreamland.train.runtime import find_tcmalloc

    if find_tcmalloc() is None:
        pytest.skip("libtcmalloc-minimal4 is not installed (.ci/run installs it)")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    for choice, expected in (("auto", "tcmalloc"), ("system", "system")):
        run = tmp_path / choice
        proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(run), "--max-steps", "2",
                   "-q", *COMMON, f"run.allocator={choice}", "run.device=cpu", env=env)
        assert proc.returncode == 0, proc.stderr
        assert json.loads((run / "run.json").read_text())["allocator"] == expected


def test_insisting_on_a_missing_tcmalloc_is_a_config_error(monkeypatch):
    from dreamland.train import runtime

    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.setattr(runtime, "_TCMALLOC_DIRS", ("/nonexistent",))
    with pytest.raises(ConfigError, match="apt-get install libtcmalloc-minimal4"):
        runtime.relaunch_with_allocator("tcmalloc", "cpu")
    runtime.relaunch_with_allocator("auto", "cpu")  # auto without the library: carry on


def test_init_from_starts_at_a_checkpoints_weights_and_refuses_another_model(small_store, tmp_path):
    first = tmp_path / "first"
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(first), "--max-steps", "3",
               "-q", *COMMON)
    assert proc.returncode == 0, proc.stderr
    start = first / "checkpoints" / (first / "checkpoints" / "latest").read_text().strip()
    # with a zero learning rate the one step changes nothing: the run ends with the weights it began with
    second = tmp_path / "second"
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(second), "--max-steps", "1",
               "-q", *COMMON, f"run.init_from={start}", "optim.lr=0")
    assert proc.returncode == 0, proc.stderr
    assert same_weights(weights(first), weights(second))
    # decoding rules add no weights: a fine-tune may switch them on, and says that it did
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(tmp_path / "ruled"),
               "--max-steps", "1", "-q", *COMMON, f"run.init_from={start}", "optim.lr=0",
               "model.rule_priors=true", "model.motion_rules=true")
    assert proc.returncode == 0, proc.stderr
    assert "config differs in rule_priors, motion_rules" in proc.stdout
    assert same_weights(weights(first), weights(tmp_path / "ruled"))
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(tmp_path / "third"),
               "--max-steps", "1", "-q", *COMMON, f"run.init_from={start}", "model.d_model=48")
    assert proc.returncode == 2 and "run.init_from" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(tmp_path / "fourth"),
               "--max-steps", "1", "-q", *COMMON, f"run.init_from={tmp_path / 'nothing'}")
    assert proc.returncode == 2 and "run.init_from" in proc.stderr and "Traceback" not in proc.stderr


def test_a_failing_torch_compile_falls_back_to_eager(small_store, tmp_path, monkeypatch, capsys):
    import torch
    import torch._dynamo.exc

    from dreamland.train.loop import train

    def broken_compile(module):
        def fail(*args, **kwargs):
            raise torch._dynamo.exc.TorchRuntimeError("the C++ compiler said no")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    cfg = load_config(["tiny"], [f"data.store={small_store.path}", "run.compile=true", "run.max_steps=3",
                                 "log.tensorboard=false", *COMMON])
    summary = train(cfg, tmp_path / "run", progress=False)
    assert summary["step"] == 3 and "the C++ compiler said no" in summary["compile_error"]
    assert capsys.readouterr().err.count("torch.compile failed") == 1


def test_ddp_two_cpu_processes(small_store, tmp_path):
    """torchrun with gloo: both ranks end with identical weights and saw different windows."""
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "dreamland.cli", "train", "--store", str(small_store.path), *TINY,
         "--run-dir", str(run), "--max-steps", "6", "-q", *COMMON],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((run / "ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["epoch0_windows"] != ranks[1]["epoch0_windows"]
    assert not set(ranks[0]["epoch0_first_windows"]) & set(ranks[1]["epoch0_first_windows"])


def test_the_last_step_is_validated_once(small_store, tmp_path):
    """A run whose last step falls on the validation interval validates it once (one row a step),
    not once in the loop and again at the end."""
    run = tmp_path / "val"
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(run), "--max-steps", "8", "-q",
               "data.split_fractions=[0.6, 0.4, 0.0]", "run.threads=1", "validation.rollout_starts=0",
               "validation.every=4", "validation.batches=1")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    validated = [x["step"] for x in lines if any(k.startswith("val/") for k in x)]
    assert validated == [4, 8]


def test_validation_runs_the_model_once_per_batch(small_store, tmp_path):
    """Teacher-forced validation scores and decodes one forward pass of each batch, and its loss is
    the training objective's on the same windows."""
    cfg = load_config(["tiny"], [f"data.store={small_store.path}", "data.split_fractions=[0.6, 0.4, 0.0]",
                                 "run.threads=1", "validation.rollout_starts=0"])
    trainer = Trainer(cfg, tmp_path / "run")
    try:
        calls = []
        hook = trainer.model.register_forward_hook(lambda *a: calls.append(1))
        metrics = teacher_forced(trainer, batches=2)
        hook.remove()
        assert len(calls) == 2
        batch = next(iter(trainer.val_sampler.batches(0)))
        with torch.no_grad():
            total, _ = trainer.objective(encode(to_torch(batch)))
        first = teacher_forced(trainer, batches=1)
        assert abs(first["val/loss"] - float(total)) < 1e-4 * max(1.0, abs(float(total)))
        assert "val/action_acc" in metrics
    finally:
        trainer.close()


def test_action_lookup_counts_the_table_and_keeps_it_through_init_from_and_resume(small_store, tmp_path):
    """The run counts the action table over its training games into the weights and its config;
    a run started from those weights takes the table with them; a resumed run reads its config."""
    from dreamland.data.action_table import ActionTable
    from dreamland.schema.actions import UNKNOWN_ACTION

    over = [f"data.store={small_store.path}", "run.max_steps=2", "model.action_lookup=true", *COMMON]
    first = Trainer(load_config(["tiny"], over), tmp_path / "first")
    first.fit(progress=False)
    table = ActionTable.count(small_store, first.train_games, top=UNKNOWN_ACTION)
    saved = weights(tmp_path / "first")
    assert torch.equal(saved["lookup.keys"], table.keys) and torch.equal(saved["lookup.actions"].long(), table.actions)
    model_cfg = load_run_config(tmp_path / "first", []).model
    assert (model_cfg.lookup_keys, model_cfg.lookup_back_keys) == (len(table.keys), len(table.back_keys))
    start = tmp_path / "first" / "checkpoints" / (tmp_path / "first" / "checkpoints" / "latest").read_text().strip()
    second = Trainer(load_config(["tiny"], [*over, f"run.init_from={start}", "optim.lr=0"]), tmp_path / "second")
    second.fit(progress=False)
    assert torch.equal(weights(tmp_path / "second")["lookup.keys"], table.keys)
    assert same_weights(saved, weights(tmp_path / "second"))
    proc = cli("train", "--run-dir", str(tmp_path / "first"), "--resume", "--max-steps", "3", "-q")
    assert proc.returncode == 0, proc.stderr
    assert torch.equal(weights(tmp_path / "first")["lookup.keys"], table.keys)


def test_the_mixer_keys_are_under_model_mamba(tmp_path):
    cfg = load_config(["tiny"], ["model.mamba.d_state=32", "model.mamba.A_init_range=[1, 8]"])
    assert cfg.model.mamba.d_state == 32 and cfg.model.mamba.A_init_range == (1.0, 8.0)
    assert cfg.model.mamba.headdim == 16  # the rest of the preset's mixer is kept
    # the flat name of the form before ModelConfig.mamba: one line naming the new key, no alias
    with pytest.raises(ConfigError, match=r"^unknown config key model.d_state: .*\(model.mamba.d_state\)$"):
        load_config(["tiny"], ["model.d_state=32"])
    with pytest.raises(ConfigError, match=r"\(model.mamba.A_init_range\)$"):
        load_config(["tiny"], ["model.A_init_max=8"])
    with pytest.raises(ConfigError, match="unknown config key model.mamba.d_staet"):
        load_config(["tiny"], ["model.mamba.d_staet=32"])
    with pytest.raises(ConfigError, match="multiple of mamba.headdim"):
        load_config(["tiny"], ["model.mamba.headdim=24"])


def _flatten_model(d: dict) -> dict:
    """A model section the way run folders and checkpoints wrote it before ModelConfig.mamba."""
    m = dict(d.pop("mamba"))
    for k in ("dt_init_floor", "rmsnorm_eps", "norm_before_gate", "bias", "conv_bias"):
        m.pop(k)
    lo, hi = m.pop("A_init_range")
    return {**d, **m, "A_init_min": lo, "A_init_max": hi}


def test_a_run_folder_of_the_flat_form_resumes(small_store, tmp_path):
    """config.yaml and the checkpoints' config.json of a run started before ModelConfig.mamba hold
    the mixer's keys flat: --resume reads them into the nested form, the same model."""
    import yaml

    run = tmp_path / "old"
    cfg = load_config(["tiny"], [f"data.store={small_store.path}", "run.max_steps=2", "model.mamba.d_state=8",
                                 "checkpoint.every=2", *COMMON])
    Trainer(cfg, run).fit(progress=False)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["model"] = _flatten_model(saved["model"])
    assert saved["model"]["d_state"] == 8
    (run / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    for config_json in (run / "checkpoints").glob("*/config.json"):
        doc = json.loads(config_json.read_text())
        doc["model"] = _flatten_model(doc["model"])
        config_json.write_text(json.dumps(doc))
    assert load_run_config(run, []).model == cfg.model
    proc = cli("train", "--run-dir", str(run), "--resume", "--max-steps", "3", "-q")
    assert proc.returncode == 0, proc.stderr
    assert (run / "checkpoints" / "latest").read_text().strip().endswith("3")


@pytest.mark.parametrize("version, message", [("99.0", "no training game was recorded by Slippi 99.0"),
                                              ("abc", "not a Slippi version")])
def test_min_slippi_version_errors_are_one_line(small_store, tmp_path, version, message):
    proc = cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(tmp_path / "run"),
               "--max-steps", "1", "-q", *COMMON, f"data.min_slippi_version={version}")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
