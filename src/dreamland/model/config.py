"""World-model hyper-parameters and the named presets.

`ModelConfig` is everything needed to rebuild a `WorldModel` with the same parameter shapes (it is
written as JSON beside every checkpoint). The field sizes themselves (how many continuous fields,
vocabularies...) are not here: they come from `data.encoding.SPEC`, i.e. from the schema, and the
schema fingerprint in the checkpoint guards them.

Presets (parameter counts printed by `dreamland model info`; targets from the issue):

| preset | layers | d_model | parameters |
|--------|--------|---------|------------|
| tiny   | 1      | 32      | 38,820 (tests)  |
| small  | 2      | 256     | 1,237,730       |
| medium | 4      | 384     | 4,796,302       |
| large  | 6      | 512     | 14,595,370 (with a 512-wide MLP after each mixer) |
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from dreamland.config import ConfigError  # the project's one configuration error

# How model.stepper.CompiledStep may run the step (torch-free here so that the CLI can offer them cheaply).
COMPILE_MODES = ("eager", "aot", "aot-tuned", "inductor")
WEIGHT_DTYPES = ("float32", "float16", "bfloat16")


def _positive_int(where: str, name: str, v: Any) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ConfigError(f"{where}: {name} must be a positive integer, got {v!r}")


def _positive(where: str, name: str, v: Any) -> None:
    try:
        ok = float(v) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"{where}: {name} must be positive, got {v!r}")


def _refuse_unknown(keys: Any, names: Any, prefix: str = "") -> None:
    """A one-line `ConfigError` naming the keys that are not fields; a mixer key given at the top
    level (the form before `ModelConfig.mamba`) is told where it lives now."""
    unknown = sorted(set(keys) - set(names))
    if not unknown:
        return
    moved = [FLAT_MAMBA_KEYS[k] for k in unknown if not prefix and k in FLAT_MAMBA_KEYS]
    hint = f" (the mixer's keys are under mamba: {moved[0]})" if moved else ""
    raise ConfigError(f"model config: unknown key(s) {', '.join(repr(prefix + k) for k in unknown)}{hint}")


@dataclass(frozen=True, kw_only=True)
class MambaConfig:
    """The Mamba-2 mixer's hyper-parameters, all but its width (declared here, once, torch-free):
    `ModelConfig.mamba` holds one, and `model.mamba2.Mamba2Config` is one plus the width d_model
    (the model's). Defaults follow mamba_ssm's `Mamba2`, except `d_state` 64 (the value the
    Mamba-2 README recommends for small models rather than the constructor's 128) and `chunk_size`
    64 (the windows we train on are short; it changes speed, never the parameters)."""

    d_state: int = 64
    headdim: int = 64
    expand: int = 2
    d_conv: int = 4
    ngroups: int = 1
    chunk_size: int = 64
    # init ranges (in the checkpoint's config so that a model is rebuilt exactly): softplus(dt_bias)
    # log-uniform in [dt_min, dt_max] (floored at dt_init_floor), -A uniform in A_init_range
    dt_min: float = 0.001
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4
    A_init_range: tuple[float, float] = (1.0, 16.0)
    rmsnorm_eps: float = 1e-5
    norm_before_gate: bool = False
    bias: bool = False
    conv_bias: bool = True

    def __post_init__(self) -> None:
        for name in ("d_state", "headdim", "expand", "d_conv", "ngroups", "chunk_size"):
            _positive_int("mamba config", name, getattr(self, name))
        for name in ("dt_min", "dt_max", "dt_init_floor", "rmsnorm_eps"):
            _positive("mamba config", name, getattr(self, name))
        for name in ("norm_before_gate", "bias", "conv_bias"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"mamba config: {name} must be true or false, got {getattr(self, name)!r}")
        r = self.A_init_range
        numbers = isinstance(r, (tuple, list)) and len(r) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
        if not numbers or not 0 < r[0] <= r[1]:
            raise ConfigError(f"mamba config: A_init_range must be two numbers lo, hi with 0 < lo <= hi, got {r!r}")
        object.__setattr__(self, "A_init_range", (float(r[0]), float(r[1])))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MambaConfig":
        if not isinstance(d, Mapping):
            raise ConfigError(f"model config: mamba must be a mapping of the mixer's keys, got {d!r}")
        _refuse_unknown(d, (f.name for f in dataclasses.fields(cls)), prefix="mamba.")
        return cls(**dict(d))

    def replace(self, **overrides: Any) -> "MambaConfig":
        _refuse_unknown(overrides, (f.name for f in dataclasses.fields(self)), prefix="mamba.")
        return dataclasses.replace(self, **overrides)


# The mixer's keys as config.json and a run's config.yaml wrote them at the top level of the model
# config before `ModelConfig.mamba`, and where each lives now (A_init_min, A_init_max: the range).
FLAT_MAMBA_KEYS = {
    **{k: f"mamba.{k}" for k in ("d_state", "headdim", "expand", "d_conv", "ngroups", "chunk_size",
                                 "dt_min", "dt_max")},
    "A_init_min": "mamba.A_init_range",
    "A_init_max": "mamba.A_init_range",
}


def migrate(d: Mapping[str, Any]) -> dict[str, Any]:
    """A model config mapping in today's form: the mixer's keys of the flat form (`FLAT_MAMBA_KEYS`:
    checkpoints and run folders written before `ModelConfig.mamba`) moved under "mamba", the same
    values; any other key untouched. A mapping already nested comes back as it is."""
    flat = [k for k in d if k in FLAT_MAMBA_KEYS]
    if not flat:
        return dict(d)
    if "mamba" in d:
        raise ConfigError(f"model config: {flat[0]!r} beside 'mamba' (it is {FLAT_MAMBA_KEYS[flat[0]]} now)")
    out = {k: v for k, v in d.items() if k not in FLAT_MAMBA_KEYS}
    mamba = {k: d[k] for k in flat if not k.startswith("A_init_")}
    if "A_init_min" in d or "A_init_max" in d:
        lo, hi = MambaConfig().A_init_range
        mamba["A_init_range"] = (d.get("A_init_min", lo), d.get("A_init_max", hi))
    out["mamba"] = mamba
    return out


@dataclass(frozen=True)
class ModelConfig:
    # Backbone (Mamba-2, see model/mamba2.py): n_layers residual pre-norm blocks.
    n_layers: int = 2
    d_model: int = 256
    # The mixer's own hyper-parameters (its width is d_model): `model.mamba.d_state=32`.
    mamba: MambaConfig = field(default_factory=MambaConfig)
    d_intermediate: int = 0  # width of an MLP after each mixer (0: pure Mamba-2 blocks)
    # Input encoder: every categorical id gets an embedding of `emb_char` / `emb_item` dims (one
    # table per part, one row per id); a character slot is encoded to `d_char` features and an
    # item slot to `d_item`, then all slots, both controllers and the stage go through one linear
    # map to d_model.
    emb_char: int = 16
    emb_item: int = 8
    emb_stage: int = 8
    d_char: int = 64
    d_item: int = 16
    # Heads: one MLP shared by the four character slots and one shared by the item slots; each
    # reads [backbone output, that slot's own input encoding, a slot-id embedding].
    d_head_char: int = 128
    d_head_item: int = 64
    head_layers: int = 1  # hidden layers per head MLP
    dropout: float = 0.0
    item_slots: int = 16  # item slots per frame the model reads and writes (data.items.MAX_ITEM_SLOTS)
    # Targets of continuous fields (see heads.py): a delta is predicted in units of
    # `delta_fraction * field.scale` game units (overridable per field, key "char.x"/"item.x"); a
    # change larger than `jump_threshold` such units is a "set" event (absolute value head).
    delta_fraction: float = 0.05
    delta_scale: Mapping[str, float] = field(default_factory=dict)
    jump_threshold: float = 10.0
    # Read per game which character fields its replay recorded (older Slippi versions lack
    # velocities, hitlag, flags...): the frame vector gains one "absent" flag per field, and the
    # rules write absent fields as the store keeps them (0) so a rollout stays one game's kind.
    absent_inputs: bool = False
    # Decode a continuous field's KEEP mode as "follows the game's own rule" where Melee has one
    # (model/priors.py: positions integrate the next frame's velocities, hitlag counts down), so
    # the delta head predicts only the correction to the rule.
    rule_priors: bool = False
    # With `rule_priors`, the velocities' KEEP follows the game's physics too (gravity, friction,
    # knockback decay, per character: schema/physics.py).
    velocity_rules: bool = False
    # With `rule_priors`, in a game that did not record velocities (Slippi < 3.0) positions keep
    # moving by the displacement of the frame before (constant velocity), which the step carries
    # in the model state, instead of standing still (model/priors.py).
    motion_rules: bool = False
    # With `motion_rules`, the share of that displacement the base carries into the next frame:
    # below 1 a position error fed back as motion fades out instead of moving the character on.
    motion_carry: float = 1.0
    # The share for y alone (None: `motion_carry`): a vertical displacement changes every frame
    # (gravity), a horizontal one much less, so they may fade at different rates.
    motion_carry_y: float | None = None
    # With `rule_priors`, a character whose next frame is in hitlag keeps its position (the game
    # freezes it; its velocities keep their values meanwhile, so adding them would move it).
    hitlag_rules: bool = False
    # Start the leaders' action logits from the action table counted over the training games
    # (model/lookup.py): the heads learn the correction. The table's sizes are set by training
    # when it counts it (0 until then: a model built without a table looks nothing up).
    action_lookup: bool = False
    lookup_keys: int = 0
    lookup_back_keys: int = 0
    # With `action_lookup`, the heads also read the table's proposal (an embedding of the proposed
    # action and of what the table knew, added to each leader's slot encoding), so that the
    # continuous heads move the character the way the proposed action does.
    lookup_to_heads: bool = False
    # The loss's weight of frames where a value changes (`loss_event_weight`, set by training).
    # A weighted cross-entropy multiplies each change's odds by it; decoding divides them back
    # out, so that a change is predicted only when it is likelier than keeping the value.
    event_weight: float = 1.0

    def __post_init__(self) -> None:
        ints = ("n_layers", "d_model", "emb_char", "emb_item", "emb_stage", "d_char", "d_item",
                "d_head_char", "d_head_item", "item_slots")
        for name in ints:
            _positive_int("model config", name, getattr(self, name))
        if not isinstance(self.mamba, MambaConfig):
            raise ConfigError(f"model config: mamba must be a MambaConfig, got {self.mamba!r}")
        if not isinstance(self.d_intermediate, int) or self.d_intermediate < 0:
            raise ConfigError(f"model config: d_intermediate must be >= 0, got {self.d_intermediate!r}")
        if not isinstance(self.head_layers, int) or self.head_layers < 0:
            raise ConfigError(f"model config: head_layers must be >= 0, got {self.head_layers!r}")
        m = self.mamba
        if (m.expand * self.d_model) % m.headdim:
            raise ConfigError(
                f"model config: mamba.expand*d_model = {m.expand * self.d_model} must be a multiple "
                f"of mamba.headdim = {m.headdim}"
            )
        if ((m.expand * self.d_model) // m.headdim) % m.ngroups:
            raise ConfigError("model config: the number of heads must be a multiple of mamba.ngroups")
        for name in ("lookup_keys", "lookup_back_keys"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"model config: {name} must be an integer >= 0, got {v!r}")
            if v and not self.action_lookup:
                raise ConfigError(f"model config: {name} is the size of the action table: it needs action_lookup")
        if self.lookup_to_heads and not self.action_lookup:
            raise ConfigError("model config: lookup_to_heads needs action_lookup (the proposal is the table's)")
        if self.velocity_rules and not self.rule_priors:
            raise ConfigError("model config: velocity_rules needs rule_priors (the velocities' rules are priors)")
        if self.hitlag_rules and not self.rule_priors:
            raise ConfigError("model config: hitlag_rules needs rule_priors (the freeze is a position's prior)")
        if self.motion_rules and not self.rule_priors:
            raise ConfigError("model config: motion_rules needs rule_priors (the observed motion is a position's prior)")
        for name, v in zip(("motion_carry", "motion_carry_y"), self.motion_carries):
            if not 0.0 <= float(v) <= 1.0:
                raise ConfigError(f"model config: {name} must be in [0, 1], got {v!r}")
            if v != 1.0 and not self.motion_rules:
                raise ConfigError(f"model config: {name} needs motion_rules (it scales the motion rule's displacement)")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"model config: dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("delta_fraction", "jump_threshold", "event_weight"):
            _positive("model config", name, getattr(self, name))
        known: set[str] = set()
        if self.delta_scale:  # (importing the heads pulls in torch: only when there is a key)
            from dreamland.model.heads import delta_scale_keys  # the keys come from the schema

            known = delta_scale_keys()
        for k, v in dict(self.delta_scale).items():
            if k not in known:
                raise ConfigError(
                    f"model config: delta_scale has unknown field {k!r} (known: {', '.join(sorted(known))})"
                )
            if not float(v) > 0:
                raise ConfigError(f"model config: delta_scale[{k!r}] must be positive, got {v!r}")
        object.__setattr__(self, "delta_scale", dict(self.delta_scale))

    @property
    def motion_carries(self) -> tuple[float, float]:
        """(x, y) shares of the motion rule's displacement."""
        return self.motion_carry, self.motion_carry if self.motion_carry_y is None else self.motion_carry_y

    # ------------------------------------------------------------------ conversions

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["delta_scale"] = dict(self.delta_scale)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        """The config of `to_dict`, or of the flat form older checkpoints hold (see `migrate`)."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"model config must be a JSON object, got {type(d).__name__}")
        d = migrate(d)
        _refuse_unknown(d, (f.name for f in dataclasses.fields(cls)))
        d["mamba"] = MambaConfig.from_dict(d.get("mamba", {}))
        return cls(**d)

    def replace(self, **overrides: Any) -> "ModelConfig":
        """Fields replaced; `mamba` may be a MambaConfig or a mapping of the mixer's keys to replace
        (`replace(mamba={"d_state": 32})`)."""
        _refuse_unknown(overrides, (f.name for f in dataclasses.fields(self)))
        if isinstance(overrides.get("mamba"), Mapping):
            overrides["mamba"] = self.mamba.replace(**overrides["mamba"])
        return dataclasses.replace(self, **overrides)


PRESETS: dict[str, ModelConfig] = {
    # ~38K parameters (the heads alone have ~1,000 outputs per slot): tests and smoke runs.
    "tiny": ModelConfig(n_layers=1, d_model=32, mamba=MambaConfig(d_state=16, headdim=16, chunk_size=16),
                        emb_char=4, emb_item=2, emb_stage=2, d_char=16, d_item=4, d_head_char=16,
                        d_head_item=8),
    "small": ModelConfig(n_layers=2, d_model=256, emb_char=16, emb_item=8, d_char=64, d_item=16,
                         d_head_char=128, d_head_item=64, head_layers=1),
    "medium": ModelConfig(n_layers=4, d_model=384, emb_char=24, emb_item=12, d_char=96,
                          d_item=24, d_head_char=384, d_head_item=160, head_layers=1),
    "large": ModelConfig(n_layers=6, d_model=512, d_intermediate=512, emb_char=32, emb_item=16,
                         d_char=128, d_item=32, d_head_char=512, d_head_item=128, head_layers=1),
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A preset by name with some fields replaced: `preset("large", dropout=0.1)`."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides)


__all__ = ["ConfigError", "FLAT_MAMBA_KEYS", "MambaConfig", "ModelConfig", "PRESETS", "migrate", "preset"]
