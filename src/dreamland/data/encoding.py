"""Game units <-> model tensors, derived from the schema.

A frame is encoded as
- four character slots (player 0, player 1, then their followers), each with `real` features
  (continuous fields / scale), `cat` ids for embeddings (categorical fields, mapped into their
  vocabulary), `bin` flags (binary fields) and `exists`;
- `MAX_ITEM_SLOTS` item slots with the same four parts;
- the two controllers: sticks and trigger in libmelee's 0..1 form, then the twelve buttons as 0/1;
- the stage id.

`encode` takes a batch of store arrays (as torch tensors, any leading shape) and `decode` inverts
it back to store values in game units. The inverse is exact for real values up to float32
rounding; categorical values outside a vocabulary (action states >= 399 such as Kirby's copied
specials, stocks above 4, out-of-range ground ids) come back as the vocabulary's last id, which is
documented per field in docs/encoding.md and checked by tests/data/test_encoding.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dreamland.data import layout
from dreamland.schema import Field, Kind, fingerprint
from dreamland.schema.actions import UNKNOWN_ACTION
from dreamland.schema.controller import BUTTON_BITS

ENCODING_VERSION = 1
STAGE_VOCAB = 64  # external stage ids are < 64
REAL_CLIP = 100.0  # encoded reals are clipped to +-100 (about 10,000 game units of position)


def _split(groups):
    """(group name, column, field) for every field of some store groups, by encoded part."""
    real, cat, binary = [], [], []
    for g in groups:
        for j, f in enumerate(g.fields):
            if f.kind in (Kind.CONTINUOUS, Kind.COUNTER):
                real.append((g.name, j, f))
            elif f.kind is Kind.CATEGORICAL:
                cat.append((g.name, j, f))
            elif f.kind is Kind.BINARY:
                binary.append((g.name, j, f))
    return real, cat, binary


CHAR_REAL, CHAR_CAT, CHAR_BIN = _split(layout.PLAYER_GROUPS)
ITEM_REAL, ITEM_CAT, ITEM_BIN = _split(layout.ITEM_GROUPS)
STICKS = [(j, f) for j, f in enumerate(layout.CONTROLLER_GROUPS[0].fields)]
# a window's `present` flags (layout.present_flags) follow the encoded order of a character slot
assert layout.PRESENT_FIELDS == tuple(f.name for _, _, f in CHAR_REAL + CHAR_CAT + CHAR_BIN)
N_CONTROLLER = len(STICKS) + len(BUTTON_BITS)


def _vocab_top(f: Field) -> int:
    return (f.vocab or 2) - 1


def _encode_id(f: Field, v: torch.Tensor) -> torch.Tensor:
    v = v.long()
    if f.name == "action":
        return v.clamp(0, UNKNOWN_ACTION)
    if f.name == "ground":  # 255 = not on any ground -> the last id
        return torch.where(v == layout.GROUND_NONE, _vocab_top(f), v.clamp(0, _vocab_top(f) - 1))
    return v.clamp(0, _vocab_top(f))


def _decode_id(f: Field, v: torch.Tensor) -> torch.Tensor:
    if f.name == "ground":
        return torch.where(v == _vocab_top(f), layout.GROUND_NONE, v)
    return v


@dataclass(frozen=True)
class Spec:
    """The encoded sizes a model is built from."""

    char_real: tuple[Field, ...] = tuple(f for _, _, f in CHAR_REAL)
    char_cat: tuple[Field, ...] = tuple(f for _, _, f in CHAR_CAT)
    char_bin: tuple[Field, ...] = tuple(f for _, _, f in CHAR_BIN)
    item_real: tuple[Field, ...] = tuple(f for _, _, f in ITEM_REAL)
    item_cat: tuple[Field, ...] = tuple(f for _, _, f in ITEM_CAT)
    item_bin: tuple[Field, ...] = tuple(f for _, _, f in ITEM_BIN)
    n_controller: int = N_CONTROLLER
    stage_vocab: int = STAGE_VOCAB
    version: int = ENCODING_VERSION
    schema: str = fingerprint()


SPEC = Spec()


def _parts(batch: dict, prefix: str, real_cols, cat_cols, bin_cols) -> dict[str, torch.Tensor]:
    real = torch.stack(
        [batch[f"{prefix}_{g}"][..., j].float() / f.scale for g, j, f in real_cols], -1
    )
    real = torch.nan_to_num(real).clamp(-REAL_CLIP, REAL_CLIP)
    cat = torch.stack([_encode_id(f, batch[f"{prefix}_{g}"][..., j]) for g, j, f in cat_cols], -1)
    binary = torch.stack([batch[f"{prefix}_{g}"][..., j].float() for g, j, _ in bin_cols], -1)
    return {"real": real, "cat": cat, "bin": binary}


def encode(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Store values (torch) -> model features. Characters: (..., 4, F); items: (..., S, F);
    controller: (..., 2, N_CONTROLLER); stage: (batch,)."""
    lead = _parts(batch, "player", CHAR_REAL, CHAR_CAT, CHAR_BIN)
    follow = _parts(batch, "follower", CHAR_REAL, CHAR_CAT, CHAR_BIN)
    items = _parts(batch, "item", ITEM_REAL, ITEM_CAT, ITEM_BIN)
    out = {f"char_{k}": torch.cat([lead[k], follow[k]], -2) for k in lead}
    out["char_exists"] = torch.cat([batch["player_exists"], batch["follower_exists"]], -1).float()
    out.update({f"item_{k}": v for k, v in items.items()})
    out["item_exists"] = batch["item_exists"].float()
    out["controller"] = encode_controller(batch["controller_sticks"], batch["controller_buttons"][..., 0])
    out["stage"] = batch["stage"].long().clamp(0, STAGE_VOCAB - 1)
    if "present" in batch:  # per game (B, len(PRESENT_FIELDS)); play's states have none: all recorded
        out["present"] = batch["present"].float()
    return out


