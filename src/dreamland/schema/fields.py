"""Every game field, declared once.

Each `Field` says where the value comes from in a replay, how it is stored, what kind of value it is
(which decides how it is encoded and which loss scores it), how to normalise it, and what role it
plays for the world model. Ingest writes one Parquet column per field; encoding, model heads,
losses, metrics and the web client derive from these tables instead of keeping lists of their own.

Sources are dotted paths into peppi's Arrow frame struct (`peppi_py._peppi.read_slippi(...).frames`):
player fields are relative to one port's `leader` or `follower` data, item fields to one item record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from enum import Enum

Version = tuple[int, int, int]


class Kind(str, Enum):
    """What sort of value a field holds; decides its encoding and its loss."""

    CONTINUOUS = "continuous"  # a real number in game units: regression
    BINARY = "binary"  # two values (0/1, or -1/+1 for facing): binary cross-entropy
    CATEGORICAL = "categorical"  # an id out of `vocab`: embedding in, cross-entropy out
    COUNTER = "counter"  # a frame count that follows a rule or a small integer count
    CONTROLLER = "controller"  # a controller input given by a player
    BITS = "bits"  # a packed bitfield, kept as stored


class Role(str, Enum):
    """Who decides a field's next value when the model plays."""

    PREDICTED = "predicted"  # the model predicts it every frame
    CONSTANT = "constant"  # fixed for a whole game (character, stage)
    INPUT = "input"  # given by the players' controllers
    RULE = "rule"  # computed by a documented rule from predicted fields (state_age)
    STORED = "stored"  # kept in the dataset for analysis; not part of the model's state
    KEY = "key"  # identifies a row (item instance id)


class Table(str, Enum):
    """Which Parquet table a field is a column of."""

    PLAYER = "players"  # one row per game x frame x port x (leader | follower)
    ITEM = "items"  # one row per game x frame x live item


@dataclass(frozen=True)
class Field:
    name: str
    table: Table
    source: str
    dtype: str  # numpy / Arrow storage dtype
    kind: Kind
    role: Role
    scale: float = 1.0  # encoded = value / scale for continuous fields
    vocab: int | None = None  # number of ids for categorical fields
    since: Version = (0, 1, 0)  # first replay version that records it; older games store null
    port_ref: bool = False  # holds a port index; encoded relative to the players (0, 1, 2 = none)
    mirror: bool = False  # changes sign when the stage is mirrored left-right (x, x speeds, facing)
    bounds: tuple[float, float] | None = None  # the values the game allows (decoding clamps to them)
    doc: str = ""

    def __post_init__(self) -> None:
        if (self.kind is Kind.CATEGORICAL) != (self.vocab is not None):
            raise ValueError(f"field {self.name}: vocab is required for categorical fields only")
        if self.scale <= 0:
            raise ValueError(f"field {self.name}: scale must be positive")


P, I = Table.PLAYER, Table.ITEM
C, B, K, N, CTL, BITS = (
    Kind.CONTINUOUS,
    Kind.BINARY,
    Kind.CATEGORICAL,
    Kind.COUNTER,
    Kind.CONTROLLER,
    Kind.BITS,
)
PRED, CONST, INP, RULE, STORED, KEY = (
    Role.PREDICTED,
    Role.CONSTANT,
    Role.INPUT,
    Role.RULE,
    Role.STORED,
    Role.KEY,
)

# Vocabulary sizes. Action states 0..0x18E cover every character; higher ids (Kirby's copied
# specials) map to an "unknown" id at encoding time (see schema.actions).
ACTION_VOCAB = 400
CHARACTER_VOCAB = 33  # internal character ids 0..32
ITEM_TYPE_VOCAB = 256  # item type ids seen in replays are < 256 (Shy Guy is 210)

