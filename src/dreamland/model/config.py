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


@dataclass(frozen=True)
class ModelConfig:
    # Backbone (Mamba-2, see model/mamba2.py): n_layers residual pre-norm blocks.
    n_layers: int = 2
    d_model: int = 256
    d_state: int = 64
    headdim: int = 64
    expand: int = 2
    d_conv: int = 4
    ngroups: int = 1
    chunk_size: int = 64
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
    # Mamba-2 init ranges (kept here so a checkpoint is rebuilt exactly).
    dt_min: float = 0.001
    dt_max: float = 0.1
    A_init_min: float = 1.0
    A_init_max: float = 16.0

    def __post_init__(self) -> None:
        ints = ("n_layers", "d_model", "d_state", "headdim", "expand", "d_conv", "ngroups",
                "chunk_size", "emb_char", "emb_item", "emb_stage", "d_char", "d_item",
                "d_head_char", "d_head_item", "item_slots")
        for name in ints:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"model config: {name} must be a positive integer, got {v!r}")
        if not isinstance(self.d_intermediate, int) or self.d_intermediate < 0:
            raise ConfigError(f"model config: d_intermediate must be >= 0, got {self.d_intermediate!r}")
        if not isinstance(self.head_layers, int) or self.head_layers < 0:
            raise ConfigError(f"model config: head_layers must be >= 0, got {self.head_layers!r}")
        if (self.expand * self.d_model) % self.headdim:
            raise ConfigError(
                f"model config: expand*d_model = {self.expand * self.d_model} must be a multiple "
                f"of headdim = {self.headdim}"
            )
        if ((self.expand * self.d_model) // self.headdim) % self.ngroups:
            raise ConfigError("model config: the number of heads must be a multiple of ngroups")
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
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"model config: dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("delta_fraction", "jump_threshold", "dt_min", "dt_max", "A_init_min",
                     "A_init_max", "event_weight"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"model config: {name} must be positive, got {getattr(self, name)!r}")
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

    # ------------------------------------------------------------------ conversions

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["delta_scale"] = dict(self.delta_scale)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        if not isinstance(d, Mapping):
            raise ConfigError(f"model config must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"model config: unknown key(s) {', '.join(map(repr, unknown))}")
        return cls(**dict(d))

    def replace(self, **overrides: Any) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"model config: unknown key(s) {', '.join(map(repr, unknown))}")
        return dataclasses.replace(self, **overrides)


PRESETS: dict[str, ModelConfig] = {
    # ~38K parameters (the heads alone have ~1,000 outputs per slot): tests and smoke runs.
    "tiny": ModelConfig(n_layers=1, d_model=32, d_state=16, headdim=16, chunk_size=16, emb_char=4,
                        emb_item=2, emb_stage=2, d_char=16, d_item=4, d_head_char=16,
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


__all__ = ["ConfigError", "ModelConfig", "PRESETS", "preset"]