def broadcast_per_game(enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The per-game keys of encoded frames (`stage` (B,), `present` (B, n)) given the leading
    shape of the frames, so that every key of a window or a frame indexes the same way."""
    lead = enc["char_exists"].shape[:-1]
    if enc["stage"].shape != lead:
        enc = dict(enc)
        stage = enc["stage"]
        enc["stage"] = stage.reshape(stage.shape + (1,) * (len(lead) - stage.dim())).expand(lead)
    present = enc.get("present")
    if present is not None and present.shape[:-1] != lead:
        enc = dict(enc)
        extra = (1,) * (len(lead) + 1 - present.dim())
        enc["present"] = present.reshape(present.shape[:1] + extra + present.shape[1:]).expand(*lead, -1)
    return enc


_STICK_LO = torch.tensor([(f.bounds or (0.0, 1.0))[0] for _, f in STICKS], dtype=torch.float32)
_STICK_SPAN = torch.tensor([(f.bounds or (0.0, 1.0))[1] - (f.bounds or (0.0, 1.0))[0] for _, f in STICKS],
                           dtype=torch.float32)
_BUTTON_BITS = torch.tensor(list(BUTTON_BITS.values()), dtype=torch.long)
assert [j for j, _ in STICKS] == list(range(len(STICKS)))


def encode_controller(sticks: torch.Tensor, buttons: torch.Tensor) -> torch.Tensor:
    """Sticks (..., 5) in replay units and the button mask (...,) -> (..., N_CONTROLLER) in 0..1.
    A few whole-tensor operations: play and the environments encode every frame's inputs."""
    dev = sticks.device
    axes = ((sticks.float() - _STICK_LO.to(dev)) / _STICK_SPAN.to(dev)).clamp(0, 1)
    pressed = (buttons.long().unsqueeze(-1) & _BUTTON_BITS.to(dev)) != 0
    return torch.cat([axes, pressed.float()], -1)


def decode_controller(encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    sticks = []
    for j, f in STICKS:
        lo, hi = f.bounds or (0.0, 1.0)
        sticks.append(encoded[..., j] * (hi - lo) + lo)
    mask = torch.zeros(encoded.shape[:-1], dtype=torch.long, device=encoded.device)
    for k, bit in enumerate(BUTTON_BITS.values()):
        mask |= (encoded[..., len(STICKS) + k] > 0.5).long() * bit
    return torch.stack(sticks, -1), mask


def _torch_dtype(name: str) -> torch.dtype:
    return torch.int32 if name == "uint16" else getattr(torch, name)  # see to_torch


def _unparts(enc: dict, key: str, groups, real_cols, cat_cols, bin_cols, exists) -> dict[str, torch.Tensor]:
    shape = enc[f"{key}_real"].shape[:-1]
    out = {
        g.name: torch.zeros(*shape, len(g.fields), dtype=_torch_dtype(g.dtype), device=exists.device)
        for g in groups
    }
    for k, (g, j, f) in enumerate(real_cols):
        value = enc[f"{key}_real"][..., k] * f.scale
        if f.bounds:
            value = value.clamp(*f.bounds)
        out[g][..., j] = value.to(out[g].dtype)
    for k, (g, j, f) in enumerate(cat_cols):
        out[g][..., j] = _decode_id(f, enc[f"{key}_cat"][..., k]).to(out[g].dtype)
    for k, (g, j, f) in enumerate(bin_cols):
        out[g][..., j] = (enc[f"{key}_bin"][..., k] > 0.5).to(out[g].dtype)
    mask = (exists > 0.5)
    for g in out:
        out[g] = out[g] * mask[..., None].to(out[g].dtype)
    return out


def decode(enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Model features -> store values in game units (the inverse of `encode`)."""
    chars = _unparts(enc, "char", layout.PLAYER_GROUPS, CHAR_REAL, CHAR_CAT, CHAR_BIN, enc["char_exists"])
    items = _unparts(enc, "item", layout.ITEM_GROUPS, ITEM_REAL, ITEM_CAT, ITEM_BIN, enc["item_exists"])
    out: dict[str, torch.Tensor] = {}
    for g, v in chars.items():
        out[f"player_{g}"], out[f"follower_{g}"] = v[..., :2, :], v[..., 2:, :]
    exists = (enc["char_exists"] > 0.5).to(torch.uint8)
    out["player_exists"], out["follower_exists"] = exists[..., :2], exists[..., 2:]
    out.update({f"item_{g}": v for g, v in items.items()})
    out["item_exists"] = (enc["item_exists"] > 0.5).to(torch.uint8)
    sticks, mask = decode_controller(enc["controller"])
    out["controller_sticks"] = sticks.to(torch.float16)
    out["controller_buttons"] = mask[..., None].to(torch.int32)
    out["stage"] = enc["stage"]
    return out


def to_torch(batch: dict, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """A numpy batch -> torch tensors (uint16 arrays widened: torch has no uint16 arithmetic)."""
    out = {}
    for k, v in batch.items():
        if v.dtype.name == "uint16":
            v = v.astype("int32")
        out[k] = torch.from_numpy(v).to(device, non_blocking=True)
    return out
