"""The metrics on hand-made cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from dreamland.data import layout
from dreamland.evaluate import metrics as M
from dreamland.steppers.baselines import ConstantVelocityStepper, HoldStepper
from dreamland.evaluate.rollout import Trajectory, rollout, rollout_batch
from dreamland.evaluate.starts import choose_starts
from dreamland.schema.actions import Action
from tests.evaluate.helpers import ReplayStepper, S, X, Y, blank_batch, straight_line

K, H = 4, 12
HORIZONS = (1, 5, 10)


def _moving_batch(b: int = 6) -> dict:
    """Players that move, act, get hit, lose a stock and respawn, and an item flying by."""
    batch = straight_line(b, K + H, 1.5)
    rng = np.random.default_rng(0)
    batch["player_wide"][..., 0] = rng.choice([int(Action.STANDING), int(Action.DASHING), int(Action.NAIR)],
                                              size=batch["player_wide"].shape[:-1])
    batch["player_real"][:, K + 3 :, 0, M.PERCENT] = 12.0  # a hit on player 0 at frame 3 after the seed
    batch["player_small"][:, K + 6 :, 1, M.STOCKS] = 3  # player 1 loses a stock at frame 6 ...
    batch["player_wide"][:, K + 6 : K + 8, 1, 0] = int(Action.DEAD_DOWN)
    batch["player_wide"][:, K + 8 :, 1, 0] = int(Action.ON_HALO_DESCENT)  # ... and respawns at 8
    batch["item_exists"][:, :, 0] = 1
    batch["item_real"][:, :, 0, 0] = np.arange(K + H) * 2.0
    return batch


def test_identical_rollout_scores_perfectly():
    batch = _moving_batch()
    res = rollout_batch(ReplayStepper(batch, K), batch, K, H)
    m = M.rollout_metrics(res, HORIZONS, tolerance=2)
    for h in HORIZONS:
        f = m["horizons"][str(h)]
        assert f["pos_mae"] == 0 and f["pos_dist"] == 0 and f["vel_mae"] == 0
        assert f["percent_mae"] == 0 and f["shield_mae"] == 0
        assert all(v == 0 for v in f["fields_mae"].values())
        assert f["action_acc"] == 1 and f["on_ground_acc"] == 1 and f["stock_acc"] == 1
        assert all(v == 1 for v in f["categorical_acc"].values())
        assert f["items"]["exist_acc"] == 1 and f["items"]["exist_iou"] == 1 and f["items"]["pos_mae"] == 0
        assert f["action_change_n"] > 0 and f["action_change_acc"] == 1
    ev = m["horizons"]["10"]["events"]
    for name, n in (("hit", 6), ("stock_lost", 6), ("respawn", 6)):
        assert ev[name]["real"] == ev[name]["predicted"] == ev[name]["matched"] == n
        assert ev[name]["precision"] == ev[name]["recall"] == ev[name]["f1"] == 1
    assert m["horizons"]["1"]["events"]["hit"]["real"] == 0  # nothing has happened yet at frame 1
    assert m["horizons"]["1"]["events"]["hit"]["f1"] is None
    p = m["plausibility"]
    assert p["nan_values"] == 0 and p["stocks_rising"]["count"] == 0 and p["percent_falling"]["count"] == 0
    assert p["outside_blast_zones"]["count"] == 0


def test_known_offset_gives_that_offset():
    batch = _moving_batch()
    res = rollout_batch(ReplayStepper(batch, K, dx=3.0, dy=-3.0), batch, K, H)
    m = M.rollout_metrics(res, HORIZONS)
    for h in HORIZONS:
        f = m["horizons"][str(h)]
        assert f["pos_mae"] == pytest.approx(3.0, abs=1e-5)
        assert f["pos_dist"] == pytest.approx(3.0 * np.sqrt(2), abs=1e-5)
        assert f["fields_mae"]["x"] == pytest.approx(3.0, abs=1e-5)
        assert f["fields_mae"]["percent"] == 0 and f["action_acc"] == 1
    # an offset in x only: 3 units of error in x, none in y, MAE over both coordinates 1.5
    res = rollout_batch(ReplayStepper(batch, K, dx=3.0), batch, K, H)
    f = M.rollout_metrics(res, HORIZONS)["horizons"]["5"]
    assert f["fields_mae"]["x"] == pytest.approx(3.0, abs=1e-5) and f["fields_mae"]["y"] == 0
    assert f["pos_mae"] == pytest.approx(1.5, abs=1e-5) and f["pos_dist"] == pytest.approx(3.0, abs=1e-5)


@pytest.mark.parametrize("v", [0.7, 2.0])
def test_baselines_on_a_straight_line(v):
    batch = straight_line(5, K + H, v)
    hold = M.rollout_metrics(rollout_batch(HoldStepper(), batch, K, H), HORIZONS)
    cv = M.rollout_metrics(rollout_batch(ConstantVelocityStepper(), batch, K, H), HORIZONS)
    for h in HORIZONS:
        # hold: the players stay where the seed ended, h frames of (v, v) behind
        assert hold["horizons"][str(h)]["pos_mae"] == pytest.approx(v * h, rel=1e-5)
        assert hold["horizons"][str(h)]["pos_dist"] == pytest.approx(v * h * np.sqrt(2), rel=1e-5)
        assert cv["horizons"][str(h)]["pos_mae"] == pytest.approx(0.0, abs=1e-4)
    assert hold["curves"]["pos_mae"][:3] == pytest.approx([v, 2 * v, 3 * v], rel=1e-5)


def test_constant_velocity_moves_items_and_holds_the_rest():
    batch = _moving_batch(3)
    res = rollout_batch(ConstantVelocityStepper(), batch, K, H)
    assert np.allclose(res.pred.item_pos[:, 5, 0, 0], res.real.item_pos[:, 0, 0, 0] + 10.0)
    assert (res.pred.small[:, 1:] == res.pred.small[:, :1]).all()
    assert (res.pred.action[:, 1:] == res.pred.action[:, :1]).all()


def test_action_change_accuracy():
    b = 4
    batch = blank_batch(b, K + 3)
    batch["player_wide"][:, K:, 0, 0] = int(Action.DASHING)  # player 0 changes action on frame 1
    res = rollout_batch(HoldStepper(), batch, K, 2)
    f = M.frame_metrics(res.pred, res.real, 1)
    assert f["action_change_n"] == b and f["action_change_acc"] == 0
    assert f["action_acc"] == 0.5  # player 1 keeps standing
    res = rollout_batch(ReplayStepper(batch, K), batch, K, 2)
    assert M.frame_metrics(res.pred, res.real, 1)["action_change_acc"] == 1
    assert M.frame_metrics(res.pred, res.real, 2)["action_change_n"] == 0
    assert M.frame_metrics(res.pred, res.real, 2)["action_change_acc"] is None


def test_event_matching_within_a_tolerance():
    real = np.array([[0, 0, 10], [0, 0, 30], [0, 1, 10], [1, 0, 50]])
    pred = np.array([[0, 0, 12], [0, 0, 40], [0, 1, 9], [1, 1, 50], [1, 0, 46]])
    rm, pm = M.match_events(real, pred, tolerance=3)
    assert rm.tolist() == [True, False, True, False]
    assert pm.tolist() == [True, False, True, False, False]
    rm, pm = M.match_events(real, pred, tolerance=4)
    assert rm.tolist() == [True, False, True, True] and pm[4]
    s = M.event_scores(real, pred, rm, pm, upto=100)
    assert (s["real"], s["predicted"], s["matched"]) == (4, 5, 3)
    assert s["precision"] == pytest.approx(3 / 5) and s["recall"] == pytest.approx(3 / 4)
    assert s["f1"] == pytest.approx(6 / 9)
    s = M.event_scores(real, pred, rm, pm, upto=20)  # only the events of frames <= 20 count
    assert (s["real"], s["predicted"], s["matched"]) == (2, 2, 2) and s["f1"] == 1
    # each real event is matched once: two predictions near one real event give one match
    rm, pm = M.match_events(np.array([[0, 0, 10]]), np.array([[0, 0, 9], [0, 0, 11]]), 2)
    assert rm.tolist() == [True] and pm.tolist() == [True, False]


def _traj(frames: int = 4) -> Trajectory:
    t = Trajectory.empty(1, frames)
    t.exists[:] = True
    t.small[..., S.index("stocks")] = 4
    t.action[:] = int(Action.STANDING)
    t.real[..., Y] = 5.0
    return t


def test_plausibility_counters():
    stage = np.array([32])  # Final Destination: blast zones x +-246, y -140..188
    assert M.plausibility(_traj(), stage)["outside_blast_zones"]["count"] == 0
    t = _traj()
    t.real[0, 2, 0, X] = 300.0  # outside, standing: impossible
    t.real[0, 3, 1, X] = -300.0  # outside, but dying: allowed
    t.action[0, 3, 1] = int(Action.DEAD_LEFT)
    t.small[0, 2, 0, S.index("stocks")] = 4
    t.small[0, 3, 0, S.index("stocks")] = 5  # stocks rising
    t.real[0, 1, 0, M.PERCENT] = 30.0
    t.real[0, 2:, 0, M.PERCENT] = 20.0  # percent falling without a respawn
    t.real[0, 1, 1, M.PERCENT] = 50.0
    t.real[0, 2, 1, M.PERCENT] = 0.0  # percent reset on respawn: allowed
    t.action[0, 2, 1] = int(Action.ON_HALO_DESCENT)
    t.action[0, 1, 0] = int(Action.NAIR)  # an aerial while grounded: a contradiction
    p = M.plausibility(t, stage, np.array([3]), np.array([[False, True, False, False]]))
    assert p["outside_blast_zones"]["count"] == 1
    assert p["stocks_rising"]["count"] == 1
    assert p["percent_falling"]["count"] == 1
    assert p["airborne_contradicts_action"]["count"] == 1
    assert p["player_frames"] == 6 and p["outside_blast_zones"]["rollouts"] == 1.0
    assert p["nan_values"] == 3 and p["nan_frames"] == 1
    # a game that never recorded the airborne flag (stored 0) is not checked against the action
    unrecorded = M.plausibility(t, stage, airborne_recorded=np.array([False]))
    assert unrecorded["airborne_contradicts_action"]["count"] == 0
    assert unrecorded["stocks_rising"]["count"] == 1  # the other checks still count


def test_action_breakdown_and_worst_actions():
    real = np.array([[int(Action.STANDING)] * 2, [int(Action.DASHING)] * 2, [int(Action.NAIR)] * 2,
                     [0x160, 0x160]])  # a character-specific id: counted per character
    pred = real.copy()
    pred[1, :] = int(Action.STANDING)  # both dashes wrong
    pred[2, 0] = int(Action.FAIR)  # one nair wrong
    chars = np.array([[1, 2]] * 4)
    b = M.action_breakdown(pred, real, chars, np.ones_like(real, bool))
    assert b["worst"][0]["name"] == "DASHING" and b["worst"][0]["errors"] == 2
    assert b["worst"][1]["name"] == "NAIR" and b["worst"][1]["errors"] == 1
    assert len(b["worst"]) == 2
    assert b["per_category"]["movement"] == {"frames": 2, "acc": 0.0}
    assert b["per_category"]["aerial_attack"] == {"frames": 2, "acc": 0.5}
    assert b["per_category"]["idle"]["acc"] == 1.0 and b["per_category"]["special"]["frames"] == 2
    specials = [r for r in b["per_action"] if r["category"] == "special"]
    assert len(specials) == 2 and {r["character"] for r in specials} == {"Fox", "Captain Falcon"}
    # named after each character's own move (issue #14), not a hex code shared by all
    assert {r["name"] for r in specials} == {"Fox FOX_ILLUSION_AIR_END", "Captain Falcon RAPTOR_BOOST_AIR_HIT"}


def test_nan_predictions_are_counted_not_averaged():
    batch = straight_line(2, K + 3, 1.0)

    class NaNStepper(HoldStepper):
        def step(self, state, frame, controllers):
            state, out = super().step(state, frame, controllers)
            out = dict(out)
            v = out["player_real"].clone()
            v[0, 0, X] = float("nan")
            out["player_real"] = v
            return state, out

    res = rollout_batch(NaNStepper(), batch, K, 3)
    m = M.rollout_metrics(res, (1, 3))
    assert m["plausibility"]["nan_values"] == 3 and m["plausibility"]["nan_frames"] == 3
    assert m["plausibility"]["nan_rollouts"] == 0.5
    assert m["horizons"]["1"]["pos_mae"] is not None and np.isfinite(m["horizons"]["1"]["pos_mae"])


def test_rollouts_know_which_games_recorded_the_airborne_flag(small_store):
    """A rollout carries, per start, whether its game recorded the airborne flag (the store's
    per-game flags), which the plausibility check reads."""
    games = np.arange(len(small_store.start))
    starts = choose_starts(small_store, games, 10, 5, 8, seed=0)
    res = rollout(HoldStepper(), small_store, starts)
    expected = small_store.present()[starts.game, layout.PRESENT_FIELDS.index("airborne")] > 0
    assert res.airborne_recorded is not None and res.airborne_recorded.shape == (len(starts),)
    assert (res.airborne_recorded == expected).all()
