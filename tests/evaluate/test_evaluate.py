"""`evaluate` end to end on five real games (the `small_store` fixture), and the commands."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import torch
import pytest

from dreamland.evaluate.errors import EvaluationError
from dreamland.evaluate.run import HORIZONS, evaluate, headline, load_metrics, prepare_out_dir
from tests.evaluate.helpers import StoreOracle, strip_timing

SMALL = dict(context=10, starts=40, horizons=HORIZONS, seed=3, teacher_forced=200,
             probe=16, trajectories=2, batch_size=64)


@pytest.fixture(scope="module")
def games(small_store):
    return small_store.games_in("all")


@pytest.fixture(scope="module")
def baseline_report(small_store, games, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "baselines"
    return evaluate(None, small_store, games, out_dir=out, **SMALL), out


def _check_headline_shape(h: dict) -> None:
    keys = {"pos_mae", "action_acc", "action_change_acc"}
    assert set(h) == keys | {"baselines"}
    # every game is evaluated here, so the lookup has no training games to count: it is skipped
    assert set(h["baselines"]) == {"hold", "constant_velocity"}
    for figs in [h] + list(h["baselines"].values()):
        assert set(figs) >= keys
        for k in keys:
            assert list(figs[k]) == ["1", "5", "10", "20", "60", "300"]
            assert all(v is None or isinstance(v, float) for v in figs[k].values())


def test_lookup_baseline_counts_only_games_it_does_not_evaluate(small_store):
    """Evaluating one game, the lookup is counted over the other training games and reported
    beside the other baselines; it predicts the action at least as well as holding it."""
    others = small_store.games_in("train")
    assert len(others) >= 2
    m = evaluate(None, small_store, others[:1], **{**SMALL, "teacher_forced": 0, "probe": 0})
    h = m["headline"]["baselines"]
    assert set(h) == {"hold", "constant_velocity", "lookup"}
    assert h["lookup"]["pos_mae"] == h["constant_velocity"]["pos_mae"]
    assert h["lookup"]["action_acc"]["10"] >= h["hold"]["action_acc"]["10"]


def test_baselines_end_to_end(baseline_report):
    m, out = baseline_report
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
    assert load_metrics(out)["headline"] == m["headline"]
    h = headline(m)
    _check_headline_shape(h)
    hold, cv = h["baselines"]["hold"], h["baselines"]["constant_velocity"]
    assert cv["pos_mae"]["1"] < hold["pos_mae"]["1"]  # one frame ahead, inertia beats standing still
    assert hold["pos_mae"]["1"] < hold["pos_mae"]["20"] < hold["pos_mae"]["300"]
    assert hold["action_change_acc"]["1"] == 0.0  # holding never predicts a change
    assert hold["action_acc"] == cv["action_acc"]  # both hold the action
    assert m["meta"]["starts"] == 40 and m["meta"]["games_used"] == 5
    p = m["rollout"]["hold"]["plausibility"]
    assert p["nan_values"] == 0 and p["stocks_rising"]["count"] == 0 and p["percent_falling"]["count"] == 0
    assert m["real"]["plausibility"]["stocks_rising"]["count"] == 0
    assert m["probe"]["hold"]["jump"]["responded"] == 0.0 and m["probe"]["hold"]["positions"] == 16
    tf = m["teacher_forced"]["hold"]
    assert tf["n"] == 400 and set(tf["actions"]["per_category"]) >= {"idle", "movement", "aerial", "ground_attack",
                                                                      "aerial_attack", "damage", "shield_dodge",
                                                                      "grab", "ledge", "special"}
    assert len(m["trajectories"]) == 2
    json.dumps(m, allow_nan=False)


def test_the_real_game_scores_perfectly(small_store, games):
    m = evaluate(StoreOracle(small_store), small_store, games, **SMALL)
    for h, f in m["rollout"]["model"]["horizons"].items():
        assert f["pos_mae"] == 0 and f["vel_mae"] == 0 and f["percent_mae"] == 0, h
        assert f["action_acc"] == 1 and f["action_change_acc"] in (1, None) and f["stock_acc"] == 1
        assert f["items"]["exist_acc"] == 1 and f["items"]["pos_mae"] in (0, None)
        for e in f["events"].values():
            assert e["f1"] in (1, None) and e["real"] == e["predicted"] == e["matched"]
    assert m["rollout"]["model"]["horizons"]["300"]["events"]["hit"]["real"] > 0
    assert m["teacher_forced"]["model"]["action_acc"] == 1 and m["teacher_forced"]["model"]["actions"]["worst"] == []
    real, model = m["real"]["plausibility"], m["rollout"]["model"]["plausibility"]
    assert {k: v for k, v in model.items() if not k.startswith("nan")} == real
    # and the baselines ran on exactly the same starts
    assert m["rollout"]["hold"]["horizons"]["1"]["n"] == m["rollout"]["model"]["horizons"]["1"]["n"]


def test_a_known_offset_on_real_games(small_store, games):
    m = evaluate(StoreOracle(small_store, dx=3.0, dy=3.0), small_store, games,
                 **{**SMALL, "teacher_forced": 0, "probe": 0})
    for f in m["rollout"]["model"]["horizons"].values():
        assert f["pos_mae"] == pytest.approx(3.0, abs=1e-3)
        assert f["pos_dist"] == pytest.approx(3.0 * np.sqrt(2), abs=1e-3)
        assert f["action_acc"] == 1


def test_deterministic_for_a_seed(small_store, games, baseline_report):
    again = evaluate(None, small_store, games, **SMALL)
    assert strip_timing({k: v for k, v in again.items() if k != "meta"}) == \
        strip_timing({k: v for k, v in baseline_report[0].items() if k != "meta"})
    other = evaluate(None, small_store, games, **{**SMALL, "seed": 4, "teacher_forced": 0,
                                                  "probe": 0})
    assert other["headline"] != baseline_report[0]["headline"]


def test_bad_input(small_store, games, tmp_path):
    with pytest.raises(EvaluationError, match="shorter than K \\+ H"):
        evaluate(None, small_store, games, horizons=(100_000,), starts=4)
    with pytest.raises(EvaluationError, match="no games"):
        evaluate(None, small_store, np.array([], np.int64), starts=4)
    with pytest.raises(EvaluationError, match="not a stepper"):
        evaluate(object(), small_store, games, starts=4)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(EvaluationError, match="not empty"):
        prepare_out_dir(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


# ------------------------------------------------------------------------------------------------
# the commands


def _parser() -> argparse.ArgumentParser:
    from dreamland.cli import _Parser
    from dreamland.evaluate.command import add_compare_parser, add_eval_parser

    p = _Parser(prog="dreamland")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_eval_parser(sub)
    add_compare_parser(sub)
    return p


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


def test_eval_command_on_replays(replay_file, tmp_path, capsys):
    from tests.conftest import STORE_GAMES

    folder = tmp_path / "replays"
    folder.mkdir()
    for name in STORE_GAMES[1:3]:
        shutil.copy(replay_file(name), folder / name)
    (folder / "broken.slp").write_bytes(replay_file(STORE_GAMES[0]).read_bytes()[:4000])
    rc = _run(["eval", "constant-velocity", "--replays", str(folder), "--out", str(tmp_path / "r1"), "--json",
               "--starts", "24", "--teacher-forced", "64", "--probe", "8", "--context", "10", "-q", "--workers", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    _check_headline_shape(json.loads(out))
    m = load_metrics(tmp_path / "r1")
    assert m["meta"]["replays_failed"] == 1 and m["meta"]["replays_ok"] == 2 and m["meta"]["games_used"] == 2
    assert m["meta"]["model"] == "constant_velocity" and m["meta"]["store"] is None
    assert (tmp_path / "r1" / "report.html").stat().st_size > 10_000

    rc = _run(["eval", "hold", "--replays", str(folder), "--out", str(tmp_path / "r2"), "--starts", "24",
               "--teacher-forced", "0", "--probe", "0", "--context", "10", "-q", "--workers", "1"])
    text = capsys.readouterr().out
    assert rc == 0 and "position MAE" in text and "report.html" in text

    html = tmp_path / "cmp" / "comparison.html"
    assert _run(["compare", str(tmp_path / "r1"), str(tmp_path / "r2"), "--out", str(html)]) == 0
    text = capsys.readouterr().out
    assert "r1" in text and "r2" in text and "action-change accuracy" in text
    assert html.read_text().count("<svg") == 3


def test_eval_since_a_slippi_version_evaluates_only_those_games(small_store, tmp_path):
    """`--since V` evaluates the split's games recorded by Slippi V or later, and says so."""
    from dreamland.data.store import slippi_version

    games = small_store.games_in("all")
    versions = small_store.index["slippi_version"].to_pylist()
    newest = ".".join(map(str, max(slippi_version(versions[g]) for g in games)))
    kept = small_store.recorded_since(games, newest)
    assert 0 < len(kept) < len(games)  # the small store mixes versions
    out = tmp_path / "since"
    assert _run(["eval", "hold", "--store", str(small_store.path), "--split", "all", "--since", newest,
                 "--starts", "8", "--horizons", "1,5", "--teacher-forced", "0", "--probe", "0", "--out", str(out),
                 "-q"]) == 0
    meta = load_metrics(out)["meta"]
    assert meta["since"] == newest and meta["games_used"] == len(kept)


