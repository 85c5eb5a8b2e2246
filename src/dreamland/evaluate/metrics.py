"""Every figure of an evaluation, as pure numpy functions of (predicted, real) trajectories.

Arrays are `rollout.Trajectory` fields shaped (S, T, ...) where index 0 is the last real seed frame
and index h the h-th predicted frame. A figure "at horizon h" is measured on frame h exactly, over
every start and both players (pooled), counting only players that exist in the real frame.
Errors are mean absolute errors in game units over finite predictions (NaNs are counted by the
plausibility checks instead); accuracies are fractions. A figure with no sample is None (JSON
null). Definitions: docs/evaluation.md.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dreamland.data import layout
from dreamland.evaluate.rollout import RolloutResult, Trajectory
from dreamland.schema import actions
from dreamland.schema.actions import ActionCategory, FIRST_SPECIAL_ACTION
from dreamland.steppers.baselines import BASELINE_NAMES

REAL = layout.PLAYER_GROUPS[0]
SMALL = layout.PLAYER_GROUPS[1]
REAL_NAMES = REAL.names
SMALL_NAMES = SMALL.names
X, Y = REAL.index("x"), REAL.index("y")
PERCENT, SHIELD = REAL.index("percent"), REAL.index("shield")
VELOCITIES = tuple(i for i, n in enumerate(REAL_NAMES) if n.startswith("vel_"))
AIRBORNE, STOCKS = SMALL.index("airborne"), SMALL.index("stocks")

HIT_MIN_PERCENT = 0.5  # a hit adds at least ~0.9 %; smaller rises are not hits
PERCENT_EPS = 1e-3
EVENT_TYPES = ("stock_lost", "respawn", "hit")
CATEGORIES = tuple(c.label for c in ActionCategory)
WORST_ACTIONS = 15


# ------------------------------------------------------------------------------------------------
# small helpers


def _num(x) -> float | None:
    """A JSON-safe number: None for NaN / no samples."""
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)


def masked_mean(values: np.ndarray, mask: np.ndarray, axis=None) -> np.ndarray | float:
    """Mean of `values` where `mask` and finite; NaN where nothing counts."""
    mask = np.broadcast_to(mask, values.shape) & np.isfinite(values)
    total = np.where(mask, values, 0.0).sum(axis=axis, dtype=np.float64)
    count = mask.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / np.where(count > 0, count, np.nan)


def _acc(equal: np.ndarray, mask: np.ndarray) -> float | None:
    return _num(masked_mean(equal.astype(np.float64), mask))


def _changed(traj: Trajectory, t: int) -> np.ndarray:
    return traj.action[:, t] != traj.action[:, t - 1]


# ------------------------------------------------------------------------------------------------
# errors and accuracies at one frame


def frame_metrics(pred: Trajectory, real: Trajectory, t: int) -> dict:
    """Every per-frame figure at frame index t (>= 1)."""
    live = real.exists[:, t]  # (S, 2)
    pr, rr = pred.real[:, t].astype(np.float64), real.real[:, t].astype(np.float64)
    err = np.abs(pr - rr)  # (S, 2, F)
    out: dict = {"n": int(live.sum())}
    out["pos_mae"] = _num(masked_mean(err[..., [X, Y]], live[..., None]))
    out["pos_dist"] = _num(masked_mean(np.hypot(pr[..., X] - rr[..., X], pr[..., Y] - rr[..., Y]), live))
    out["vel_mae"] = _num(masked_mean(err[..., list(VELOCITIES)], live[..., None]))
    out["percent_mae"] = _num(masked_mean(err[..., PERCENT], live))
    out["shield_mae"] = _num(masked_mean(err[..., SHIELD], live))
    out["fields_mae"] = {n: _num(masked_mean(err[..., j], live)) for j, n in enumerate(REAL_NAMES)}
    same = pred.action[:, t] == real.action[:, t]
    out["action_acc"] = _acc(same, live)
    change = live & _changed(real, t) & real.exists[:, t - 1]
    out["action_change_acc"] = _acc(same, change)
    out["action_change_n"] = int(change.sum())
    out["per_player"] = {
        str(p): {"action_acc": _acc(same[:, p], live[:, p]), "action_change_acc": _acc(same[:, p], change[:, p]),
                 "pos_mae": _num(masked_mean(err[:, p][..., [X, Y]], live[:, p, None]))}
        for p in (0, 1)
    }
    out["on_ground_acc"] = _acc(pred.small[:, t, :, AIRBORNE] == real.small[:, t, :, AIRBORNE], live)
    out["stock_acc"] = _acc(pred.small[:, t, :, STOCKS] == real.small[:, t, :, STOCKS], live)
    out["categorical_acc"] = {"action": out["action_acc"]} | {
        n: _acc(pred.small[:, t, :, j] == real.small[:, t, :, j], live) for j, n in enumerate(SMALL_NAMES)
    }
    cat = actions.action_category(real.action[:, t])
    out["category_acc"] = {c.label: _acc(same, live & (cat == int(c))) for c in ActionCategory}
    out["items"] = item_metrics(pred, real, t)
    return out


def item_metrics(pred: Trajectory, real: Trajectory, t: int) -> dict:
    """Existence accuracy over every slot, existence IoU (slots where both / either exist), and
    position error on the slots existing in both."""
    pe, re = pred.item_exists[:, t], real.item_exists[:, t]
    both, either = pe & re, pe | re
    err = np.abs(pred.item_pos[:, t].astype(np.float64) - real.item_pos[:, t])
    return {
        "exist_acc": _num((pe == re).mean()) if pe.size else None,
        "exist_iou": _num(both.sum() / either.sum()) if either.any() else None,
        "pos_mae": _num(masked_mean(err, both[..., None])),
        "real": int(re.sum()),
        "both": int(both.sum()),
    }


def curves(pred: Trajectory, real: Trajectory) -> dict[str, list]:
    """Per-frame figures for frames 1..H (for plots)."""
    live = real.exists[:, 1:]
    err = np.abs(pred.real[:, 1:].astype(np.float64) - real.real[:, 1:])
    same = (pred.action[:, 1:] == real.action[:, 1:]).astype(np.float64)

    def col(v):
        return [_num(x) for x in v]

    return {
        "pos_mae": col(masked_mean(err[..., [X, Y]], live[..., None], axis=(0, 2, 3))),
        "vel_mae": col(masked_mean(err[..., list(VELOCITIES)], live[..., None], axis=(0, 2, 3))),
        "percent_mae": col(masked_mean(err[..., PERCENT], live, axis=(0, 2))),
        "action_acc": col(masked_mean(same, live, axis=(0, 2))),
    }


# ------------------------------------------------------------------------------------------------
# events


def extract_events(traj: Trajectory) -> dict[str, np.ndarray]:
    """Events of frames 1..T-1 as (n, 3) int arrays of (start, player, frame):
    `stock_lost` (stocks decrease), `respawn` (entering the respawn platform states),
    `hit` (percent rises by more than HIT_MIN_PERCENT)."""
    both = traj.exists[:, 1:] & traj.exists[:, :-1]
    stocks = traj.small[..., STOCKS].astype(np.int16)
    respawning = actions.is_respawning(traj.action)
    percent = traj.real[..., PERCENT].astype(np.float64)
    with np.errstate(invalid="ignore"):
        found = {
            "stock_lost": both & (stocks[:, 1:] < stocks[:, :-1]),
            "respawn": both & respawning[:, 1:] & ~respawning[:, :-1],
            "hit": both & (percent[:, 1:] > percent[:, :-1] + HIT_MIN_PERCENT),
        }
    out = {}
    for name, mask in found.items():
        s, t, p = np.nonzero(mask)
        out[name] = np.stack([s, p, t + 1], 1).astype(np.int64) if len(s) else np.zeros((0, 3), np.int64)
    return out


def match_events(real: np.ndarray, pred: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair real and predicted events of the same start and player whose frames differ by at most
    `tolerance`, each event at most once (greedy in time order, which finds a largest matching of
    points on a line). Returns (real matched, predicted matched) flags."""
    rm, pm = np.zeros(len(real), bool), np.zeros(len(pred), bool)
    by_key: dict[tuple[int, int], list[int]] = defaultdict(list)
    for j, (s, p, _) in enumerate(pred):
        by_key[(int(s), int(p))].append(j)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (s, p, _) in enumerate(real):
        groups[(int(s), int(p))].append(i)
    for key, r_idx in groups.items():
        p_idx = sorted(by_key.get(key, []), key=lambda j: pred[j, 2])
        if not p_idx:
            continue
        k = 0
        for i in sorted(r_idx, key=lambda i: real[i, 2]):
            t = real[i, 2]
            while k < len(p_idx) and pred[p_idx[k], 2] < t - tolerance:
                k += 1
            if k < len(p_idx) and pred[p_idx[k], 2] <= t + tolerance:
                rm[i] = pm[p_idx[k]] = True
                k += 1
    return rm, pm


