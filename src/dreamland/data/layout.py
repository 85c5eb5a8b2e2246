"""Which schema fields the training store keeps, in which array, as which dtype.

Derived from the schema's roles and kinds, so a field added there is packed, encoded and predicted
without another list to update. Values are kept in game units (the store is lossless for the
state; controller sticks and triggers are float16, within 5e-4 of the replay); normalisation
happens in `data.encoding` at batch time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamland.schema import Field, Kind, Role, Table, fields
from dreamland.schema.controller import BUTTON_BITS

MODEL_ROLES = (Role.PREDICTED, Role.CONSTANT, Role.RULE)
PORT_NONE = 2  # a port reference to neither player (nobody, or a third port)
GROUND_NONE = 255  # stored value for "not on any ground" (raw 65535)
ALL_BUTTONS = sum(BUTTON_BITS.values())


def _state_fields(table: Table) -> list[Field]:
    return [f for f in fields(table) if f.role in MODEL_ROLES]


def _real(fs: list[Field]) -> list[Field]:
    return [f for f in fs if f.kind in (Kind.CONTINUOUS, Kind.COUNTER)]


def _ids(fs: list[Field], wide: bool) -> list[Field]:
    picked = [f for f in fs if f.kind in (Kind.CATEGORICAL, Kind.BINARY)]
    return [f for f in picked if ((f.vocab or 2) > 256) == wide]


@dataclass(frozen=True)
class Group:
    """One memory-mapped array of the store: the same dtype for several fields."""

    name: str
    dtype: str
    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def index(self, name: str) -> int:
        return self.names.index(name)


PLAYER_STATE = _state_fields(Table.PLAYER)
ITEM_STATE = _state_fields(Table.ITEM)
CONTROLLER = [f for f in fields(Table.PLAYER, role=Role.INPUT)]

# Per character (leaders, and followers in their own arrays), per frame: (frames, 2 players, F).
PLAYER_GROUPS = (
    Group("real", "float32", tuple(_real(PLAYER_STATE))),
    Group("small", "uint8", tuple(_ids(PLAYER_STATE, wide=False))),
    Group("wide", "uint16", tuple(_ids(PLAYER_STATE, wide=True))),
)
# Per player, per frame: (frames, 2, F).
CONTROLLER_GROUPS = (
    Group("sticks", "float16", tuple(f for f in CONTROLLER if f.dtype.startswith("float"))),
    Group("buttons", "uint16", tuple(f for f in CONTROLLER if not f.dtype.startswith("float"))),
)
# The character fields in the order a model slot encodes them (continuous and counters, then
# categorical, then binary: data.encoding): the columns of a window's `present` flags. Older
# Slippi versions lack some fields (peppi gives None, the store keeps 0); the flags tell the model
# that a field is absent rather than zero, and the loss skips targets that were never recorded.
PRESENT_FIELDS = tuple(
    f.name for kinds in ((Kind.CONTINUOUS, Kind.COUNTER), (Kind.CATEGORICAL,), (Kind.BINARY,))
    for g in PLAYER_GROUPS for f in g.fields if f.kind in kinds
)
# Per item record: (records, F). The slot is assigned at pack time (data.items).
ITEM_GROUPS = (
    Group("real", "float32", tuple(_real(ITEM_STATE))),
    Group("small", "uint8", tuple(_ids(ITEM_STATE, wide=False))),
)


def store_value(f: Field, values: np.ndarray, ports: tuple[int, int] | None = None) -> np.ndarray:
    """Raw replay values (nulls already 0) -> stored values, by the field's kind."""
    if f.port_ref:
        assert ports is not None
        out = np.full(values.shape, PORT_NONE, np.uint8)
        out[values == ports[0] - 1] = 0
        out[values == ports[1] - 1] = 1
        return out
    if f.kind is Kind.BINARY:
        return (values > 0).astype(np.uint8)
    if f.kind is Kind.CATEGORICAL:
        if f.name == "ground":
            return np.where(values >= GROUND_NONE, GROUND_NONE, values).astype(np.uint8)
        limit = np.iinfo(np.uint16 if (f.vocab or 0) > 256 else np.uint8).max
        return np.clip(values, 0, limit)
    out = values.astype(np.float32, copy=False)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)  # misc_as is NaN in some states


def store_controller(f: Field, values: np.ndarray) -> np.ndarray:
    """Controller inputs: sticks and trigger as float16; buttons reduced to the twelve real ones
    (the processed mask also carries analog-trigger flags that the buttons already express)."""
    if f.dtype.startswith("float"):
        return np.nan_to_num(values.astype(np.float32)).astype(np.float16)
    return (values.astype(np.uint32) & ALL_BUTTONS).astype(np.uint16)


def present_flags(missing: list) -> np.ndarray:
    """Per game, the names of its fields that were never recorded (games.parquet
    `missing_fields`) -> (games, len(PRESENT_FIELDS)) uint8, 1 where the field was recorded."""
    col = {name: j for j, name in enumerate(PRESENT_FIELDS)}
    out = np.ones((len(missing), len(PRESENT_FIELDS)), np.uint8)
    for g, names in enumerate(missing):
        for name in names or ():
            if name in col:
                out[g, col[name]] = 0
    return out


def describe() -> dict:
    """The layout as JSON, written into every store so a reader can check it was built the same."""
    def g(groups):
        return {x.name: {"dtype": x.dtype, "fields": list(x.names)} for x in groups}

    return {"player": g(PLAYER_GROUPS), "controller": g(CONTROLLER_GROUPS), "item": g(ITEM_GROUPS)}
