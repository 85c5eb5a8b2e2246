"""Output heads and losses, derived from the schema (through `data.encoding.SPEC`).

Nothing here lists fields by hand: every field the schema marks PREDICTED in a character slot or an
item slot gets a head chosen by its kind, every CONSTANT field is carried, every RULE field is
computed by the rules layer (model/rules.py). A field added to the schema gets a head, a target and
a loss without touching this file.

Heads per slot (4 character slots, `item_slots` item slots), all read from one flat output vector:

* `exists`: one logit (binary cross-entropy). Followers and items appear and disappear; the two
  leaders exist for the whole game, so their flag is carried (`Part.exists_slots`).
* every predicted continuous/counter field: a 4-way **mode** (cross-entropy) and two regressions:
  - KEEP: the value stays exactly what it was (percent between hits, shield at 60, hitlag 0...);
  - ZERO: the value becomes exactly 0 (percent reset on respawn, velocities stopping, hitstun end);
  - SET: the value jumps (teleport on respawn, a new item, knockback) -> the `value` head;
  - DELTA: the value moves by a small amount -> the `delta` head, in units of a per-field scale.
  Sharp events (a hit, a death, a reset) are thus a classification, not a blur between a
  regression's two modes, and unchanged values stay bit-exact instead of drifting by regression
  noise.
* every predicted categorical field (action, stocks, jumps, ground, hurtbox, ...): logits over its
  vocabulary (cross-entropy); the next value is the argmax.
* every predicted binary field (facing, airborne, item facing): one logit (binary cross-entropy).

Losses are masked: a slot's fields count only where the slot exists in the target frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamland.config import ConfigError
from dreamland.data.encoding import SPEC, Spec
from dreamland.schema import Field, Role

KEEP, ZERO, SET, DELTA = 0, 1, 2, 3
MODES = ("keep", "zero", "set", "delta")
N_MODES = len(MODES)
PARTS = ("char", "item")


def _check_roles(fs: tuple[Field, ...]) -> None:
    for f in fs:
        if f.role not in (Role.PREDICTED, Role.CONSTANT, Role.RULE):
            raise ValueError(f"field {f.name} has role {f.role.value}: not part of the model state")


@dataclass(frozen=True)
class Part:
    """One kind of slot (character or item): its encoded fields and where its heads sit in the
    flat per-slot output vector."""

    name: str
    real: tuple[Field, ...]
    cat: tuple[Field, ...]
    bin: tuple[Field, ...]
    # slots whose existence the model predicts (None: all). The two leaders exist for the whole
    # game (in every frame of the replays), so only the followers' (2, 3) and items' are predicted.
    exists_slots: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for fs in (self.real, self.cat, self.bin):
            _check_roles(fs)

    # columns (indices into the encoded part) by role
    def cols(self, group: str, role: Role) -> tuple[int, ...]:
        return tuple(j for j, f in enumerate(getattr(self, group)) if f.role is role)

    @property
    def real_pred(self) -> tuple[int, ...]:
        return self.cols("real", Role.PREDICTED)

    @property
    def cat_pred(self) -> tuple[int, ...]:
        return self.cols("cat", Role.PREDICTED)

    @property
    def bin_pred(self) -> tuple[int, ...]:
        return self.cols("bin", Role.PREDICTED)

    # layout of the per-slot output vector:
    # [exists | mode (n_real_pred x 4) | delta (n_real_pred) | value (n_real_pred) | bin | cat...]
    @property
    def n_real_pred(self) -> int:
        return len(self.real_pred)

    @property
    def o_mode(self) -> int:
        return 1

    @property
    def o_delta(self) -> int:
        return self.o_mode + N_MODES * self.n_real_pred

    @property
    def o_value(self) -> int:
        return self.o_delta + self.n_real_pred

    @property
    def o_bin(self) -> int:
        return self.o_value + self.n_real_pred

    @property
    def o_cat(self) -> tuple[tuple[int, int], ...]:
        start = self.o_bin + len(self.bin_pred)
        out = []
        for j in self.cat_pred:
            v = int(self.cat[j].vocab)
            out.append((start, start + v))
            start += v
        return tuple(out)

    @property
    def n_out(self) -> int:
        return self.o_cat[-1][1] if self.cat_pred else self.o_bin + len(self.bin_pred)

    @property
    def vocab_total(self) -> int:
        """Rows of the input embedding table (every categorical field, constants included)."""
        return sum(int(f.vocab) for f in self.cat)

    @property
    def cat_offsets(self) -> tuple[int, ...]:
        out, start = [], 0
        for f in self.cat:
            out.append(start)
            start += int(f.vocab)
        return tuple(out)

    def key(self, f: Field) -> str:
        return f"{self.name}.{f.name}"


def parts(spec: Spec = SPEC) -> tuple[Part, Part]:
    return (
        Part("char", spec.char_real, spec.char_cat, spec.char_bin, exists_slots=(2, 3)),
        Part("item", spec.item_real, spec.item_cat, spec.item_bin),
    )


CHAR, ITEM = parts()


@dataclass
class HeadView:
    """Named views into one part's flat head output (..., slots, n_out)."""

    exists: Tensor  # (..., S) logit
    mode: Tensor  # (..., S, n_real_pred, 4) logits
    delta: Tensor  # (..., S, n_real_pred) in delta units
    value: Tensor  # (..., S, n_real_pred) encoded value
    bin: Tensor  # (..., S, n_bin_pred) logits
    cat: list[Tensor]  # per predicted categorical field: (..., S, vocab) logits


