"""Model checkpoints: safetensors weights + a JSON config, never pickle.

    CHECKPOINT/
      config.json          {"format": "dreamland-model", "format_version": 1,
                            "model": ModelConfig fields, "schema": schema fingerprint,
                            "encoding_version": data.encoding.ENCODING_VERSION,
                            "dreamland_version": ..., "weights_sha256": ..., "extra": {...},
                            "tensors_sha256": ... (only with extra tensors)}
      model.safetensors    the weights (state_dict names; mamba_ssm names inside each block)
      extra.safetensors    optional tensors the caller adds (optimizer state, ...)

`save` writes each file to a temporary name, fsyncs it and renames it into place, config.json
last; config.json records the sha256 of the weights, so a reader never takes a half-written or
mismatched pair for a checkpoint. `load` refuses, with one line (`CheckpointError`), anything
that is not exactly such a checkpoint of this schema: a missing or damaged file, unknown keys in
the JSON, another schema fingerprint or encoding version, weights that do not fit the config.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from torch import Tensor

from dreamland import __version__
from dreamland.data.encoding import ENCODING_VERSION
from dreamland.fsutil import sort_safetensors_metadata, write_atomic
from dreamland.model.config import ConfigError, ModelConfig
from dreamland.model.world import WorldModel
from dreamland.schema import fingerprint

FORMAT = "dreamland-model"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TENSORS = "extra.safetensors"
_KEYS = {"format", "format_version", "model", "schema", "encoding_version", "dreamland_version",
         "weights_sha256", "tensors_sha256", "extra"}


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line naming the file and the reason."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


# The model shipped inside the package: what `play`, `eval` and the environments use when no
# checkpoint is given (docs/default-model.md says how it was trained and how it scores).
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "assets" / "default-model"


def default_checkpoint() -> Path:
    """The shipped model's folder; a one-line `CheckpointError` in a build that lacks it."""
    if not (DEFAULT_MODEL / CONFIG).is_file():
        raise CheckpointError(
            f"no default model in this installation ({DEFAULT_MODEL} is missing); give a checkpoint "
            "folder from dreamland train, or 'toy' for the physics toy (not a model)"
        )
    return DEFAULT_MODEL


class Checkpoint(NamedTuple):
    model: WorldModel
    config: ModelConfig
    extra: dict[str, Any]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _save_file(save_file, tensors: Mapping[str, Tensor], tmp: str, meta: dict[str, str]) -> None:
    save_file(tensors, tmp, metadata=meta)
    sort_safetensors_metadata(Path(tmp))  # the same checkpoint is the same bytes in every process


def save(
    path: str | os.PathLike,
    model: WorldModel,
    config: ModelConfig | None = None,
    extra: Mapping[str, Any] | None = None,
    tensors: Mapping[str, Tensor] | None = None,
) -> Path:
    """Write a checkpoint folder (created if needed). `extra` must be JSON-serialisable (training
    step, metrics, ...); `tensors` (optimizer state...) go to extra.safetensors."""
    from safetensors.torch import save_file

    config = config or model.config
    if config != model.config:
        raise CheckpointError("save: the config given differs from the model's own config")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    extra = dict(extra or {})
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"save: extra must be JSON-serialisable ({exc})") from None
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "schema": fingerprint()}
    write_atomic(out / WEIGHTS, lambda tmp: _save_file(save_file, state, tmp, meta))
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": config.to_dict(),
        "schema": fingerprint(),
        "encoding_version": ENCODING_VERSION,
        "dreamland_version": __version__,
        "weights_sha256": _sha256(out / WEIGHTS),
        "extra": extra,
    }
    if tensors:
        t = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        write_atomic(out / TENSORS, lambda tmp: _save_file(save_file, t, tmp, meta))
        doc["tensors_sha256"] = _sha256(out / TENSORS)
    else:
        (out / TENSORS).unlink(missing_ok=True)

    def write_json(tmp: str) -> None:
        with open(tmp, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.write("\n")

    write_atomic(out / CONFIG, write_json)
    return out


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The checked config.json of a checkpoint (format, keys, schema, encoding version)."""
    root = Path(path)
    cfg_path = root / CONFIG
    if not root.exists():
        raise CheckpointError(f"{root}: no such checkpoint")
    if not cfg_path.is_file():
        raise CheckpointError(f"{root}: no {CONFIG}, not a dreamland checkpoint")
    try:
        doc = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{cfg_path}: damaged, not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{cfg_path}: not a dreamland model checkpoint (format {doc.get('format') if isinstance(doc, dict) else None!r})")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise CheckpointError(f"{cfg_path}: unknown key(s) {', '.join(map(repr, unknown))}")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: checkpoint format version {doc.get('format_version')!r}, this dreamland reads {FORMAT_VERSION}")
    if doc.get("schema") != fingerprint():
        raise CheckpointError(
            f"{cfg_path}: made with schema {doc.get('schema')!r}, this dreamland has schema {fingerprint()!r}; "
            "use the dreamland version that trained it or retrain"
        )
    if doc.get("encoding_version") != ENCODING_VERSION:
        raise CheckpointError(f"{cfg_path}: encoding version {doc.get('encoding_version')!r}, this dreamland uses {ENCODING_VERSION}")
    for key in ("model", "weights_sha256"):
        if key not in doc:
            raise CheckpointError(f"{cfg_path}: missing key {key!r}")
    return doc


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """(model in eval mode, its config, the `extra` dict) from a checkpoint folder, or a
    `CheckpointError`."""
    root = Path(path)
    doc = read_config(root)
    try:
        config = ModelConfig.from_dict(doc["model"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{root / CONFIG}: {exc}") from None
    weights = root / WEIGHTS
    state = _read_checked(weights, doc["weights_sha256"], device)
    model = WorldModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise CheckpointError(
            f"{weights}: weights do not fit the config ({what}; {len(missing)} missing, {len(unexpected)} unexpected)"
        )
    for k, v in expected.items():
        if state[k].shape != v.shape or state[k].dtype != v.dtype:
            raise CheckpointError(
                f"{weights}: {k} is {tuple(state[k].shape)} {state[k].dtype}, the config needs {tuple(v.shape)} {v.dtype}"
            )
    model.load_state_dict(state, strict=True)
    extra = doc.get("extra") or {}
    if not isinstance(extra, dict):
        raise CheckpointError(f"{root / CONFIG}: 'extra' must be an object")
    return Checkpoint(model.to(device).eval(), config, extra)


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """The extra tensors saved with a checkpoint ({} when there are none), checked like the
    weights."""
    root = Path(path)
    doc = read_config(root)
    if "tensors_sha256" not in doc:
        return {}
    return _read_checked(root / TENSORS, doc["tensors_sha256"], device)


def _read_checked(f: Path, sha256: str, device) -> dict[str, Tensor]:
    """A safetensors file of a checkpoint, refused (one line) when missing or not the file whose
    checksum config.json recorded."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not f.is_file():
        raise CheckpointError(f"{f.parent}: {f.name} is missing")
    if _sha256(f) != sha256:
        raise CheckpointError(f"{f}: damaged (checksum differs from {CONFIG})")
    try:
        return load_file(f, device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{f}: damaged ({exc})") from None


__all__ = ["Checkpoint", "CheckpointError", "load", "load_tensors", "read_config", "save"]
