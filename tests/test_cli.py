"""The command line: help, model info, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamland.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_help_lists_every_command():
    out = cli("--help").stdout
    for command in ("ingest", "stats", "pack", "store", "train", "eval", "compare", "play", "model", "bench"):
        assert command in out


def test_model_info_counts_parameters():
    targets = {"small": 1.2e6, "medium": 5e6, "large": 15e6}
    for name, target in targets.items():
        proc = cli("model", "info", name, "--json")
        assert proc.returncode == 0, proc.stderr
        params = json.loads(proc.stdout)["params"]
        assert 0.8 * target <= params <= 1.2 * target, (name, params)
    deeper = json.loads(cli("model", "info", "small", "n_layers=4", "--json").stdout)["params"]
    assert deeper > json.loads(cli("model", "info", "small", "--json").stdout)["params"]


def test_model_info_bad_override():
    proc = cli("model", "info", "small", "bogus=1")
    assert proc.returncode == 2 and "unknown key" in proc.stderr and "Traceback" not in proc.stderr


def test_bench_step_runs_the_modes_asked_for():
    proc = cli("bench", "step", "--model", "tiny", "--mode", "eager", "--frames", "3", "--threads", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {r["mode"] for r in result["results"]} == {"eager"}
    assert {r["batch"] for r in result["results"]} == {1}
    bad = cli("bench", "step", "--mode", "fastest")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "Traceback" not in bad.stderr


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`dreamland model info tiny --json | head -c 10`: the pipe closes before the write."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "dreamland.cli", "model", "info", "tiny", "--json"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 141 and proc.stderr == ""


def test_model_info_reads_a_checkpoint_folder(tmp_path):
    from dreamland.model import checkpoint as ck
    from dreamland.model.world import count_parameters

    proc = cli("model", "info", str(ck.default_checkpoint()), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["params"] == count_parameters(ck.load(ck.default_checkpoint()).model)
    for args, message in (((str(tmp_path / "nope"),), "neither a preset"),
                          ((str(tmp_path),), "not a dreamland checkpoint"),
                          ((str(ck.default_checkpoint()), "n_layers=3"), "apply to a preset")):
        bad = cli("model", "info", *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
