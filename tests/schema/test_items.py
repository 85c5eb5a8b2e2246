"""The item type table (`schema.items`) against its second source, the replays and the store.

Every item type id in ../shared/replays (read with the project's reader, `replay.parse.read_raw`)
must have a name or be listed as unknown, like the action states in test_special_actions.py; an item
a character's move makes must belong to a player of that character when it appears, which catches a
list written one id off; lasers must move. The ids of a packed store (data/all-store, or
DREAMLAND_STORE) are checked the same way when one is there.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import numpy as np
import pytest

from dreamland.schema import characters as C
from dreamland.schema import items as I
from dreamland.schema import specials as SP

ROOT = Path(__file__).resolve().parents[2]

# altf4/libmelee melee/enums.py class ProjectileType (commit 0a43101c329b2db16af91818ac1a165fff2ea772),
# copied by hand: id -> its name. Each must be named here too, with the same thing in the name.
LIBMELEE = {
    0x06: "BOB_OMB", 0x07: "MR_SATURN", 0x0C: "BEAMSWORD", 0x30: "MARIO_FIREBALL", 0x31: "DR_MARIO_CAPSULE",
    0x36: "FOX_LASER", 0x37: "FALCO_LASER", 0x3A: "LINK_BOMB", 0x3C: "LINK_BOOMERANG", 0x41: "FIRE_ARROW",
    0x42: "PK_FIRE", 0x4E: "PK_FLASH_EXPLOSION", 0x4F: "NEEDLE_THROWN", 0x51: "PIKACHU_THUNDER",
    0x59: "PIKACHU_THUNDERJOLT_1", 0x5B: "PICHU_THUNDERJOLT_1", 0x5E: "SAMUS_CHARGE_BEAM",
    0x5F: "SAMUS_MISSLE", 0x63: "TURNIP", 0x64: "BOWSER_FLAME", 0x69: "LUIGI_FIRE", 0x6A: "ICE_BLOCK",
    0x6D: "ZELDA_FIRE_EXPLOSION", 0x70: "SHADOWBALL", 0x7A: "SAUSAGE", 0x88: "KIRBY_FOX_LASER",
    0x98: "KIRBY_SHEIK_NEEDLE_THROWN", 0x99: "KIRBY_SHEIK_NEEDLE_GROUND", 0x9B: "KIRBY_SAUSAGE",
}
# what of libmelee's name ours must hold, where the two spell it differently (else its name less
# KIRBY_: ours are KIRBY_COPY_...)
SAME_THING = {0x0C: "SWORD", 0x30: "FIRE", 0x31: "PILL", 0x41: "FIRE_ARROW", 0x4F: "NEEDLE_THROWN",
              0x59: "THUNDER_JOLT_1", 0x5B: "THUNDER_JOLT_1", 0x5E: "CHARGE", 0x5F: "MISSILE",
              0x6A: "ICE", 0x70: "SHADOW_BALL"}


def test_the_table_and_its_lookups():
    assert I.item_name(54) == "FOX_LASER" and I.item_kind(54) == "laser"
    assert I.item_name(99) == "PEACH_TURNIP" and I.item_kind(99) == "thrown"
    assert I.item_name(210) == "SHYGUY" and I.item_kind(210) == "stage"
    assert I.item_name(0x34) == "ITEM_0x34" and I.item_kind(0x34) == "unknown"
    assert all(t.kind in I.KINDS and t.kind != "unknown" for t in I.ITEM_TYPES.values())
    assert len({t.name for t in I.ITEM_TYPES.values()}) == len(I.ITEM_TYPES)
    assert all(i not in I.ITEM_TYPES for i in I.UNKNOWN_SEEN)
    assert set(I.RENAMED) <= set(I.ITEM_TYPES)
    assert all(I.item_type(i).characters == (SP.KIRBY,) for i in range(130, 156)
               if i in I.ITEM_TYPES)


def test_libmelee_names_the_same_things():
    for i, theirs in LIBMELEE.items():
        ours = I.item_name(i)
        assert I.item_type(i) is not None, (hex(i), theirs)
        assert SAME_THING.get(i, theirs.replace("KIRBY_", "")) in ours, (hex(i), theirs, ours)


def _game_items(path: Path, seen, owners, moving) -> None:
    """Adds one replay's item records: type counts, the owner's internal character at each instance's
    first record, and how many records move."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from dreamland.replay.parse import ReplayError, read_raw

    try:
        frames = read_raw(str(path)).frames
    except ReplayError:
        return
    if frames is None or frames.type.get_field_index("item") < 0:
        return
    if isinstance(frames, pa.ChunkedArray):
        frames = frames.combine_chunks()
    lists = frames.field("item")
    rec = lists.flatten()
    if len(rec) == 0:
        return
    row = pc.list_parent_indices(lists).to_numpy()
    kind = rec.field("type").to_numpy(zero_copy_only=False).astype(int)
    speed = np.hypot(rec.field("velocity").field("x").to_numpy(zero_copy_only=False),
                     rec.field("velocity").field("y").to_numpy(zero_copy_only=False))
    for t, m in zip(kind.tolist(), (speed > 0.01).tolist()):
        seen[t] += 1
        moving[t][int(m)] += 1
    if rec.type.get_field_index("owner") < 0:
        return
    owner = rec.field("owner").to_numpy(zero_copy_only=False).astype(int)
    ports = frames.field("ports")
    _, first = np.unique(rec.field("id").to_numpy(zero_copy_only=False), return_index=True)
    for k in first.tolist():
        name = f"P{owner[k] + 1}"
        if owner[k] < 0 or ports.type.get_field_index(name) < 0:
            continue
        character = ports.field(name).field("leader").field("post").field("character")[int(row[k])].as_py()
        owners[int(kind[k])][character] += 1