def event_scores(real: np.ndarray, pred: np.ndarray, rm: np.ndarray, pm: np.ndarray, upto: int) -> dict:
    """Precision, recall and F1 of the events up to frame `upto` (matched over the whole rollout)."""
    r, p = real[:, 2] <= upto, pred[:, 2] <= upto
    nr, np_ = int(r.sum()), int(p.sum())
    mr, mp = int((rm & r).sum()), int((pm & p).sum())
    return {
        "real": nr,
        "predicted": np_,
        "matched": mr,
        "precision": _num(mp / np_) if np_ else None,
        "recall": _num(mr / nr) if nr else None,
        "f1": _num((mr + mp) / (nr + np_)) if nr + np_ else None,
    }


def events_by_horizon(pred: Trajectory, real: Trajectory, horizons, tolerance: int) -> dict:
    re, pe = extract_events(real), extract_events(pred)
    out: dict = {str(h): {} for h in horizons}
    for name in EVENT_TYPES:
        rm, pm = match_events(re[name], pe[name], tolerance)
        for h in horizons:
            out[str(h)][name] = event_scores(re[name], pe[name], rm, pm, h)
    return out


# ------------------------------------------------------------------------------------------------
# plausibility


def _blast_zones(stage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, 4) left, right, top, bottom, and (S,) whether the stage has known geometry."""
    from dreamland.schema.stages import geometry

    zones = np.zeros((len(stage), 4))
    known = np.zeros(len(stage), bool)
    for s in np.unique(stage):
        try:
            z = geometry(int(s)).blast_zones
        except KeyError:
            continue
        zones[stage == s] = z
        known[stage == s] = True
    return zones, known


def plausibility(traj: Trajectory, stage: np.ndarray, nan_values: np.ndarray | None = None,
                 nan_frames: np.ndarray | None = None, airborne_recorded: np.ndarray | None = None) -> dict:
    """Impossible things in frames 1..T-1 of some trajectories (counts of player-frames, and the
    share of rollouts with at least one). The airborne flag is checked against the action only in
    games that recorded it (`airborne_recorded`, per trajectory; None: all)."""
    t_live = traj.exists[:, 1:]
    prev = traj.exists[:, :-1] & t_live
    a = traj.action[:, 1:]
    x = traj.real[:, 1:, :, X].astype(np.float64)
    y = traj.real[:, 1:, :, Y].astype(np.float64)
    zones, known = _blast_zones(np.asarray(stage))
    z = zones[:, None, None, :]
    with np.errstate(invalid="ignore"):
        outside = (x < z[..., 0]) | (x > z[..., 1]) | (y > z[..., 2]) | (y < z[..., 3])
    outside &= t_live & known[:, None, None] & ~actions.is_dead(a)
    stocks = traj.small[..., STOCKS].astype(np.int16)
    rising = prev & (stocks[:, 1:] > stocks[:, :-1])
    percent = traj.real[..., PERCENT].astype(np.float64)
    with np.errstate(invalid="ignore"):
        falling = prev & (percent[:, 1:] < percent[:, :-1] - PERCENT_EPS)
    falling &= ~actions.is_respawning(a) & ~actions.is_dead(a)
    airborne = traj.small[:, 1:, :, AIRBORNE]
    contradiction = t_live & (
        (actions.is_airborne_only(a) & (airborne == 0)) | (actions.is_grounded_only(a) & (airborne == 1))
    )
    if airborne_recorded is not None:
        contradiction &= np.asarray(airborne_recorded, bool)[:, None, None]
    checked = int(t_live.sum())

    def count(mask):
        n = int(mask.sum())
        return {"count": n, "rate": _num(n / checked) if checked else None,
                "rollouts": _num(mask.reshape(len(mask), -1).any(1).mean()) if len(mask) else None}

    out = {
        "player_frames": checked,
        "player_frames_with_blast_zones": int((t_live & known[:, None, None]).sum()),
        "outside_blast_zones": count(outside),
        "stocks_rising": count(rising),
        "percent_falling": count(falling),
        "airborne_contradicts_action": count(contradiction),
    }
    if nan_values is not None:
        out["nan_values"] = int(nan_values.sum())
        nf = nan_frames[:, 1:] if nan_frames is not None else np.zeros((len(nan_values), 1), bool)
        out["nan_frames"] = int(nf.sum())
        out["nan_rollouts"] = _num(nf.any(1).mean()) if len(nf) else None
    return out


# ------------------------------------------------------------------------------------------------
# per action


def _action_keys(action: np.ndarray, characters: np.ndarray) -> np.ndarray:
    """Common ids are their own key; character-specific ids are keyed per character."""
    a = action.astype(np.int64)
    c = np.broadcast_to(characters.astype(np.int64), a.shape)
    return np.where(a >= FIRST_SPECIAL_ACTION, (c + 1) * 100_000 + a, a)


def _key_name(key: int) -> tuple[int, str, str | None]:
    from dreamland.schema.characters import name_of_internal

    if key < 100_000:
        return key, actions.action_name(key), None
    c, a = divmod(key, 100_000)
    try:
        who = name_of_internal(c - 1)
    except (KeyError, ValueError, IndexError):
        who = f"character {c - 1}"
    return a, f"{who} {actions.action_name(a, c - 1)}", who


def action_breakdown(pred_action: np.ndarray, real_action: np.ndarray, characters: np.ndarray,
                     mask: np.ndarray, worst: int = WORST_ACTIONS) -> dict:
    """Accuracy per real action (character-specific actions per character) and per category, and
    the actions with the most errors. Arrays broadcast to (..., 2) players; `characters` (S, 2)
    must broadcast too."""
    mask = np.broadcast_to(mask, real_action.shape)
    ok = (pred_action == real_action)[mask]
    keys = _action_keys(real_action, characters)[mask]
    per_action = []
    if len(keys):
        uniq, inv = np.unique(keys, return_inverse=True)
        frames = np.bincount(inv)
        correct = np.bincount(inv, weights=ok.astype(np.float64)).astype(np.int64)
        for key, n, c in zip(uniq, frames, correct):
            a, name, who = _key_name(int(key))
            per_action.append({
                "action": a, "name": name, "character": who,
                "category": ActionCategory(int(actions.action_category(a))).label,
                "frames": int(n), "correct": int(c), "errors": int(n - c), "acc": _num(c / n),
            })
    cats = actions.action_category(real_action)[mask]
    per_category = {}
    for c in ActionCategory:
        sel = cats == int(c)
        per_category[c.label] = {"frames": int(sel.sum()), "acc": _num(ok[sel].mean()) if sel.any() else None}
    worst_list = sorted(per_action, key=lambda r: (-r["errors"], r["name"]))[:worst]
    return {"per_category": per_category, "worst": [r for r in worst_list if r["errors"] > 0],
            "per_action": sorted(per_action, key=lambda r: -r["frames"])}


# ------------------------------------------------------------------------------------------------
# whole evaluations


def rollout_metrics(res: RolloutResult, horizons, tolerance: int = 5) -> dict:
    """Everything about one stepper's rollouts: figures per horizon, events, plausibility, curves."""
    horizons = [h for h in horizons if h <= res.horizon]
    ev = events_by_horizon(res.pred, res.real, horizons, tolerance)
    per_h = {}
    for h in horizons:
        m = frame_metrics(res.pred, res.real, h)
        m["events"] = ev[str(h)]
        per_h[str(h)] = m
    return {
        "starts": int(res.pred.shape[0]),
        "horizons": per_h,
        "plausibility": plausibility(res.pred, res.stage, res.nan_values, res.nan_frames, res.airborne_recorded),
        "curves": curves(res.pred, res.real),
        "seconds": _num(res.seconds),
    }


