"""Optimizer, scheduler and random-stream state as safetensors + JSON: no pickle, ever.

torch's `state_dict()` of an optimizer mixes tensors with plain numbers; tensors go to a
safetensors file under dotted keys, everything else to JSON, and loading puts them back together.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _split(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save {type(obj).__name__} at {prefix}")


def _key(k: Any) -> Any:
    return k if isinstance(k, (int, str)) else str(k)


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _join(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_join(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
    return obj


def save_state(path: Path, name: str, state: dict) -> None:
    """`name.safetensors` + `name.json` in `path`."""
    tensors: dict[str, torch.Tensor] = {}
    structure = _split(state, "s", tensors)
    save_file(tensors, str(path / f"{name}.safetensors"))
    (path / f"{name}.json").write_text(json.dumps(structure))


def load_state(path: Path, name: str) -> dict:
    """The state saved by `save_state`; a ValueError naming the file if either file is missing,
    truncated or inconsistent with the other."""
    current = path / f"{name}.safetensors"
    try:
        tensors = load_file(str(current))
        current = path / f"{name}.json"
        structure = json.loads(current.read_text())
        return _join(structure, tensors)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f"{current}: {why}") from None


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
