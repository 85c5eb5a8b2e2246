"""The model-check scripts of benchmarks/: their counts on real games, and one line on bad input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_rule_check_counts_real_games(small_store):
    """The test games: the rule covers thousands of transitions, changes none of them, and the
    characters over the floor do dip below it (what the rule must leave alone)."""
    rows = _script("floor_rule_check").count(small_store)
    covered, changed, below_1 = (sum(r[k] for r in rows.values()) for k in (0, 1, 2))
    assert covered > 10_000 and changed == 0 and below_1 > 0


def test_position_check_splits_real_games_by_recorded_velocities(small_store):
    """The five test games record velocities: the position rule fed the real next velocities is
    closer to the next position than constant velocity, on x and on y."""
    from dreamland.model.config import preset
    from dreamland.model.world import WorldModel

    model = WorldModel(preset("tiny", rule_priors=True, motion_rules=True)).eval()
    out = _script("position_check").errors(model, small_store, "all", batches=4, context=30)
    for name in ("x", "y"):
        row = out[name]["velocities"]
        assert row["frames"] > 1000
        assert row["rule"] < row["constant velocity"], (name, row)
    fields = _script("position_check").field_errors(model, small_store, "all", batches=4, context=30)
    assert fields["velocities"]["x"] == out["x"]["velocities"]["model"]  # the same frames, scored alike
    assert fields["velocities"]["character"] == 1.0  # a constant, carried
    assert all(0.0 <= fields["velocities"][k] <= 1.0 for k in ("action", "facing", "airborne", "stocks"))


@pytest.mark.parametrize("argv", [["floor_rule_check.py", "/nonexistent/store"],
                                  ["jump_check.py", "/nonexistent/checkpoint"],
                                  ["position_check.py", "--store", "/nonexistent/store"],
                                  ["bench_play_gc.py", "--stepper", "/nonexistent/checkpoint"]])
def test_bad_paths_are_one_line(argv):
    proc = subprocess.run([sys.executable, str(BENCHMARKS / argv[0]), *argv[1:]], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
