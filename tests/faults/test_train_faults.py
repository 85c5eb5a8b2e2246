"""Training runs and checkpoints: a damaged optimizer file is one line; a resumed run's metrics and
a checkpoint's bytes are the same as those of a run that was never interrupted."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .conftest import assert_one_line_error, run_cli

TINY = ["--preset", "tiny", "data.split_fractions=[1.0, 0.0, 0.0]", "run.threads=1",
        "validation.rollout_starts=0", "log.every=1", "checkpoint.every=2", "checkpoint.keep_last=5"]


@pytest.fixture(scope="module")
def run4(small_store, tmp_path_factory) -> Path:
    """A tiny run of four steps, checkpoints at steps 2 and 4."""
    run = tmp_path_factory.mktemp("faults-train") / "run"
    proc = run_cli("train", "--store", str(small_store.path), *TINY, "--run-dir", str(run),
                   "--max-steps", "4", "-q", timeout=600)
    assert proc.returncode == 0, proc.stderr
    return run


def _copy_run(run: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_truncated_optimizer_file_is_one_line(run4, tmp_path):
    run = _copy_run(run4, tmp_path)
    latest = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    optimizer = latest / "optimizer.safetensors"
    optimizer.write_bytes(optimizer.read_bytes()[:100])
    proc = run_cli("train", "--run-dir", str(run), "--resume", "--max-steps", "6", "-q", timeout=600)
    assert_one_line_error(proc, str(optimizer), "latest", "--run-dir")
    (latest / "optimizer.json").unlink()
    optimizer.write_bytes(b"")
    proc = run_cli("train", "--run-dir", str(run), "--resume", "--max-steps", "6", "-q", timeout=600)
    assert_one_line_error(proc, "optimizer.safetensors")


def test_metrics_are_not_repeated_after_a_resume(run4, tmp_path):
    """A run that stopped after logging steps 3 and 4 but before their checkpoint (as a kill does)
    resumes at step 2 and logs 3 and 4 again: they must appear once."""
    run = _copy_run(run4, tmp_path)
    (run / "checkpoints" / "latest").write_text("step-00000002")
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 5, "train/lo')  # a row cut off by the kill
    proc = run_cli("train", "--run-dir", str(run), "--resume", "-q", timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows, reference = _rows(run), _rows(run4)
    assert [(r["step"], sorted(r)) for r in rows] == [(r["step"], sorted(r)) for r in reference]
    train_steps = Counter(r["step"] for r in rows if "train/loss" in r)
    assert train_steps == Counter({1: 1, 2: 1, 3: 1, 4: 1})


_SAVE = """
import sys, torch
from dreamland.model.checkpoint import save
from dreamland.model.config import preset
from dreamland.model.world import WorldModel
torch.manual_seed(0)
save(sys.argv[1], WorldModel(preset("tiny")), extra={"step": 1, "b": 2, "a": 1})
"""


def test_the_same_checkpoint_saved_by_different_processes_is_the_same_bytes(tmp_path):
    """safetensors writes its metadata in hash-map order, which changes from process to process;
    six processes agree by chance one time in 32."""
    digests = set()
    for i in range(6):
        out = tmp_path / f"c{i}"
        subprocess.run([sys.executable, "-c", _SAVE, str(out)], check=True, timeout=300)
        digests.add(tuple(hashlib.sha256((out / name).read_bytes()).hexdigest()
                          for name in ("model.safetensors", "config.json")))
    assert len(digests) == 1, digests


def test_a_run_killed_before_its_latest_marker_was_written_resumes_from_its_newest_checkpoint(run4, small_store,
                                                                                             tmp_path):
    run = _copy_run(run4, tmp_path)
    (run / "checkpoints" / "latest").unlink()  # the step-4 folder was renamed into place, then the kill
    proc = run_cli("train", "--run-dir", str(run), "--resume", "-q", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["step"] == 4
    fresh = run_cli("train", "--store", str(small_store.path), "--preset", "tiny", "--run-dir", str(run), "-q")
    assert_one_line_error(fresh, "already holds a run")
