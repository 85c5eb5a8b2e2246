"""`dreamland train`: one loop for one CPU core up to many GPUs (torchrun + DDP).

The run directory holds everything: `config.yaml` (the resolved config), `run.json` (schema
fingerprint, dreamland version, world size), `metrics.jsonl` and `tensorboard/`, and
`checkpoints/` (see train/checkpoints.py). `--resume` continues from `checkpoints/latest` exactly:
same step, optimizer, scheduler, random streams and position in the data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from dreamland import __version__
from dreamland.config import ConfigError, to_dict
from dreamland.data.action_table import ActionTable
from dreamland.data.encoding import encode, to_torch
from dreamland.data.store import SplitSpec, Store, StoreError
from dreamland.data.windows import Augment, WindowSampler
from dreamland.model.checkpoint import CheckpointError, load, read_config, save
from dreamland.model.heads import LossConfig
from dreamland.model.world import WorldModel, count_parameters
from dreamland.schema import fingerprint
from dreamland.schema.actions import UNKNOWN_ACTION
from dreamland.train.checkpoints import CheckpointManager, read_trainer
from dreamland.train.config import TrainConfig
from dreamland.train.logger import Logger
from dreamland.train.objective import Objective, batch_unrolls
from dreamland.train.runtime import Runtime, allocator, setup
from dreamland.train.state import rng_state, set_rng_state


class TrainError(Exception):
    """A run that cannot start or continue: one line for the user."""


def lr_factor(step: int, cfg) -> float:
    """Linear warmup, then cosine decay to `min_lr_ratio` at `max_steps`."""
    warm = cfg.optim.warmup_steps
    if step < warm:
        return (step + 1) / warm
    total = max(1, cfg.run.max_steps - warm)
    progress = min(1.0, (step - warm) / total)
    floor = cfg.optim.min_lr_ratio
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "emb" not in name and not name.startswith("lookup.") else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.optim.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    return torch.optim.AdamW(groups, lr=cfg.optim.lr, betas=cfg.optim.betas, eps=cfg.optim.eps, **fused)


def _digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _earlier_checkpoint_hint(root: Path) -> str:
    return (f"to resume from an earlier checkpoint, write its folder name into {root}/latest; "
            "or start again in a new --run-dir")


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: bool = False):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.rt: Runtime = setup(cfg.run.device, cfg.run.threads, cfg.run.amp)
        if not cfg.data.store:
            raise TrainError("no store given: --store STORE (made by `dreamland pack`)")
        self.store = Store(cfg.data.store)
        try:
            spec = SplitSpec.from_names(cfg.data.split_fractions, cfg.data.heldout_characters,
                                        cfg.data.heldout_stages)
        except StoreError as exc:
            raise TrainError(str(exc)) from None
        self.train_games = self.store.games_in("train", spec)
        if cfg.data.min_slippi_version:
            try:
                self.train_games = self.store.recorded_since(self.train_games, cfg.data.min_slippi_version)
            except StoreError as exc:
                raise TrainError(f"data.min_slippi_version: {exc}") from None
            if not len(self.train_games):
                raise TrainError(f"data.min_slippi_version: no training game was recorded by Slippi "
                                 f"{cfg.data.min_slippi_version} or later")
        self.val_games = self.store.games_in("val", spec)
        aug = Augment(swap_players=cfg.data.swap_players, mirror=cfg.data.mirror)
        self.sampler = WindowSampler(
            self.store, self.train_games, cfg.data.context, cfg.data.batch_size, seed=cfg.run.seed,
            rank=self.rt.rank, world_size=self.rt.world_size,
            include_pregame=cfg.data.include_pregame, augment=aug,
        )
        if len(self.sampler) == 0:
            raise TrainError(
                f"the train split has {self.sampler.per_rank} windows per rank, fewer than one batch "
                f"of {cfg.data.batch_size}: lower data.batch_size or add games"
            )
        self.val_sampler = None
        if len(self.val_games):
            try:
                self.val_sampler = WindowSampler(self.store, self.val_games, cfg.data.context,
                                                 cfg.data.batch_size, seed=cfg.run.seed + 1)
            except StoreError:
                self.val_sampler = None
        torch.manual_seed(cfg.run.seed)
        table = self._action_table() if not resume else None
        cfg = self.cfg
        self.model = WorldModel(cfg.model).to(self.rt.device)
        if table is not None:
            self.model.lookup.fill(table)
        if cfg.run.init_from and not resume:
            self._init_weights(cfg.run.init_from)
        self.loss_config = LossConfig(weights=cfg.loss_weights, event_weight=cfg.loss_event_weight)
        self.objective = Objective(self.model, self.loss_config)
        self.train_objective: torch.nn.Module = self.objective
        if self.rt.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.rt.device.index] if self.rt.device.type == "cuda" else None
            self.train_objective = DDP(self.objective, device_ids=ids)
        self.eager_objective = self.train_objective
        self.compile_error: str | None = None
        if cfg.run.compile:
            self.train_objective = torch.compile(self.train_objective)
        self.optimizer = _optimizer(self.model, cfg)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, cfg))
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.checkpoints = CheckpointManager(self.run_dir, cfg.checkpoint.keep_last)
        self._prepare_run_dir(resume)
        if resume:
            self._resume()
        self.logger = Logger(self.run_dir, tensorboard=cfg.log.tensorboard, wandb=cfg.log.wandb,
                             project=cfg.log.wandb_project, config=to_dict(cfg),
                             enabled=self.rt.is_main, resume_step=self.step if resume else None)

    def _action_table(self) -> ActionTable | None:
        """With `model.action_lookup` and no table yet, the sizes of the table go into the run's
        model config: those of `run.init_from`'s table (its weights hold the table), else of the
        table counted here over the training games, which is returned to be copied in."""
        m = self.cfg.model
        if not m.action_lookup or m.lookup_keys or m.lookup_back_keys:
            return None
        table = None
        if self.cfg.run.init_from:
            try:
                theirs = read_config(self.cfg.run.init_from)["model"]
            except CheckpointError as exc:
                raise TrainError(f"run.init_from: {exc}") from None
            sizes = {k: theirs.get(k, 0) for k in ("lookup_keys", "lookup_back_keys")}
        else:
            if self.rt.is_main:
                print(f"counting the action table over {len(self.train_games)} training games", file=sys.stderr)
            table = ActionTable.count(self.store, self.train_games, top=UNKNOWN_ACTION)
            sizes = {"lookup_keys": len(table.keys), "lookup_back_keys": len(table.back_keys)}
        self.cfg = dataclasses.replace(self.cfg, model=m.replace(**sizes))
        return table

    # ------------------------------------------------------------------ run directory

    def _prepare_run_dir(self, resume: bool) -> None:
        config_path = self.run_dir / "config.yaml"
        resolved = yaml.safe_dump(to_dict(self.cfg), sort_keys=False)
        if resume:
            if not config_path.is_file():
                raise TrainError(f"{self.run_dir}: nothing to resume (no config.yaml)")
            return
        if self.checkpoints.latest() is not None:
            raise TrainError(f"{self.run_dir}: already holds a run; use --resume or a new --run-dir")
        if self.rt.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            config_path.write_text(resolved)
            (self.run_dir / "run.json").write_text(json.dumps({
                "dreamland_version": __version__,
                "schema_fingerprint": fingerprint(),
                "world_size": self.rt.world_size,
                "device": str(self.rt.device),
                "allocator": allocator(),
                "parameters": count_parameters(self.model),
                "store": str(Path(self.cfg.data.store).resolve()),
                "train_games": int(len(self.train_games)),
                "val_games": int(len(self.val_games)),
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }, indent=2))
        self.rt.barrier()

    def _resume(self) -> None:
        latest = self.checkpoints.latest()
        if latest is None:
            raise TrainError(f"{self.run_dir}: no checkpoint to resume from")
        try:
            checkpoint = load(latest, self.rt.device)
            if checkpoint.config != self.cfg.model:
                raise TrainError(f"{latest}: the model config differs from {self.run_dir}/config.yaml")
            self.model.load_state_dict(checkpoint.model.state_dict())
            trainer, states = read_trainer(latest)
            self.optimizer.load_state_dict(states["optimizer"])
            self.scheduler.load_state_dict(states["scheduler"])
            set_rng_state(states["rng"])
            self.step = int(trainer["step"])
            self.epoch = int(trainer["epoch"])
            self.batch_in_epoch = int(trainer["batch_in_epoch"])
        except CheckpointError as exc:
            raise TrainError(f"{exc}; {_earlier_checkpoint_hint(self.checkpoints.root)}") from None
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:300]
            raise TrainError(f"{latest}: damaged checkpoint ({type(exc).__name__}: {detail}); "
                             f"{_earlier_checkpoint_hint(self.checkpoints.root)}") from None

    def _init_weights(self, path: str) -> None:
        """Start from a checkpoint's weights (fine-tuning, or a longer run from a short one); the
        optimizer, schedule and data position start fresh."""
        try:
            checkpoint = load(path, self.rt.device)
        except CheckpointError as exc:
            raise TrainError(f"run.init_from: {exc}") from None
        theirs, ours = checkpoint.model.state_dict(), self.model.state_dict()
        if {k: v.shape for k, v in theirs.items()} != {k: v.shape for k, v in ours.items()}:
            raise TrainError(f"run.init_from: {path} holds a {checkpoint.config.n_layers}-layer d_model "
                             f"{checkpoint.config.d_model} model whose weights do not fit this run's model "
                             "(use the same preset and model overrides)")
        changed = [k for k, v in to_dict(self.cfg.model).items() if to_dict(checkpoint.config).get(k) != v]
        if changed and self.rt.is_main:  # options that add no weights (decoding rules): a fine-tune may change them
            print(f"run.init_from: the weights fit; the model config differs in {', '.join(changed)}", flush=True)
        self.model.load_state_dict(theirs)

    def _save(self, metric: float | None) -> None:
        if not self.rt.is_main:
            return
        trainer = {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                   "states": ["optimizer", "scheduler", "rng"], "dreamland_version": __version__}
        states = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                  "rng": rng_state()}
        self.checkpoints.save(
            self.step,
            lambda folder: save(folder, self.model, extra={"step": self.step, "train_config": to_dict(self.cfg)}),
            trainer, states, metric,
        )

    # ------------------------------------------------------------------ the loop

    def _batches(self):
        """Endless (epoch, batch index, batch), starting where the run stands."""
        while True:
            for i, batch in enumerate(self.sampler.batches(self.epoch, self.batch_in_epoch),
                                      start=self.batch_in_epoch):
                yield i, batch
            self.epoch += 1
            self.batch_in_epoch = 0

    def validate(self) -> dict[str, float]:
        """Teacher-forced losses and accuracies on the validation split, and the rollout error."""
        from dreamland.train.validation import validate

        return validate(self, self.cfg.validation)

    def fit(self, progress: bool = True) -> dict:
        cfg = self.cfg
        t_start = time.perf_counter()
        deadline = t_start + cfg.run.max_minutes * 60 if cfg.run.max_minutes > 0 else None
        frames_per_batch = cfg.data.batch_size * (cfg.data.context + 1) * self.rt.world_size
        bar = None
        if progress and self.rt.is_main:
            from tqdm import tqdm

            bar = tqdm(total=cfg.run.max_steps, initial=self.step, unit="step", desc="train",
                       dynamic_ncols=True)
        window: dict[str, float] = {}
        n_window, t_window = 0, time.perf_counter()
        last_metric, validated_at = None, None
        stop_reason = "max_steps"
        batches = self._batches()
        self.model.train()
        while self.step < cfg.run.max_steps:
            i, batch = next(batches)
            enc = encode(to_torch(batch, self.rt.device))
            unroll = batch_unrolls(self.step, cfg.run.seed, cfg.self_forcing)
            try:
                total, losses = self._forward_backward(enc, unroll)
            except Exception as exc:
                compiling = self.train_objective is not self.eager_objective
                if not (compiling and type(exc).__module__.startswith(("torch._dynamo", "torch._inductor"))):
                    raise
                self._compile_failed(exc)
                total, losses = self._forward_backward(enc, unroll)
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            self.batch_in_epoch = i + 1
            if not torch.isfinite(total):
                raise TrainError(f"step {self.step}: the loss is {total.item()}; lower optim.lr")
            window["loss"] = window.get("loss", 0.0) + total.item()
            window["grad_norm"] = window.get("grad_norm", 0.0) + float(grad_norm)
            for k, v in losses.items():
                window[f"loss/{k}"] = window.get(f"loss/{k}", 0.0) + float(v.detach())
            window["unroll"] = window.get("unroll", 0.0) + unroll
            n_window += 1
            if bar is not None:
                bar.update(1)
            if self.step % cfg.log.every == 0 or self.step == cfg.run.max_steps:
                elapsed = time.perf_counter() - t_window
                metrics = {f"train/{k}": v / n_window for k, v in window.items()}
                metrics["train/lr"] = self.scheduler.get_last_lr()[0]
                metrics["train/frames_per_s"] = n_window * frames_per_batch / max(elapsed, 1e-9)
                metrics["train/epoch"] = self.epoch + self.batch_in_epoch / max(1, len(self.sampler))
                self.logger.log(self.step, metrics)
                if bar is not None:
                    bar.set_postfix(loss=f"{metrics['train/loss']:.4f}",
                                    fps=f"{metrics['train/frames_per_s']:.0f}")
                window, n_window, t_window = {}, 0, time.perf_counter()
            out_of_time = deadline is not None and time.perf_counter() > deadline
            if out_of_time:
                # every rank must stop at the same step: rank 0's clock decides
                out_of_time = self.rt.all_mean(1.0 if out_of_time else 0.0) > 0.0
            validate_now = cfg.validation.every and self.step % cfg.validation.every == 0
            checkpoint_now = self.step % cfg.checkpoint.every == 0
            if validate_now:
                last_metric, validated_at = self._validate_and_log(), self.step
            if checkpoint_now and self.step < cfg.run.max_steps:
                self._save(last_metric if validate_now else None)
            if out_of_time:
                stop_reason = "max_minutes"
                break
        # the last step may have been validated in the loop: once is enough (and one row a step)
        final = last_metric if validated_at == self.step else self._validate_and_log()
        self._save(final)
        if bar is not None:
            bar.close()
        self._write_rank_summary()
        self.logger.close()
        self.rt.barrier()
        return {"step": self.step, "stop": stop_reason, "seconds": time.perf_counter() - t_start,
                "val_metric": final, "run_dir": str(self.run_dir), "compile_error": self.compile_error}

    def _forward_backward(self, enc: dict, unroll: int):
        with self.rt.autocast():
            total, losses = self.train_objective(enc, unroll, self.cfg.self_forcing.detach)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        return total, losses

    def _compile_failed(self, exc: Exception) -> None:
        """torch.compile is an optimisation: when its compiler fails (torch 2.13's CPU inductor
        emits C++ that does not build for this model), train on without it and say so once."""
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        self.compile_error = f"{type(exc).__name__}: {first}"
        self.train_objective = self.eager_objective
        if self.rt.is_main:
            print(f"run.compile: torch.compile failed ({self.compile_error}); training goes on without it",
                  file=sys.stderr, flush=True)

    def _validate_and_log(self) -> float | None:
        metrics = self.validate()
        self.logger.log(self.step, metrics)
        self.model.train()
        return metrics.get(self.cfg.checkpoint.best_metric)

    def _write_rank_summary(self) -> None:
        """Each rank's final weights digest and what data it saw, for checks across ranks."""
        ranks = self.run_dir / "ranks"
        ranks.mkdir(exist_ok=True)
        starts, _ = self.sampler.epoch_windows(0)
        (ranks / f"rank-{self.rt.rank}.json").write_text(json.dumps({
            "rank": self.rt.rank,
            "world_size": self.rt.world_size,
            "weights": _digest(self.model),
            "epoch0_windows": hashlib.sha256(np.asarray(starts).tobytes()).hexdigest()[:16],
            "epoch0_first_windows": [int(x) for x in starts[:8]],
        }))

    def close(self) -> None:
        self.rt.close()


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    trainer = Trainer(cfg, Path(run_dir), resume=resume)
    try:
        return trainer.fit(progress=progress)
    finally:
        trainer.close()


__all__ = ["TrainError", "Trainer", "train", "lr_factor", "ConfigError"]

