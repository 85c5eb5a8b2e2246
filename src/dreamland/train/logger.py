"""Metrics out: a JSONL file always, TensorBoard files by default, Weights & Biases when asked.

Everything works offline. W&B is optional: asked for but not installed is a warning, not a crash.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dreamland.fsutil import write_text_atomic


class Logger:
    def __init__(self, run_dir: Path, *, tensorboard: bool, wandb: bool, project: str, config: dict,
                 enabled: bool = True, resume_step: int | None = None):
        """`resume_step`: the step a resumed run continues from; what was logged after it (by the
        run that stopped past its last checkpoint) is dropped, since it is about to be logged again."""
        self.enabled = enabled
        self.tb = None
        self.wandb = None
        if not enabled:
            return
        path = run_dir / "metrics.jsonl"
        if resume_step is not None:
            _truncate_after(path, resume_step)
        self.jsonl = open(path, "a" if resume_step is not None else "w")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = resume_step + 1 if resume_step is not None else None
                self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
            except ImportError:
                print("dreamland train: tensorboard is not installed; logging to metrics.jsonl only",
                      file=sys.stderr)
        if wandb:
            try:
                import wandb as wb

                self.wandb = wb.init(project=project, config=config, dir=str(run_dir),
                                     resume="allow", id=run_dir.name)
            except ImportError:
                print("dreamland train: wandb is not installed; skipping it", file=sys.stderr)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled or not metrics:
            return
        self.jsonl.write(json.dumps({"step": step, "time": time.time(), **metrics}) + "\n")
        self.jsonl.flush()
        if self.tb is not None:
            for k, v in metrics.items():
                self.tb.add_scalar(k, v, step)
        if self.wandb is not None:
            self.wandb.log(metrics, step=step)

    def close(self) -> None:
        if not self.enabled:
            return
        self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def _truncate_after(path: Path, step: int) -> None:
    """Keep the rows of steps up to `step` (and drop a row cut off half-way), atomically."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line + "\n")
    write_text_atomic(path, "".join(kept))