PLAYER_FIELDS: tuple[Field, ...] = (
    # --- state after the frame (post-frame) ---
    Field("character", P, "post.character", "uint8", K, CONST, vocab=CHARACTER_VOCAB,
          doc="internal character id; Zelda/Sheik transform mid-game, so it is stored per frame"),
    Field("action", P, "post.state", "uint16", K, PRED, vocab=ACTION_VOCAB, doc="action state id"),
    Field("x", P, "post.position.x", "float32", C, PRED, scale=100.0, mirror=True),
    Field("y", P, "post.position.y", "float32", C, PRED, scale=100.0),
    Field("facing", P, "post.direction", "float32", B, PRED, mirror=True, doc="+1 right, -1 left"),
    Field("percent", P, "post.percent", "float32", C, PRED, scale=100.0, bounds=(0.0, 999.0)),
    Field("shield", P, "post.shield", "float32", C, PRED, scale=60.0, bounds=(0.0, 60.0),
          doc="shield strength 0..60"),
    Field("stocks", P, "post.stocks", "uint8", K, PRED, vocab=5, doc="stocks left 0..4"),
    Field("state_age", P, "post.state_age", "float32", N, RULE, scale=100.0, since=(0, 2, 0),
          bounds=(-1.0, 100000.0),
          doc="frames in the current action: +1 while the action is unchanged, else 0"),
    Field("hitlag", P, "post.hitlag", "float32", C, PRED, scale=10.0, since=(3, 8, 0),
          bounds=(0.0, 1000.0),
          doc="hitlag frames remaining"),
    Field("hitstun", P, "post.misc_as", "float32", C, PRED, scale=100.0, since=(2, 0, 0),
          doc="hitstun frames remaining while in a damage state (misc action-state value)"),
    Field("jumps", P, "post.jumps", "uint8", K, PRED, vocab=8, since=(2, 0, 0),
          doc="jumps left (Kirby and Jigglypuff have 6)"),
    Field("airborne", P, "post.airborne", "uint8", B, PRED, since=(2, 0, 0)),
    Field("ground", P, "post.ground", "uint16", K, PRED, vocab=64, since=(2, 0, 0),
          doc="id of the ground surface stood on; 65535 = none (encoded as its own id)"),
    Field("hurtbox", P, "post.hurtbox_state", "uint8", K, PRED, vocab=3, since=(2, 1, 0),
          doc="0 vulnerable, 1 invulnerable, 2 intangible"),
    Field("l_cancel", P, "post.l_cancel", "uint8", K, PRED, vocab=3, since=(2, 0, 0),
          doc="0 none, 1 success, 2 fail"),
    Field("last_attack_landed", P, "post.last_attack_landed", "uint8", K, PRED, vocab=256),
    Field("last_hit_by", P, "post.last_hit_by", "uint8", K, PRED, vocab=3, port_ref=True,
          doc="port index of the last attacker (6 = none); encoded as player 0, 1 or 2 = none"),
    Field("combo_count", P, "post.combo_count", "uint8", N, PRED, scale=10.0),
    Field("vel_air_x", P, "post.velocities.self_x_air", "float32", C, PRED, scale=5.0,
          since=(3, 5, 0), mirror=True),
    Field("vel_y", P, "post.velocities.self_y", "float32", C, PRED, scale=5.0, since=(3, 5, 0)),
    Field("vel_attack_x", P, "post.velocities.knockback_x", "float32", C, PRED, scale=5.0,
          since=(3, 5, 0), doc="knockback velocity", mirror=True),
    Field("vel_attack_y", P, "post.velocities.knockback_y", "float32", C, PRED, scale=5.0,
          since=(3, 5, 0)),
    Field("vel_ground_x", P, "post.velocities.self_x_ground", "float32", C, PRED, scale=5.0,
          since=(3, 5, 0), mirror=True),
    Field("state_flags_0", P, "post.state_flags.0", "uint8", BITS, STORED, since=(2, 0, 0)),
    Field("state_flags_1", P, "post.state_flags.1", "uint8", BITS, STORED, since=(2, 0, 0)),
    Field("state_flags_2", P, "post.state_flags.2", "uint8", BITS, STORED, since=(2, 0, 0)),
    Field("state_flags_3", P, "post.state_flags.3", "uint8", BITS, STORED, since=(2, 0, 0)),
    Field("state_flags_4", P, "post.state_flags.4", "uint8", BITS, STORED, since=(2, 0, 0)),
    Field("animation_index", P, "post.animation_index", "uint32", N, STORED, since=(3, 11, 0)),
    # --- controller inputs (pre-frame) ---
    Field("stick_x", P, "pre.joystick.x", "float32", CTL, INP, mirror=True, bounds=(-1.0, 1.0),
          doc="processed main stick, -1..1"),
    Field("stick_y", P, "pre.joystick.y", "float32", CTL, INP, bounds=(-1.0, 1.0)),
    Field("cstick_x", P, "pre.cstick.x", "float32", CTL, INP, mirror=True, bounds=(-1.0, 1.0),
          doc="processed C-stick, -1..1"),
    Field("cstick_y", P, "pre.cstick.y", "float32", CTL, INP, bounds=(-1.0, 1.0)),
    Field("trigger", P, "pre.triggers", "float32", CTL, INP, bounds=(0.0, 1.0),
          doc="processed analog trigger, 0..1 (the larger of L and R)"),
    Field("buttons", P, "pre.buttons", "uint32", CTL, INP, doc="processed button bitmask"),
    # The model reads the processed inputs above (what the game acts on); the physical ones are
    # kept for analysis.
    Field("buttons_physical", P, "pre.buttons_physical", "uint16", CTL, STORED,
          doc="physical button bitmask"),
    Field("trigger_l", P, "pre.triggers_physical.l", "float32", CTL, STORED),
    Field("trigger_r", P, "pre.triggers_physical.r", "float32", CTL, STORED),
    Field("raw_analog_x", P, "pre.raw_analog_x", "int8", CTL, STORED, since=(1, 2, 0)),
    Field("raw_analog_y", P, "pre.raw_analog_y", "int8", CTL, STORED, since=(3, 15, 0)),
)