def test_eval_command_bad_input(small_store, tmp_path, capsys):
    out = str(tmp_path / "r")
    assert _run(["eval", str(tmp_path / "missing.ckpt"), "--store", str(small_store.path), "--out", out]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    foreign.write_bytes(b"\x00not a checkpoint")
    assert _run(["eval", str(foreign), "--store", str(small_store.path), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "foreign.ckpt" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # the small store's five games are all in the train split
    assert _run(["eval", "hold", "--store", str(small_store.path), "--split", "test", "--out", out]) == 2
    assert "has no games" in capsys.readouterr().err
    assert _run(["eval", "hold", "--store", str(small_store.path), "--split", "all", "--horizons", "99999",
                 "--out", out, "-q"]) == 2
    assert "shorter than" in capsys.readouterr().err
    assert not (tmp_path / "r" / "metrics.json").exists()
    assert _run(["compare", str(tmp_path)]) == 2
    assert "no metrics.json" in capsys.readouterr().err
    # --since keeps the games of a Slippi version or later: none here is that new, and a version is numbers
    assert _run(["eval", "hold", "--store", str(small_store.path), "--split", "all", "--since", "99.0.0",
                 "--out", out, "-q"]) == 2
    assert "no games recorded by Slippi 99.0.0 or later" in capsys.readouterr().err
    assert _run(["eval", "hold", "--store", str(small_store.path), "--split", "all", "--since", "three",
                 "--out", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert "not a Slippi version: 'three'" in err and len(err.strip().splitlines()) == 1
    # the lookup evaluated as the model needs training games it does not evaluate
    assert _run(["eval", "lookup", "--store", str(small_store.path), "--split", "all", "--out", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert "lookup: the lookup baseline counts its table" in err and len(err.strip().splitlines()) == 1


class _ObedientStepper:
    """Does what the controller says, at once: X jumps, R shields, the stick moves, A jabs."""

    def __init__(self):
        from dreamland.schema.controller import BUTTON_BITS

        self.col = {b: 5 + i for i, b in enumerate(BUTTON_BITS)}
        self.seen = []

    def init(self, seed):
        return None

    def step(self, state, frame, controllers):
        from dreamland.data import layout
        from dreamland.schema.actions import Action

        self.seen.append(controllers.clone())
        R, S = layout.PLAYER_GROUPS[:2]
        out = {k: v.clone() for k, v in frame.items()}
        real, small, act = out["player_real"], out["player_small"], out["player_wide"][..., 0]
        jump = controllers[..., self.col["X"]] > 0.5
        real[..., R.index("y")] += 5.0 * jump
        small[..., S.index("airborne")] |= jump.to(small.dtype)
        act[controllers[..., self.col["R"]] > 0.5] = int(Action.SHIELD)
        act[controllers[..., self.col["A"]] > 0.5] = int(Action.NEUTRAL_ATTACK_1)
        real[..., R.index("x")] += 2.0 * (controllers[..., 0] - 0.5) * 2
        return state, out


def test_controllability_probe(small_store, games):
    from dreamland.evaluate.probe import PROBES, encoded_script, probe, probe_positions

    positions, player = probe_positions(small_store, games, 10, 12, seed=5)
    assert len(positions) == 12 and set(player) <= {0, 1}
    stepper = _ObedientStepper()
    res = probe(stepper, small_store, positions, player, frames=6)
    for name in PROBES:
        assert res[name] == {"n": 12, "responded": 1.0, "responded_neutral": 0.0}, name
    assert res["mean_responded"] == 1.0
    # the probed player got the script, the other player kept the real inputs
    ctrl = torch.stack(stepper.seen, 1)  # (6 variants x 12, frames, 2, 17)
    jump = 12 * (1 + PROBES.index("jump"))
    rows = np.arange(jump, jump + 12)
    assert torch.equal(ctrl[rows, :, player], encoded_script("jump", 6).expand(12, 6, 17))
    neutral = ctrl[np.arange(12), :, player]
    assert torch.equal(neutral, encoded_script("neutral", 6).expand(12, 6, 17))
    assert torch.equal(ctrl[rows, :, 1 - player], ctrl[np.arange(12), :, 1 - player])
