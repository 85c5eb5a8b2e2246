"""The character-specific action names (`schema.specials`) against the real replays.

Every action id a character takes in ../shared/replays must have a name or be listed as unknown,
and a name that says where the character is (..._AIR, ..._GROUND, ..._LANDING) must agree with
the replays' own airborne flag: a list written in the wrong order fails here.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest

from dreamland.schema import actions as A
from dreamland.schema import characters as C
from dreamland.schema import specials as SP

MIN_FRAMES = 20  # a state seen fewer times says too little about where it happens
AIR_SHARE = 0.8  # a named AIR state is airborne in at least this share of its frames (and GROUND at most 1 - it)


def _column(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


def _count(path: Path, seen: dict, airborne: dict) -> None:
    import peppi_py

    try:
        game = peppi_py.read_slippi(str(path))
    except KeyboardInterrupt:
        raise
    except BaseException:  # peppi raises pyo3 PanicException (a BaseException) on bad files
        return
    for port in game.frames.ports:
        for data in (port.leader, port.follower):
            if data is None:
                continue
            ch, st = _column(data.post.character), _column(data.post.state)
            air = None if data.post.airborne is None else _column(data.post.airborne)
            keep = ~np.isnan(ch) & ~np.isnan(st) & (st >= A.FIRST_SPECIAL_ACTION)
            for k in np.flatnonzero(keep):
                key = (int(ch[k]), int(st[k]))
                seen[key] += 1
                if air is not None and not np.isnan(air[k]):
                    airborne[key][int(air[k] != 0)] += 1


@pytest.fixture(scope="module")
def special_states(replays_dir):
    """{(internal character, action id): frames} and {(..): [grounded, airborne] frames}."""
    seen: dict = collections.Counter()
    airborne: dict = collections.defaultdict(lambda: [0, 0])
    for path in sorted(replays_dir.glob("*.slp")):
        _count(path, seen, airborne)
    if len(seen) < 100:
        pytest.skip(f"only {len(seen)} character-specific states in the corpus")
    return seen, airborne


def test_every_special_state_seen_has_a_name_or_is_listed_unknown(special_states):
    seen, _ = special_states
    missing = sorted((C.name_of_internal(ch), a, f"0x{a:X}") for ch, a in seen
                     if SP.special_name(a, ch) is None and not SP.is_listed_unknown(a, ch))
    assert not missing, missing
    named = sum(1 for ch, a in seen if SP.special_name(a, ch) is not None)
    assert named >= len(seen) // 2, (named, len(seen))


def test_unknown_lists_hold_only_unnamed_states_that_occur(special_states):
    seen, _ = special_states
    for ch, ids in SP.UNKNOWN_SEEN.items():
        for a in ids:
            assert SP.special_name(a, ch) is None, (C.name_of_internal(ch), a)
    listed = {(ch, a) for ch, ids in SP.UNKNOWN_SEEN.items() for a in ids}
    assert len(listed & set(seen)) >= 0.5 * len(listed)  # a list of real states, not a blanket


def _where(name: str) -> str | None:
    """'air' or 'ground' from the last of AIR / GROUND / LANDING in the name, else None."""
    for token in reversed(name.split("_")):
        if token == "AIR":
            return "air"
        if token in ("GROUND", "LANDING"):
            return "ground"
    return None


def test_named_air_and_ground_states_match_the_airborne_flag(special_states):
    _, airborne = special_states
    checked, wrong = 0, []
    for (ch, a), (ground, air) in sorted(airborne.items()):
        name = SP.special_name(a, ch)
        where = _where(name) if name else None
        if where is None or ground + air < MIN_FRAMES or a in SP.LEAVES_GROUND.get(ch, ()):
            continue
        share = air / (ground + air)
        checked += 1
        if (where == "air" and share < AIR_SHARE) or (where == "ground" and share > 1 - AIR_SHARE):
            wrong.append((C.name_of_internal(ch), a, name, round(share, 2)))
    assert not wrong, wrong
    assert checked >= 120, checked


def test_names_differ_by_character():
    fox, falco, marth = (C.external_to_internal(C.external_character_id(n)) for n in ("fox", "falco", "marth"))
    assert A.action_name(0x15E, fox) == "FOX_ILLUSION_AIR_START"
    assert A.action_name(0x15E, falco) == "FALCO_PHANTASM_AIR_START"
    assert A.action_name(0x15E, marth) == "DANCING_BLADE_2_UP_GROUND"
    assert A.action_name(0x168, fox) == "REFLECTOR_GROUND_START"
    assert A.action_name(0x15E) == "SPECIAL_0x15E"  # no character: generic
    assert A.action_name(0x180, C.external_to_internal(C.external_character_id("kirby"))) == "SPECIAL_0x180"
    assert A.action_name(14, fox) == "STANDING"  # common states do not depend on the character


def test_play_state_names_specials_by_character():
    from dreamland.play.state import PlayerState

    p = PlayerState(0, True, {"action": 0x168, "character": 1})
    assert p.action_name == "REFLECTOR_GROUND_START"