def split(part: Part, out: Tensor) -> HeadView:
    # One torch.split rather than a slice per piece: the backward of each slice would allocate a
    # zero tensor as large as the whole head output, a large share of a CPU training step.
    n = part.n_real_pred
    bounds = [0, part.o_mode, part.o_delta, part.o_value, part.o_bin, part.o_bin + len(part.bin_pred)]
    bounds += [b for _, b in part.o_cat]
    assert bounds[-1] == out.shape[-1] and all(a == b for (a, _), b in zip(part.o_cat, bounds[5:]))
    pieces = torch.split(out, [b - a for a, b in zip(bounds[:-1], bounds[1:])], dim=-1)
    return HeadView(
        exists=pieces[0][..., 0],
        mode=pieces[1].unflatten(-1, (n, N_MODES)),
        delta=pieces[2],
        value=pieces[3],
        bin=pieces[4],
        cat=list(pieces[5:]),
    )


def delta_scale_keys() -> set[str]:
    """Keys accepted by `ModelConfig.delta_scale`: "char.x", "item.vel_y", ..."""
    return {p.key(p.real[j]) for p in parts() for j in p.real_pred}


def delta_units(part: Part, delta_fraction: float, overrides: Mapping[str, float]) -> list[float]:
    """Encoded units of one step of the delta head, per predicted real column of a part:
    `delta_fraction` of the field's scale unless `overrides["char.x"]` gives game units."""
    out = []
    for j in part.real_pred:
        f = part.real[j]
        game = overrides.get(part.key(f), delta_fraction * f.scale)
        out.append(float(game) / f.scale)
    return out


# ----------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Base:
    """What KEEP means for a part's predicted real columns: `value` (..., S, n) encoded (the
    current values, or the game's rule for them: model/priors.py) and `tolerance` (n,), how far
    from it a target still counts as kept."""

    value: Tensor
    tolerance: Tensor | float = 0.0


