"""`evaluate`: one model and the baselines on exactly the same starts, every figure, a report.

    metrics = evaluate(stepper, store, games, context=30, starts=300, out_dir="report")
    print(json.dumps(headline(metrics)))

Rollouts, teacher-forced predictions and the controllability probe all go through the stepper
protocol (`steppers.protocol`), so the world model and the baselines are measured by the same code
on the same frames. `store_from_replays` turns raw replays into a temporary store first.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from dreamland import __version__
from dreamland.data.store import Store, StoreError
from dreamland.evaluate import metrics as M
from dreamland.evaluate import probe as P
from dreamland.evaluate import teacher_forced as TF
from dreamland.evaluate.defaults import DEFAULT_CONTEXT, HORIZONS  # noqa: F401 - re-exported
from dreamland.evaluate.errors import EvaluationError
from dreamland.evaluate.rollout import RolloutResult, rollout
from dreamland.evaluate.starts import Starts, choose_starts
from dreamland.fsutil import write_text_atomic
from dreamland.model.checkpoint import CheckpointError
from dreamland.steppers.baselines import BASELINES
from dreamland.steppers.load import load_stepper
from dreamland.steppers.protocol import Stepper, is_stepper

FORMAT = "dreamland-eval"
FORMAT_VERSION = 1
Log = Callable[[str], None]


def _silent(_: str) -> None:
    pass


def _stepper(obj: Any, name: str, store: Store, games: np.ndarray, device: str) -> Stepper:
    """The evaluated stepper from a stepper, a factory of one, a checkpoint folder or a baseline's
    name (`steppers.load.load_stepper`; the lookup is counted without `games`)."""
    if not (is_stepper(obj) or callable(obj) or isinstance(obj, (str, Path))):
        raise EvaluationError(f"{name}: not a stepper (it needs init(seed) and step(state, frame, controllers))")
    try:
        stepper = load_stepper(obj, device=device, store=store, games=games)
    except CheckpointError as exc:
        raise EvaluationError(str(exc)) from None
    if not is_stepper(stepper):
        raise EvaluationError(f"{name}: not a stepper (it needs init(seed) and step(state, frame, controllers))")
    if isinstance(stepper, torch.nn.Module):
        stepper.eval()
    return stepper


def _rollout_draws(res: dict[str, RolloutResult], model: str, count: int, seed: int) -> list[dict]:
    """A few rollouts to draw over the stage: those where the real game loses a stock first."""
    real = res[model].real
    if count <= 0 or real.shape[0] == 0:
        return []
    lost = M.extract_events(real)["stock_lost"]
    with_loss = np.unique(lost[:, 0]) if len(lost) else np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(real.shape[0]), with_loss)
    picks = list(rng.permutation(with_loss)[: (count + 1) // 2]) + list(rng.permutation(others))
    picks = sorted(int(i) for i in picks[:count])
    out = []

    def track(traj, i):
        ev = M.extract_events(traj.take(slice(i, i + 1)))["stock_lost"]
        return {
            "x": np.round(traj.real[i, :, :, M.X].T.astype(np.float64), 2).tolist(),
            "y": np.round(traj.real[i, :, :, M.Y].T.astype(np.float64), 2).tolist(),
            "stock_lost": [[int(p), int(t)] for _, p, t in ev],
        }

    first = res[model]
    for i in picks:
        entry = {
            "start": i,
            "game": int(first.game[i]),
            "frame": int(first.offset[i]),
            "stage": int(first.stage[i]),
            "characters": [int(c) for c in first.characters[i]],
            "real": track(first.real, i),
        }
        for name, r in res.items():
            t = track(r.pred, i)
            t["x"] = [[None if not np.isfinite(v) else v for v in row] for row in t["x"]]
            t["y"] = [[None if not np.isfinite(v) else v for v in row] for row in t["y"]]
            entry[name] = t
        out.append(entry)
    return out


def evaluate(
    model: Stepper | Callable[[], Stepper] | str | Path | None,
    store: Store,
    games: np.ndarray,
    *,
    context: int = DEFAULT_CONTEXT,
    starts: int = 300,
    horizons: tuple[int, ...] = HORIZONS,
    seed: int = 0,
    out_dir: str | Path | None = None,
    tolerance: int = 5,
    batch_size: int = 256,
    teacher_forced: int = 4096,
    probe: int = 128,
    trajectories: int = 4,
    device: str = "cpu",
    model_name: str = "model",
    meta: dict | None = None,
    log: Log = _silent,
) -> dict:
    """Evaluate `model` (a stepper, a factory of one, a checkpoint folder or a baseline's name, or
    None for the baselines alone) and the
    baselines (`steppers.baselines`) on the same seeded starts of `games`: rollouts to max(horizons), teacher-forced
    one-step predictions at `teacher_forced` positions, plausibility, the controllability probe at
    `probe` positions (0 skips either). Writes REPORT_DIR/metrics.json
    and REPORT_DIR/report.html when `out_dir` is given; returns the metrics."""
    t0 = time.perf_counter()
    horizons = tuple(sorted({int(h) for h in horizons}))
    if not horizons or horizons[0] < 1:
        raise EvaluationError(f"horizons must be whole numbers >= 1, got {horizons}")
    out_path = prepare_out_dir(out_dir) if out_dir is not None else None
    games = np.asarray(games, np.int64)
    steppers = _build_steppers(model, model_name, store, games, device, log)
    main = model_name if model is not None else "hold"

    roll_starts, tf_pos, probe_pos = _choose_positions(store, games, context, max(horizons), starts,
                                                       teacher_forced, probe, seed, log)
    rollouts: dict[str, RolloutResult] = {}
    result: dict = {"rollout": {}, "teacher_forced": {}, "probe": {}}
    for name, stepper in steppers.items():
        rollouts[name] = _measure(name, stepper, store, roll_starts, tf_pos, probe_pos, result, horizons=horizons,
                                  tolerance=tolerance, batch_size=batch_size, device=device, seed=seed, log=log)
    first = rollouts[main]
    real = M.plausibility(first.real, first.stage, airborne_recorded=first.airborne_recorded)
    result["real"] = {"plausibility": real}

    metrics = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "meta": {
            "dreamland": __version__,
            "model": main,
            "steppers": list(steppers),
            "context": context,
            "horizons": list(horizons),
            "seed": seed,
            "tolerance": tolerance,
            "store": str(store.path),
            "games": int(len(games)),
            **roll_starts.describe(),
            "teacher_forced_positions": int(len(tf_pos)) if tf_pos is not None else 0,
            "probe_positions": int(len(probe_pos[0])) if probe_pos is not None else 0,
            "device": device,
            "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(meta or {}),
        },
        "headline": M.headline(result["rollout"], main),
        **result,
        "trajectories": _rollout_draws(rollouts, main, trajectories, seed),
    }
    _name_sources(metrics["trajectories"], store)
    metrics["meta"]["seconds"] = round(time.perf_counter() - t0, 2)
    if out_path is not None:
        write_report(metrics, out_path)
    return metrics


def _build_steppers(model: Stepper | Callable[[], Stepper] | str | Path | None, model_name: str, store: Store,
                    games: np.ndarray, device: str, log: Log) -> dict[str, Stepper]:
    """The model (when given) first, then every baseline that can be built for `games`."""
    steppers: dict[str, Stepper] = {}
    if model is not None:
        steppers[model_name] = _stepper(model, model_name, store, games, device)
    for name, baseline in BASELINES.items():
        if name not in steppers:
            tb = time.perf_counter()
            built = baseline.for_evaluation(store, games)
            if built is None:
                log(f"{name} baseline skipped: no training games besides the evaluated ones to count from")
            else:
                steppers[name] = built
                log(f"{name} baseline ready in {time.perf_counter() - tb:.1f} s")
    return steppers


def _choose_positions(store: Store, games: np.ndarray, context: int, h_max: int, starts: int,
                      teacher_forced: int, probe: int, seed: int,
                      log: Log) -> tuple[Starts, Starts | None, tuple[Starts, np.ndarray] | None]:
    """The seeded rollout starts, teacher-forced positions and probe positions (None: skipped)
    that every stepper is measured on."""
    roll_starts = choose_starts(store, games, context, h_max, starts, seed)
    log(f"{len(roll_starts)} starts in {roll_starts.games_used} games ({roll_starts.games_skipped} games shorter "
        f"than K + {h_max} = {context + h_max} frames skipped)")
    tf_pos = TF.teacher_forced_positions(store, games, context, teacher_forced, seed + 1) if teacher_forced > 0 else None
    probe_pos = None
    if probe > 0:
        try:
            probe_pos = P.probe_positions(store, games, context, probe, seed + 2)
        except EvaluationError as exc:
            log(f"controllability probe skipped: {exc}")
    return roll_starts, tf_pos, probe_pos


def _measure(name: str, stepper: Stepper, store: Store, roll_starts: Starts, tf_pos: Starts | None,
             probe_pos: tuple[Starts, np.ndarray] | None,
             result: dict, *, horizons: tuple[int, ...], tolerance: int, batch_size: int, device: str,
             seed: int, log: Log) -> RolloutResult:
    """One stepper's rollouts, teacher-forced predictions and probe, into result[...][name];
    returns its rollouts."""
    h_max = max(horizons)
    # Each measurement starts from the same seed, so a stepper that samples draws the same
    # numbers whichever steppers ran before it.
    torch.manual_seed(seed)
    ts = time.perf_counter()
    res = rollout(stepper, store, roll_starts, batch_size=batch_size, device=device)
    result["rollout"][name] = M.rollout_metrics(res, horizons, tolerance)
    log(f"{name}: {len(roll_starts)} rollouts x {h_max} frames in {res.seconds:.1f} s")
    if tf_pos is not None:
        torch.manual_seed(seed)
        result["teacher_forced"][name], _ = TF.teacher_forced(stepper, store, tf_pos,
                                                              batch_size=batch_size, device=device)
    if probe_pos is not None:
        torch.manual_seed(seed)
        result["probe"][name] = P.probe(stepper, store, probe_pos[0], probe_pos[1],
                                        batch_size=batch_size, device=device)
    log(f"{name}: done in {time.perf_counter() - ts:.1f} s")
    return res


def _name_sources(trajectories: list[dict], store: Store) -> None:
    """Each drawn trajectory's "source": the file name of the replay its game came from."""
    sources = store.index["source"].to_pylist()
    for d in trajectories:
        d["source"] = os.path.basename(str(sources[d["game"]]).split("::")[-1]) if 0 <= d["game"] < len(sources) else None


