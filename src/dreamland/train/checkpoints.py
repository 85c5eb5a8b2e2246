"""Training checkpoints: written atomically, the last few kept, the best one protected.

A checkpoint is a folder `RUN_DIR/checkpoints/step-XXXXXXXX/` holding the model checkpoint
(`model.safetensors` + `config.json`, readable by `dreamland eval` and `dreamland play` as is) plus
the trainer's state: optimizer and scheduler (safetensors + JSON), random streams, and the data
position. It is written under a temporary name and renamed when complete, so a reader, or a run
killed at any moment, never sees half of one. `latest` and `best` are small text files naming a
checkpoint folder, replaced atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from dreamland.fsutil import fsync, write_text_atomic
from dreamland.train.state import load_state, save_state

LATEST, BEST = "latest", "best"


class CheckpointManager:
    def __init__(self, run_dir: Path, keep_last: int):
        self.root = run_dir / "checkpoints"
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep_last = max(1, keep_last)
        for stale in self.root.glob("*.tmp"):  # a run killed while writing one
            shutil.rmtree(stale, ignore_errors=True)

    def save(self, step: int, write_model: Callable[[Path], None], trainer: dict, states: dict[str, dict],
             metric: float | None) -> Path:
        """`write_model(folder)` writes the model checkpoint; `states` are saved as safetensors+JSON."""
        name = f"step-{step:08d}"
        tmp = self.root / (name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        write_model(tmp)
        for key, state in states.items():
            save_state(tmp, key, state)
        best = self.best()
        is_best = metric is not None and (best is None or metric < best[1])
        trainer = {**trainer, "step": step, "metric": metric}
        (tmp / "trainer.json").write_text(json.dumps(trainer, indent=2))
        for f in tmp.iterdir():
            fsync(f)
        final = self.root / name
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync(self.root)
        write_text_atomic(self.root / LATEST, name)
        if is_best:
            write_text_atomic(self.root / BEST, json.dumps({"name": name, "metric": metric}))
        self._prune()
        return final

    def latest(self) -> Path | None:
        """The checkpoint `latest` names; without a usable marker (a run killed between renaming
        its newest checkpoint into place and writing the marker), the newest complete one."""
        marker = self.root / LATEST
        if marker.is_file():
            path = self.root / marker.read_text().strip()
            if path.name and path.is_dir():
                return path
        complete = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("step-")
                          and not p.name.endswith(".tmp"))
        return complete[-1] if complete else None

    def best(self) -> tuple[str, float] | None:
        marker = self.root / BEST
        if not marker.is_file():
            return None
        data = json.loads(marker.read_text())
        return data["name"], float(data["metric"])

    def _prune(self) -> None:
        steps = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("step-")
                       and not p.name.endswith(".tmp"))
        keep = set(p.name for p in steps[-self.keep_last:])
        best = self.best()
        if best:
            keep.add(best[0])
        for p in steps:
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)


def read_trainer(path: Path) -> tuple[dict, dict[str, dict]]:
    """The trainer state of a checkpoint folder: (trainer.json, {name: state})."""
    trainer = json.loads((path / "trainer.json").read_text())
    states = {name: load_state(path, name) for name in trainer.get("states", [])}
    return trainer, states