def real_targets(
    part: Part, cur: dict, nxt: dict, dunit: Tensor, jump_threshold: float, base: Base | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(mode, delta, value) targets of a part's predicted real columns, shaped (..., S, n). A delta
    and a jump are measured from the base (default: the current values)."""
    idx = list(part.real_pred)
    c = cur[f"{part.name}_real"][..., idx] if base is None else base.value
    n = nxt[f"{part.name}_real"][..., idx]
    spawned = (cur[f"{part.name}_exists"] <= 0.5).unsqueeze(-1)
    d = n - c
    kept = (n == c) if base is None else (d.abs() <= base.tolerance)
    mode = torch.full_like(c, DELTA, dtype=torch.long)
    mode = torch.where((d.abs() > jump_threshold * dunit) | spawned, SET, mode)
    mode = torch.where(n == 0, ZERO, mode)
    mode = torch.where(kept, KEEP, mode)
    return mode, d / dunit, n


@dataclass(frozen=True)
class LossConfig:
    """How the per-field losses are combined; every key of `weights` must be a loss key
    (`loss_keys()`: "char.action", "char.x", "item.exists", ...)."""

    weights: Mapping[str, float] = field(default_factory=dict)
    event_weight: float = 1.0  # extra weight of frames where a field changes (an event)
    delta_beta: float = 1.0  # smooth-L1 beta of the delta head (delta units)
    value_beta: float = 0.05  # smooth-L1 beta of the value head (encoded units)

    def __post_init__(self) -> None:
        known = set(loss_keys())
        for k, v in dict(self.weights).items():
            if k not in known:
                raise ConfigError(f"loss weights: unknown key {k!r} (known: {', '.join(loss_keys())})")
            if float(v) < 0:
                raise ConfigError(f"loss weights: {k!r} must be >= 0, got {v!r}")
        if self.event_weight <= 0 or self.delta_beta <= 0 or self.value_beta <= 0:
            raise ConfigError("loss config: event_weight, delta_beta and value_beta must be positive")
        object.__setattr__(self, "weights", dict(self.weights))

    def replace(self, **kw) -> "LossConfig":
        return dataclasses.replace(self, **kw)


def loss_keys() -> list[str]:
    keys = []
    for p in parts():
        keys.append(f"{p.name}.exists")
        keys += [p.key(p.real[j]) for j in p.real_pred]
        keys += [p.key(p.bin[j]) for j in p.bin_pred]
        keys += [p.key(p.cat[j]) for j in p.cat_pred]
    return keys


def _masked_mean(x: Tensor, w: Tensor) -> Tensor:
    """Weighted mean over every dim but the last: (..., n) -> (n,)."""
    dims = tuple(range(x.dim() - 1))
    return (x * w).sum(dims) / w.sum(dims).clamp_min(1e-6)


def _recorded(part: Part, cur: dict) -> tuple[Tensor, Tensor, Tensor] | tuple[float, ...]:
    """(real, cat, bin) weights (..., 1, n) that drop the fields a game never recorded (character
    slots of windows with `present` flags, layout.PRESENT_FIELDS order); 1 everywhere else."""
    present = cur.get("present") if part.name == "char" else None
    if present is None:
        return 1.0, 1.0, 1.0
    present = present.unsqueeze(-2)
    n_real, n_cat = len(part.real), len(part.cat)
    assert present.shape[-1] == n_real + n_cat + len(part.bin)
    return (present[..., list(part.real_pred)],
            present[..., [n_real + j for j in part.cat_pred]],
            present[..., [n_real + n_cat + j for j in part.bin_pred]])


def part_losses(
    part: Part, out: Tensor, cur: dict, nxt: dict, dunit: Tensor, jump_threshold: float, cfg: LossConfig,
    base: Base | None = None,
) -> dict[str, Tensor]:
    """Per-field losses of one part (means over the slots that exist in the target frame, and over
    the games that recorded the field)."""
    h = split(part, out)
    rec_real, rec_cat, rec_bin = _recorded(part, cur)
    p = part.name
    losses: dict[str, Tensor] = {}
    exists_next = nxt[f"{p}_exists"]
    ev = cfg.event_weight - 1.0
    e_changed = (exists_next != cur[f"{p}_exists"]).float()
    bce = F.binary_cross_entropy_with_logits(h.exists.float(), exists_next.float(), reduction="none")
    w_exists = 1 + ev * e_changed
    if part.exists_slots is not None:
        scored = torch.zeros(bce.shape[-1], device=bce.device)
        scored[list(part.exists_slots)] = 1.0
        w_exists = w_exists * scored
    losses[f"{p}.exists"] = _masked_mean(bce.unsqueeze(-1), w_exists.unsqueeze(-1))[0]
    valid = (exists_next > 0.5).float().unsqueeze(-1)  # (..., S, 1)

    if part.real_pred:
        mode_t, delta_t, value_t = real_targets(part, cur, nxt, dunit, jump_threshold, base)
        ce = F.cross_entropy(h.mode.float().flatten(0, -2), mode_t.flatten(), reduction="none")
        ce = ce.view(mode_t.shape)
        valid_real = valid * rec_real
        w = valid_real * (1 + ev * (mode_t != KEEP).float())
        mode_loss = _masked_mean(ce, w)
        dl = F.smooth_l1_loss(h.delta.float(), delta_t, beta=cfg.delta_beta, reduction="none")
        delta_loss = _masked_mean(dl, valid_real * (mode_t == DELTA).float())
        vl = F.smooth_l1_loss(h.value.float(), value_t, beta=cfg.value_beta, reduction="none")
        value_loss = _masked_mean(vl, valid_real * (mode_t == SET).float())
        total = mode_loss + delta_loss + value_loss
        for k, j in enumerate(part.real_pred):
            losses[part.key(part.real[j])] = total[k]

    if part.bin_pred:
        idx = list(part.bin_pred)
        t = nxt[f"{p}_bin"][..., idx].float()
        changed = (t != cur[f"{p}_bin"][..., idx]).float()
        b = F.binary_cross_entropy_with_logits(h.bin.float(), t, reduction="none")
        bl = _masked_mean(b, valid * rec_bin * (1 + ev * changed))
        for k, j in enumerate(part.bin_pred):
            losses[part.key(part.bin[j])] = bl[k]

    for k, j in enumerate(part.cat_pred):
        t = nxt[f"{p}_cat"][..., j]
        logits = h.cat[k].float()
        ce = F.cross_entropy(logits.flatten(0, -2), t.flatten(), reduction="none").view(t.shape)
        changed = (t != cur[f"{p}_cat"][..., j]).float()
        w = valid * (1 + ev * changed).unsqueeze(-1)
        if not isinstance(rec_cat, float):
            w = w * rec_cat[..., k : k + 1]
        losses[part.key(part.cat[j])] = _masked_mean(ce.unsqueeze(-1), w)[0]
    return losses


def total_loss(losses: Mapping[str, Tensor], cfg: LossConfig) -> Tensor:
    return sum(cfg.weights.get(k, 1.0) * v for k, v in losses.items())  # type: ignore[return-value]


__all__ = [
    "Base",
    "CHAR",
    "DELTA",
    "HeadView",
    "ITEM",
    "KEEP",
    "LossConfig",
    "MODES",
    "Part",
    "SET",
    "ZERO",
    "delta_scale_keys",
    "delta_units",
    "loss_keys",
    "part_losses",
    "parts",
    "real_targets",
    "split",
    "total_loss",
]