def headline(metrics: dict) -> dict:
    """The `--json` object: {"pos_mae": {"1": ...}, "action_acc": {...}, "action_change_acc": {...},
    "baselines": {"hold": {...}, "constant_velocity": {...}, "lookup": {...}}} (lookup where it
    could be built)."""
    return metrics["headline"]


# ------------------------------------------------------------------------------------------------
# report folder


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create REPORT_DIR, or reuse one that holds an earlier report; refuse any other non-empty
    folder, so that nothing there is overwritten."""
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise EvaluationError(f"{path}: exists and is not a folder; choose a report folder")
    if path.is_dir() and any(path.iterdir()):
        previous = path / "metrics.json"
        try:
            ok = json.loads(previous.read_text()).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise EvaluationError(f"{path}: not empty and not an earlier evaluation report; choose a new folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot create the report folder ({exc.strerror})") from None
    return path


def write_report(metrics: dict, out_dir: str | Path) -> None:
    from dreamland.evaluate.report import render_html

    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path / "metrics.json", json.dumps(metrics, indent=1, allow_nan=False))
    write_text_atomic(path / "report.html", render_html(metrics))


def load_metrics(report_dir: str | Path) -> dict:
    """REPORT_DIR/metrics.json (or the file itself), checked to be an evaluation report."""
    path = Path(report_dir)
    file = path / "metrics.json" if path.is_dir() else path
    if not file.exists():
        raise EvaluationError(f"{report_dir}: no metrics.json (not an evaluation report folder)")
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"{file}: unreadable metrics ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EvaluationError(f"{file}: not a dreamland evaluation report")
    if data.get("format_version") != FORMAT_VERSION:
        raise EvaluationError(f"{file}: report format {data.get('format_version')}, this dreamland reads {FORMAT_VERSION}")
    return data


# ------------------------------------------------------------------------------------------------
# raw replays


@contextmanager
def store_from_replays(sources: list[str], *, workers: int | None = None, log: Log = _silent,
                       workdir: str | Path | None = None) -> Iterator[tuple[Store, dict]]:
    """Ingest replay files/folders/archives into a temporary dataset, pack its two-player games
    into a temporary store, and yield (store, info). Replays that fail to parse are skipped and
    counted in `info`; only "nothing usable at all" is an error. The temporary files are removed
    on exit."""
    from dreamland.data.store import pack
    from dreamland.replay.dataset import DatasetError
    from dreamland.replay.ingest import ingest
    from dreamland.replay.sources import SourceError

    tmp = Path(tempfile.mkdtemp(prefix="dreamland-eval-", dir=workdir))
    try:
        try:
            summary = ingest(list(sources), tmp / "dataset", workers=workers or min(4, os.cpu_count() or 1))
        except (SourceError, DatasetError) as exc:
            raise EvaluationError(str(exc)) from None
        s = summary.as_dict()
        info = {
            "replays_seen": s["replays_seen"],
            "replays_ok": s["games_ok"],
            "replays_failed": s["games_failed"],
            "failures_by_reason": s["failures_by_reason"],
            "duplicates": s["duplicates"],
        }
        log(f"{s['replays_seen']} replays: {s['games_ok']} read, {s['games_failed']} failed to parse (skipped), "
            f"{s['duplicates']} duplicates")
        if s["games_ok"] == 0:
            reasons = "; ".join(f"{n} {why}" for why, n in s["failures_by_reason"].items()) or "none found"
            raise EvaluationError(f"none of the {s['replays_seen']} replays could be read ({reasons})")
        try:
            packed = pack(tmp / "dataset", tmp / "store").as_dict()
        except StoreError as exc:
            raise EvaluationError(f"no two-player game among the replays that were read ({exc})") from None
        info["games"] = packed["games"]
        info["games_skipped"] = packed["skipped"] or {}
        if info["games_skipped"]:
            log("skipped: " + ", ".join(f"{n} {why}" for why, n in info["games_skipped"].items()))
        yield Store(tmp / "store"), info
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
