"""The training config tree. One typed dataclass tree, YAML presets in train/presets/, dotted
overrides on the command line (`optim.lr=3e-4`); an unknown key or a wrong type stops the run
before anything starts (dreamland.config)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dreamland.config import ConfigError, load_preset, merge, parse_override
from dreamland.model.config import PRESETS as MODEL_PRESETS
from dreamland.model.config import FLAT_MAMBA_KEYS, ModelConfig, migrate

PRESET_DIR = Path(__file__).parent / "presets"


@dataclass(frozen=True)
class DataConfig:
    store: str = ""
    context: int = 30  # K: frames of context; windows are K + 1 frames
    batch_size: int = 64
    split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
    heldout_characters: tuple[str, ...] = ()
    heldout_stages: tuple[str, ...] = ()
    swap_players: bool = True
    mirror: bool = False  # off by default: not every legal stage is symmetric (docs/store.md)
    include_pregame: bool = False
    # train only on games recorded by Slippi at least this version ("3.0.0"); validation and
    # test keep every game, so runs with and without the old games are scored alike
    min_slippi_version: str = ""


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio at max_steps
    warmup_steps: int = 200
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float = 1.0


@dataclass(frozen=True)
class SelfForcingConfig:
    """Train on the model's own predictions: the last N frames of a window are produced by
    `model.step` from its own decoded output, driven by the real controllers."""

    enabled: bool = False
    start_step: int = 0  # teacher forcing only before this step
    unroll_start: int = 2  # N at start_step ...
    unroll_end: int = 10  # ... growing linearly to this over ramp_steps
    ramp_steps: int = 2000
    share_start: float = 0.25  # share of batches that unroll, growing the same way
    share_end: float = 0.5
    detach: bool = False  # stop gradients between unrolled steps (cheaper, less faithful)


@dataclass(frozen=True)
class ValidationConfig:
    every: int = 500  # steps; 0 = only at the end
    batches: int = 16  # teacher-forced batches
    rollout_starts: int = 256  # rollout error at `rollout_horizon` frames from this many starts
    rollout_horizon: int = 20


@dataclass(frozen=True)
class CheckpointConfig:
    every: int = 500
    keep_last: int = 3
    best_metric: str = "val/rollout_pos_mae_20"  # lower is better


@dataclass(frozen=True)
class LogConfig:
    every: int = 10
    tensorboard: bool = True
    wandb: bool = False
    wandb_project: str = "dreamland"


@dataclass(frozen=True)
class RunConfig:
    seed: int = 0
    device: str = "auto"  # auto = cuda when available, else cpu
    threads: int = 0  # CPU threads for torch; 0 = torch's default
    compile: bool = False
    # auto = tcmalloc (preloaded by re-executing the command) when training on a CPU and it is
    # installed; tcmalloc = insist on it; system = glibc malloc
    allocator: Literal["auto", "tcmalloc", "system"] = "auto"
    amp: Literal["auto", "bf16", "off"] = "auto"  # auto = bf16 autocast on CUDA, float32 on CPU
    max_steps: int = 10_000
    max_minutes: float = 0.0  # stop (with a checkpoint) after this long; 0 = no limit
    init_from: str = ""  # a checkpoint whose weights the run starts from (optimizer starts fresh)


@dataclass(frozen=True)
class TrainConfig:
    model_preset: str = "small"
    model: ModelConfig = field(default_factory=lambda: MODEL_PRESETS["small"])
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    self_forcing: SelfForcingConfig = field(default_factory=SelfForcingConfig)
    # per head (loss keys: model.heads.loss_keys()); unnamed heads weigh 1. The action is one head
    # among ~40 but the one that carries the controls: at weight 1 a small model learns to keep it
    # and ignores the buttons for thousands of steps (docs/experiments.md).
    loss_weights: dict[str, float] = field(default_factory=lambda: {"char.action": 5.0})
    # weight of the frames where a field changes (an action starts, x starts moving, an item
    # appears) against the frames where it keeps its value; 1 = no emphasis (model.heads.LossConfig)
    loss_event_weight: float = 1.0
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        # the model decodes with the event weight it was trained with (ModelConfig.event_weight):
        # one knob, so that the two cannot disagree
        if self.model.event_weight != self.loss_event_weight:
            object.__setattr__(self, "model", self.model.replace(event_weight=self.loss_event_weight))


def _apply(config: TrainConfig, updates: dict) -> TrainConfig:
    """`model_preset` first (it replaces the whole model section), then everything else."""
    updates = dict(updates)
    model = updates.get("model")
    moved = [k for k in model if k in FLAT_MAMBA_KEYS] if isinstance(model, dict) else []
    if moved:  # the form before ModelConfig.mamba: no silent alias, one line naming the new key
        raise ConfigError(f"unknown config key model.{moved[0]}: the mixer's keys are under model.mamba "
                          f"(model.{FLAT_MAMBA_KEYS[moved[0]]})")
    name = updates.pop("model_preset", None)
    if name is not None:
        if name not in MODEL_PRESETS:
            raise ConfigError(f"unknown model preset {name!r}; known: {', '.join(MODEL_PRESETS)}")
        config = dataclasses.replace(config, model_preset=name, model=MODEL_PRESETS[name])
    return merge(config, updates)


def load_config(presets: list[str], overrides: list[str]) -> TrainConfig:
    """Defaults, then presets in order (names in train/presets or .yaml paths), then overrides."""
    config = TrainConfig()
    for preset in presets:
        config = _apply(config, load_preset(preset, PRESET_DIR))
    for override in overrides:
        config = _apply(config, parse_override(override))
    return config


def load_run_config(run_dir: str | Path, overrides: list[str]) -> TrainConfig:
    """The config a run was started with (its config.yaml), plus explicit overrides: what
    `--resume` continues with."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: nothing to resume (no config.yaml)")
    try:
        saved = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: unreadable ({str(exc).splitlines()[0]})") from None
    if not isinstance(saved, dict):
        raise ConfigError(f"{path}: not a config")
    if isinstance(saved.get("model"), dict):  # a run started before ModelConfig.mamba: flat mixer keys
        saved["model"] = migrate(saved["model"])
    config = _apply(TrainConfig(), {"model_preset": saved.pop("model_preset", "small")})
    config = _apply(config, saved)
    for override in overrides:
        config = _apply(config, parse_override(override))
    return config


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


__all__ = ["TrainConfig", "load_config", "load_run_config", "preset_names", "ConfigError"]