ITEM_FIELDS: tuple[Field, ...] = (
    Field("item_id", I, "id", "uint32", N, KEY,
          doc="spawn id: stable for one item instance while it lives"),
    Field("type", I, "type", "uint16", K, PRED, vocab=ITEM_TYPE_VOCAB, since=(3, 0, 0)),
    Field("state", I, "state", "uint8", K, PRED, vocab=256, since=(3, 0, 0)),
    Field("owner", I, "owner", "int8", K, PRED, vocab=3, since=(3, 6, 0), port_ref=True,
          doc="port index 0..3 of the owner (-1 none); encoded as player 0, 1 or 2 = none"),
    Field("x", I, "position.x", "float32", C, PRED, scale=100.0, since=(3, 0, 0), mirror=True),
    Field("y", I, "position.y", "float32", C, PRED, scale=100.0, since=(3, 0, 0)),
    Field("vel_x", I, "velocity.x", "float32", C, PRED, scale=5.0, since=(3, 0, 0), mirror=True),
    Field("vel_y", I, "velocity.y", "float32", C, PRED, scale=5.0, since=(3, 0, 0)),
    Field("facing", I, "direction", "float32", B, PRED, since=(3, 0, 0), mirror=True),
    Field("damage", I, "damage", "uint16", C, PRED, scale=100.0, since=(3, 0, 0),
          doc="damage the item has taken"),
    Field("timer", I, "timer", "float32", C, PRED, scale=100.0, since=(3, 0, 0),
          doc="frames until the item expires"),
    Field("misc_0", I, "misc.0", "uint8", BITS, STORED, since=(3, 6, 0)),
    Field("misc_1", I, "misc.1", "uint8", BITS, STORED, since=(3, 6, 0)),
    Field("misc_2", I, "misc.2", "uint8", BITS, STORED, since=(3, 6, 0)),
    Field("misc_3", I, "misc.3", "uint8", BITS, STORED, since=(3, 6, 0)),
    Field("instance_id", I, "instance_id", "uint16", N, STORED, since=(3, 16, 0)),
)

ALL_FIELDS: tuple[Field, ...] = PLAYER_FIELDS + ITEM_FIELDS


def fields(table: Table, role: Role | None = None, kind: Kind | None = None) -> tuple[Field, ...]:
    """The fields of one table, optionally narrowed to a role and a kind, in declaration order."""
    return tuple(
        f
        for f in ALL_FIELDS
        if f.table is table and (role is None or f.role is role) and (kind is None or f.kind is kind)
    )


def field(table: Table, name: str) -> Field:
    for f in ALL_FIELDS:
        if f.table is table and f.name == name:
            return f
    raise KeyError(f"no field {name!r} in table {table.value}")


def _check_unique() -> None:
    seen: set[tuple[Table, str]] = set()
    for f in ALL_FIELDS:
        key = (f.table, f.name)
        if key in seen:
            raise ValueError(f"field {f.name} declared twice in {f.table.value}")
        seen.add(key)


_check_unique()

# Bumped by hand when a change is not captured by the field tables (for example a new encoding
# rule); the fingerprint changes by itself whenever a field is added, removed or altered.
SCHEMA_VERSION = 1


def _hash(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fingerprint() -> str:
    """A short stable hash of every field declaration (docs aside): stores and models made under
    another schema carry another fingerprint and are refused."""
    decl = [{k: v for k, v in asdict(f).items() if k != "doc"} for f in ALL_FIELDS]
    return _hash({"version": SCHEMA_VERSION, "fields": decl})


def storage_fingerprint() -> str:
    """What an ingested dataset depends on: the columns (name, table, source, dtype) only, so a
    change of encoding or role does not force re-reading every replay."""
    return _hash([(f.name, f.table.value, f.source, f.dtype) for f in ALL_FIELDS])
