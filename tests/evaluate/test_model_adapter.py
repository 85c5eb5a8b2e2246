"""The world model's step function behind the evaluation protocol: a tiny untrained model, and the
model shipped with dreamland when no checkpoint is named."""

from __future__ import annotations

import json

import torch

from dreamland.evaluate.run import HORIZONS, evaluate, load_metrics
from dreamland.model.stepper import ModelStepper


def _tiny_model():
    from dreamland.model.config import preset
    from dreamland.model.world import WorldModel

    torch.manual_seed(0)
    return WorldModel(preset("tiny"))


def test_tiny_model_end_to_end(small_store, tmp_path):
    games = small_store.games_in("all")
    kwargs = dict(context=10, starts=12, horizons=HORIZONS, seed=1, teacher_forced=24, probe=6, batch_size=8)
    m = evaluate(ModelStepper(_tiny_model(), context=10), small_store, games, out_dir=tmp_path, **kwargs)
    assert set(m["rollout"]) == {"model", "hold", "constant_velocity"}
    assert list(m["headline"]["pos_mae"]) == [str(h) for h in HORIZONS]
    assert all(v is not None for v in m["headline"]["pos_mae"].values())
    assert m["rollout"]["model"]["starts"] == 12 and m["probe"]["model"]["positions"] == 6
    assert (tmp_path / "report.html").is_file()
    again = evaluate(ModelStepper(_tiny_model(), context=10), small_store, games, **kwargs)
    assert again["headline"] == m["headline"]  # deterministic


def test_eval_command_with_a_tiny_model(replay_file, tmp_path, capsys):
    """A real checkpoint on disk (safetensors + JSON) evaluated on raw replays, ingested on the fly."""
    from dreamland.model.checkpoint import save
    from tests.conftest import STORE_GAMES
    from tests.evaluate.test_evaluate import _check_headline_shape, _run

    ckpt = tmp_path / "tiny-checkpoint"
    save(ckpt, _tiny_model(), extra={"train_config": {"data": {"context": 8}}})
    rc = _run(["eval", str(ckpt), "--replays", str(replay_file(STORE_GAMES[1])), "--out", str(tmp_path / "r"),
               "--starts", "8", "--teacher-forced", "16", "--probe", "4", "--json", "-q", "--workers", "1"])
    assert rc == 0
    _check_headline_shape(json.loads(capsys.readouterr().out))
    m = load_metrics(tmp_path / "r")
    assert m["meta"]["context"] == 8 and m["meta"]["games_used"] == 1


def test_eval_without_a_checkpoint_uses_the_shipped_model(replay_file, tmp_path, capsys):
    from dreamland.model.checkpoint import default_checkpoint
    from tests.conftest import STORE_GAMES
    from tests.evaluate.test_evaluate import _run

    rc = _run(["eval", "--replays", str(replay_file(STORE_GAMES[1])), "--out", str(tmp_path / "r"),
               "--starts", "8", "--horizons", "1,5,20", "--teacher-forced", "16", "--probe", "4", "-q",
               "--workers", "1"])
    assert rc == 0, capsys.readouterr().err
    m = load_metrics(tmp_path / "r")
    assert m["meta"]["checkpoint"] == "default model" and m["meta"]["model"] == "model"
    trained = json.loads((default_checkpoint() / "config.json").read_text())["extra"]["train_config"]
    assert m["meta"]["context"] == trained["data"]["context"]


def test_eval_event_weight_decodes_as_a_checkpoint_trained_with_it(small_store, tmp_path, capsys):
    """`--event-weight W` gives exactly the figures of the same weights saved with event_weight W,
    and refuses a baseline."""
    from dreamland.model.checkpoint import save
    from dreamland.model.config import preset
    from dreamland.model.world import WorldModel
    from tests.evaluate.test_evaluate import _run

    model = _tiny_model()
    with torch.no_grad():  # an untrained tiny model predicts "change" everywhere: make it hesitate
        for p in model.parameters():
            p.mul_(0.1)
    plain, weighted = tmp_path / "plain", tmp_path / "weighted"
    save(plain, model, extra={"train_config": {"data": {"context": 8}}})
    twin = WorldModel(preset("tiny", event_weight=50.0))
    twin.load_state_dict(model.state_dict())
    save(weighted, twin, extra={"train_config": {"data": {"context": 8}}})
    common = ["--store", str(small_store.path), "--split", "all", "--starts", "8", "--horizons", "1,5",
              "--teacher-forced", "0", "--probe", "0", "--json", "-q"]
    figures = []
    for args in ([str(plain), "--event-weight", "50"], [str(weighted)], [str(plain)]):
        assert _run(["eval", *args, "--out", str(tmp_path / f"r{len(figures)}"), *common]) == 0
        figures.append(json.loads(capsys.readouterr().out))
    assert figures[0] == figures[1] and figures[0] != figures[2]
    assert _run(["eval", "hold", "--event-weight", "5", "--out", str(tmp_path / "r"), *common]) == 2
    assert "baseline" in capsys.readouterr().err
    assert _run(["eval", str(plain), "--event-weight", "-1", "--out", str(tmp_path / "r"), *common]) == 2
    err = capsys.readouterr().err
    assert "must be positive" in err and len(err.strip().splitlines()) == 1
    # a horizon the reports do not have: one line, exit 2
    assert _run(["compare", str(tmp_path / "r0"), "--fields", "77", "--out", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err
    assert "horizon 77" in err and "Traceback" not in err
