"""Melee characters: internal ids, external (character-select) ids, names and drawing sizes.

Two numberings exist and Slippi replays use both:

* **internal** ids (0..32) are what the game uses in memory and what Slippi writes in every
  post-frame (`post.character`). Ice Climbers are two characters here: Popo (10, the leader) and
  Nana (11, the follower); Zelda (19) and Sheik (7) are separate ids and a transformation changes
  the post-frame id mid-game.
* **external** ids (0..32) are the character-select numbering that Slippi writes in the game-start
  block (`start.players[i].character`). Ice Climbers are one id (14); 32 is a lone "Popo".

Sources (read through the code search, not from memory):

* internal ids: libmelee `melee/enums.py` class `Character` ("Numeric values are 'internal'
  IDs", repo altf4/libmelee) for 0..26 and 29..32; py-slippi `slippi/id.py` class
  `InGameCharacter` (repo hohav/py-slippi, installed in the venv as py-slippi 1.6.2, ids taken from
  the SSBM Data Sheet) for all of 0..32, including Master Hand 27 and Crazy Hand 28 which libmelee
  omits. The two agree wherever both define an id.
* external ids and display names: slippi-js `src/melee/types.ts` enum `Character` and
  `src/common/melee/characters.json` (repo project-slippi/slippi-js), agreeing with py-slippi's
  `CSSCharacter`. NB: libmelee's `to_internal()` takes a *different* "external" numbering (the old
  character-select cursor order, Dr. Mario = 0), which is not the Slippi one used here.
* the internal<->external pairing is by character name, as py-slippi's
  `CSSCharacter.from_internal_id` does it.
* drawing sizes: see `Character.height` / `width` below.

Checked against real replays in tests/schema/test_game_facts.py: the start-block (external) id of
every player maps through `external_to_internal` to the post-frame (internal) id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUM_INTERNAL = 33  # internal ids 0..32
NUM_EXTERNAL = 33  # external ids 0..32 (slippi-js characters.json lists 0..32)

ICE_CLIMBERS_EXTERNAL = 14
POPO_INTERNAL = 10
NANA_INTERNAL = 11
ZELDA_INTERNAL = 19
SHEIK_INTERNAL = 7
ZELDA_EXTERNAL = 18
SHEIK_EXTERNAL = 19


@dataclass(frozen=True)
class Character:
    """One internal character id.

    `height` and `width` are an approximate body size in game units, for drawing only.

    * `height`: the depth below the ledge at which the character hangs (|y| while in CLIFF_WAIT on a
      ledge at y = 0), as tabulated in sherman5/MeleeModdingLibrary `src/melee_info.c`
      `_char_height` ("character height, measured as y-coordinate when hanging from ledge"). It is a
      proxy for standing height, not a hurtbox measurement. Sheik is not in that table: her value
      is the hang depth measured from the replay corpus (19.9). The non-playable characters
      (Master/Crazy Hand, wireframes, Giga Bowser, Sandbag) are rough guesses (`size_source`
      says so). The playable heights are checked against the corpus in the tests (within 15%).
    * `width`: NOT from any source: an eyeballed fraction of `height` (0.5 for upright humanoids,
      0.75 for stocky or four-legged bodies, 1.0 for round ones).
    """

    internal_id: int
    external_id: int
    name: str
    height: float
    width: float
    playable: bool = True
    size_source: str = "MeleeModdingLibrary _char_height; width = eyeballed fraction of height"


def _c(iid: int, ext: int, name: str, height: float, width_ratio: float, playable: bool = True,
       size_source: str | None = None) -> Character:
    return Character(
        internal_id=iid,
        external_id=ext,
        name=name,
        height=float(height),
        width=round(height * width_ratio, 1),
        playable=playable,
        size_source=size_source or Character.size_source,
    )


_GUESS = "rough guess (no source); width = eyeballed fraction of height"

# internal id, external id, name, height (MML _char_height), width ratio
CHARACTERS: tuple[Character, ...] = (
    _c(0, 8, "Mario", 12, 0.5),
    _c(1, 2, "Fox", 14, 0.5),
    _c(2, 0, "Captain Falcon", 23, 0.5),
    _c(3, 1, "Donkey Kong", 20, 0.75),
    _c(4, 4, "Kirby", 9, 1.0),
    _c(5, 5, "Bowser", 23, 0.75),
    _c(6, 6, "Link", 19, 0.5),
    _c(7, 19, "Sheik", 20, 0.5, size_source="hang depth measured from the replay corpus; width = "
       "eyeballed fraction of height"),
    _c(8, 11, "Ness", 11, 0.5),
    _c(9, 12, "Peach", 17, 0.5),
    _c(10, 14, "Popo", 12, 0.5),
    _c(11, 14, "Nana", 12, 0.5),
    _c(12, 13, "Pikachu", 10, 0.75),
    _c(13, 16, "Samus", 23, 0.5),
    _c(14, 17, "Yoshi", 13, 0.75),
    _c(15, 15, "Jigglypuff", 9, 1.0),
    _c(16, 10, "Mewtwo", 14, 0.5),
    _c(17, 7, "Luigi", 13, 0.5),
    _c(18, 9, "Marth", 24, 0.5),
    _c(19, 18, "Zelda", 19, 0.5),
    _c(20, 21, "Young Link", 15, 0.5),
    _c(21, 22, "Dr. Mario", 12, 0.5),
    _c(22, 20, "Falco", 17, 0.5),
    _c(23, 24, "Pichu", 6, 0.75),
    _c(24, 3, "Mr. Game & Watch", 16, 0.5),
    _c(25, 25, "Ganondorf", 26, 0.5),
    _c(26, 23, "Roy", 22, 0.5),
    _c(27, 26, "Master Hand", 30, 1.0, playable=False, size_source=_GUESS),
    _c(28, 30, "Crazy Hand", 30, 1.0, playable=False, size_source=_GUESS),
    _c(29, 27, "Wireframe (Male)", 23, 0.5, playable=False, size_source=_GUESS),
    _c(30, 28, "Wireframe (Female)", 19, 0.5, playable=False, size_source=_GUESS),
    _c(31, 29, "Giga Bowser", 40, 0.75, playable=False, size_source=_GUESS),
    _c(32, 31, "Sandbag", 12, 0.75, playable=False, size_source=_GUESS),
)

BY_INTERNAL: dict[int, Character] = {c.internal_id: c for c in CHARACTERS}

# External (character-select / game-start block) names, slippi-js src/common/melee/characters.json.
EXTERNAL_NAMES: dict[int, str] = {
    0: "Captain Falcon",
    1: "Donkey Kong",
    2: "Fox",
    3: "Mr. Game & Watch",
    4: "Kirby",
    5: "Bowser",
    6: "Link",
    7: "Luigi",
    8: "Mario",
    9: "Marth",
    10: "Mewtwo",
    11: "Ness",
    12: "Peach",
    13: "Pikachu",
    14: "Ice Climbers",
    15: "Jigglypuff",
    16: "Samus",
    17: "Yoshi",
    18: "Zelda",
    19: "Sheik",
    20: "Falco",
    21: "Young Link",
    22: "Dr. Mario",
    23: "Roy",
    24: "Pichu",
    25: "Ganondorf",
    26: "Master Hand",
    27: "Wireframe (Male)",
    28: "Wireframe (Female)",
    29: "Giga Bowser",
    30: "Crazy Hand",
    31: "Sandbag",
    32: "Popo",
}

# slippi-js characters.json "shortName" where it has one, plus common community spellings.
_ALIASES: dict[str, int] = {
    "falcon": 0, "cf": 0, "dk": 1, "gw": 3, "gnw": 3, "gameandwatch": 3, "mrgameandwatch": 3,
    "ics": 14, "ic": 14, "iceclimbers": 14, "puff": 15, "jiggs": 15, "ylink": 21, "yl": 21,
    "doc": 22, "drmario": 22, "ganon": 25, "pika": 13, "gigabowser": 29,
}

_EXTERNAL_TO_INTERNAL: dict[int, int] = {}
for _ch in CHARACTERS:
    if _ch.internal_id != NANA_INTERNAL:
        _EXTERNAL_TO_INTERNAL.setdefault(_ch.external_id, _ch.internal_id)
_EXTERNAL_TO_INTERNAL[32] = POPO_INTERNAL  # a lone Popo also plays as internal Popo
assert sorted(_EXTERNAL_TO_INTERNAL) == list(range(NUM_EXTERNAL))
assert sorted(BY_INTERNAL) == list(range(NUM_INTERNAL))


def external_to_internal(ext_id: int, follower: bool = False) -> int:
    """The internal (post-frame) id of a game-start (external) character id.

    Ice Climbers (external 14) are Popo (10) as leader and Nana (11) as `follower`. For any other
    character `follower` is ignored (only Ice Climbers have followers). Zelda and Sheik map to the
    character picked; the post-frame id changes when they transform.
    Raises KeyError for ids outside 0..32.
    """
    ext_id = int(ext_id)
    if ext_id == ICE_CLIMBERS_EXTERNAL and follower:
        return NANA_INTERNAL
    try:
        return _EXTERNAL_TO_INTERNAL[ext_id]
    except KeyError:
        raise KeyError(f"unknown external character id {ext_id}") from None


def internal_to_external(internal_id: int) -> int:
    """The external id of an internal id; Popo and Nana both give Ice Climbers (14).
    Raises KeyError for ids outside 0..32."""
    try:
        return BY_INTERNAL[int(internal_id)].external_id
    except KeyError:
        raise KeyError(f"unknown internal character id {internal_id}") from None


def character(internal_id: int) -> Character:
    """The `Character` record of an internal id (KeyError when unknown)."""
    try:
        return BY_INTERNAL[int(internal_id)]
    except KeyError:
        raise KeyError(f"unknown internal character id {internal_id}") from None


def name_of_internal(internal_id: int) -> str:
    """Display name of an internal id; 'Unknown character N' for ids outside 0..32."""
    ch = BY_INTERNAL.get(int(internal_id))
    return ch.name if ch is not None else f"Unknown character {int(internal_id)}"


def name_of_external(ext_id: int) -> str:
    """Display name of an external id; 'Unknown character N' for ids outside 0..32."""
    return EXTERNAL_NAMES.get(int(ext_id), f"Unknown character {int(ext_id)}")


def same_character(ext_id: int, internal_id: int) -> bool:
    """Whether a post-frame internal id is consistent with a game-start external id: equal after
    mapping, or the other half of a Zelda/Sheik pair, or Popo/Nana for Ice Climbers."""
    ext_id, internal_id = int(ext_id), int(internal_id)
    if ext_id in (ZELDA_EXTERNAL, SHEIK_EXTERNAL):
        return internal_id in (ZELDA_INTERNAL, SHEIK_INTERNAL)
    if ext_id == ICE_CLIMBERS_EXTERNAL:
        return internal_id in (POPO_INTERNAL, NANA_INTERNAL)
    return _EXTERNAL_TO_INTERNAL.get(ext_id) == internal_id


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_BY_NAME: dict[str, int] = {_norm(n): i for i, n in EXTERNAL_NAMES.items() if i != 32}
_BY_NAME.update(_ALIASES)


def external_character_id(text: str | int) -> int:
    """Parse a character given by a user (an external id number, a name or a common short name,
    case and punctuation ignored: 'Fox', 'captain falcon', 'ics', 'Dr. Mario', '2') into its
    external id. Raises KeyError with a readable message when it is not a character."""
    if isinstance(text, int):
        if text in EXTERNAL_NAMES:
            return text
        raise KeyError(f"unknown character id {text}")
    s = str(text).strip()
    if s.isdigit():
        return external_character_id(int(s))
    key = _norm(s)
    if key in _BY_NAME:
        return _BY_NAME[key]
    known = ", ".join(EXTERNAL_NAMES[i] for i in range(26))
    raise KeyError(f"unknown character {text!r}; known: {known}")


__all__ = [
    "BY_INTERNAL",
    "CHARACTERS",
    "Character",
    "EXTERNAL_NAMES",
    "ICE_CLIMBERS_EXTERNAL",
    "NANA_INTERNAL",
    "NUM_EXTERNAL",
    "NUM_INTERNAL",
    "POPO_INTERNAL",
    "SHEIK_EXTERNAL",
    "SHEIK_INTERNAL",
    "ZELDA_EXTERNAL",
    "ZELDA_INTERNAL",
    "character",
    "external_character_id",
    "external_to_internal",
    "internal_to_external",
    "name_of_external",
    "name_of_internal",
    "same_character",
]