def teacher_forced_metrics(res: RolloutResult) -> dict:
    """One-step figures (frame 1 of each rollout: K real frames in, the next frame out), with the
    per-action and per-category breakdown."""
    m = frame_metrics(res.pred, res.real, 1)
    live = res.real.exists[:, 1]
    m["actions"] = action_breakdown(res.pred.action[:, 1], res.real.action[:, 1], res.characters, live)
    change = live & _changed(res.real, 1) & res.real.exists[:, 0]
    m["action_change_breakdown"] = action_breakdown(res.pred.action[:, 1], res.real.action[:, 1],
                                                    res.characters, change, worst=10)["per_category"]
    m["nan_values"] = int(res.nan_values.sum())
    m["seconds"] = _num(res.seconds)
    return m


def headline(rollouts: dict[str, dict], model: str = "model") -> dict:
    """The `--json` figures: pos_mae, action_acc, action_change_acc per horizon, for the model and
    under `baselines` for hold and constant_velocity."""
    keys = ("pos_mae", "action_acc", "action_change_acc")

    def figures(m: dict) -> dict:
        return {k: {h: v[k] for h, v in m["horizons"].items()} for k in keys}

    out = figures(rollouts[model]) if model in rollouts else {k: {} for k in keys}
    out["baselines"] = {b: figures(rollouts[b]) for b in BASELINE_NAMES if b in rollouts}
    return out