@pytest.fixture(scope="module")
def corpus_items(replays_dir):
    """({type: records}, {type: Counter(owner's internal character at spawn)}, {type: [still, moving]})."""
    seen: dict = collections.Counter()
    owners: dict = collections.defaultdict(collections.Counter)
    moving: dict = collections.defaultdict(lambda: [0, 0])
    for path in sorted(replays_dir.glob("*.slp")):
        _game_items(path, seen, owners, moving)
    if len(seen) < 20:
        pytest.skip(f"only {len(seen)} item types in the corpus")
    return seen, owners, moving


def test_every_item_type_seen_has_a_name_or_is_listed_unknown(corpus_items):
    seen, _, _ = corpus_items
    missing = sorted(hex(t) for t in seen if t not in I.ITEM_TYPES and not I.is_listed_unknown(t))
    assert not missing, missing
    assert sum(t in I.ITEM_TYPES for t in seen) >= 0.9 * len(seen)
    listed = set(I.UNKNOWN_SEEN)
    assert len(listed & set(seen)) >= 0.5 * len(listed)  # a list of real ids, not a blanket


def test_a_moves_item_belongs_to_that_character(corpus_items):
    _, owners, _ = corpus_items
    checked, wrong = 0, []
    for t, counts in sorted(owners.items()):
        kind = I.item_type(t)
        if kind is None or not kind.characters:
            continue
        mine = sum(n for ch, n in counts.items() if ch in kind.characters)
        checked += 1
        if mine < 0.9 * sum(counts.values()):
            wrong.append((kind.name, {C.name_of_internal(ch): n for ch, n in counts.items()}))
    assert not wrong, wrong
    assert checked >= 40, checked  # 60 character items appeared when last counted


def test_lasers_move(corpus_items):
    _, _, moving = corpus_items
    lasers = [t for t in moving if I.item_kind(t) == "laser"]
    assert {54, 55} <= set(lasers)
    for t in lasers:
        still, moves = moving[t]
        assert moves >= 0.95 * (still + moves), (I.item_name(t), still, moves)


def _store_path() -> Path:
    return Path(os.environ.get("DREAMLAND_STORE") or ROOT / "data" / "all-store")


def test_the_stores_item_types_have_a_name_or_are_listed_unknown():
    from dreamland.data import layout
    from dreamland.data.store import Store, StoreError

    path = _store_path()
    if not (path / "store.json").is_file():
        pytest.skip(f"no packed store at {path} (set DREAMLAND_STORE)")
    try:
        store = Store(path)
    except StoreError as exc:
        pytest.skip(str(exc))
    small = layout.ITEM_GROUPS[1]
    types = np.unique(np.asarray(store[f"item_{small.name}"][:, small.index("type")])).tolist()
    missing = [hex(t) for t in types if t not in I.ITEM_TYPES and not I.is_listed_unknown(t)]
    assert not missing, missing
