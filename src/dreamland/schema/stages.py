"""Melee stages: ids, names, and the geometry of the six tournament-legal stages.

Stage ids
---------
Three numberings exist; this module keys everything by the **external** id.

* **external** id: what Slippi writes in the game-start block (`start.stage`). Ids and names are
  slippi-js `src/common/melee/stages.json` and `src/melee/types.ts` enum `Stage`
  (repo project-slippi/slippi-js); py-slippi `slippi/id.py` `Stage` agrees for 2..32.
* **internal** id (`StageInfo.internal_id`): libmelee's numbering, libmelee `melee/enums.py`
  class `Stage` (FINAL_DESTINATION 0x19 = 25, BATTLEFIELD 0x18 = 24, POKEMON_STADIUM 0x12 = 18,
  DREAMLAND 0x1A = 26, FOUNTAIN_OF_DREAMS 0x8, YOSHIS_STORY 0x6) with `to_internal_stage()`
  giving the external->internal pairs (0x03 PS, 0x08 YS, 0x02 FoD, 0x1F BF, 0x20 FD, 0x1C DL).
  libmelee defines it for these six stages only, so `internal_id` is None for the others.
  Verification note: this is *not* the game's own `InternalStageId` (below); libmelee-based
  projects (slippi-ai etc.) use it, which is why it is the "internal" id here.
* **grkind** id (`StageInfo.grkind_id`): the game's `InternalStageId` / `GrKind` enum from the
  decompilation (repo doldecomp/melee, `src/melee/gr/forward.h` / `gr/types.h`, and forks that
  carry the full list with hex comments: 0x1C OLDPUPUPU (Dream Land), 0x24 BATTLE, 0x25 LAST). E.g.
  Yoshi's Story is STORY = 10, Fountain of Dreams IZUMI = 12, Pokemon Stadium PSTADIUM = 16.
  Icetop (external 26) has no named entry there, so its grkind is None.

Geometry (legal stages only, game units, +y up)
-----------------------------------------------
* blast zones: libmelee `melee/stages.py` `BLASTZONES` (left, right, top, bottom), which cites
  Magus420's measurements on smashboards; the exact values the task fixes.
* main stage: `ground_x` = libmelee `EDGE_GROUND_POSITION` (x when teetering on the edge; the left
  edge is its negative), `ledge_x` = libmelee `EDGE_POSITION` (x when hanging on the ledge; in
  practice it varies by ~1-2 units with the character). `ground_y` (the height of the floor at the
  edge) is 0 except on Yoshi's Story (-3.5: the main stage slopes down outside x = +-39) and
  Fountain of Dreams (0.62 at the outer part, 0 between x = +-51); both taken from the stage
  outline in frankborden/slippilab `src/client/components/app/Viewer/Stage.tsx`. The replay
  corpus confirms the teeter positions (85.57, 0) FD, (68.4, 0) BF, (77.27, 0) DL, (56, -3.5) YS.
* platforms: libmelee `melee/stages.py` `top_platform_position` / `left_platform_position` /
  `right_platform_position` (height, left x, right x). libmelee has no Fountain of Dreams side
  platforms (`#TODO`); they come from slippilab's Stage.tsx, which draws them at their heights at
  the start of a game, left 16.125 and right 22.125, x from 21 to 49.5. They then move up and down
  during the game (`Platform.moves`). The corpus agrees: FoD entry positions are 4.875 above
  16.125 and 22.125.
* spawn points: NOT from a published table. They are the entry positions at the first frame
  (frame -123) measured in the replay corpus (`../shared/replays`), slot k = the k-th spawn
  (x, y, facing, observed). In 1v1 replays the lower port is in slot 1 and the higher in slot 2
  (Slippi's neutral spawn), with a few older exceptions; with 3-4 players the slot assignment
  depends on the ports present and on teams, so treat slots 3-4 as "the other spawn points".
  `observed=False` marks slots not seen in the corpus: those are guesses by analogy (platform
  height + the entry offset seen on the other slots) and are approximate.
* `symmetric`: whether the geometry is left-right mirror symmetric. Only Battlefield and Final
  Destination are. Dream Land's side platforms differ slightly (30.142 vs 30.243 high, and in x),
  Yoshi's Story's blast zones are not symmetric (-175.7 vs 173.6), Fountain of Dreams' side
  platforms move independently, Pokemon Stadium transforms. Randall (Yoshi's Story), Whispy's wind
  (Dream Land) and the Stadium transformations are not modelled here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class StageInfo:
    external_id: int
    name: str
    internal_id: int | None  # libmelee numbering; None where libmelee has none
    grkind_id: int | None  # the game's InternalStageId (decompilation); None where unnamed


def _s(ext: int, name: str, grkind: int | None, internal: int | None = None) -> StageInfo:
    return StageInfo(external_id=ext, name=name, internal_id=internal, grkind_id=grkind)


# (external id, slippi-js name, grkind, libmelee internal id)
_STAGE_LIST: tuple[StageInfo, ...] = (
    _s(2, "Fountain of Dreams", 12, 8),
    _s(3, "Pokémon Stadium", 16, 18),
    _s(4, "Princess Peach's Castle", 2),
    _s(5, "Kongo Jungle", 4),
    _s(6, "Brinstar", 8),
    _s(7, "Corneria", 14),
    _s(8, "Yoshi's Story", 10, 6),
    _s(9, "Onett", 20),
    _s(10, "Mute City", 18),
    _s(11, "Rainbow Cruise", 3),
    _s(12, "Jungle Japes", 5),
    _s(13, "Great Bay", 6),
    _s(14, "Hyrule Temple", 7),
    _s(15, "Brinstar Depths", 9),
    _s(16, "Yoshi's Island", 11),
    _s(17, "Green Greens", 13),
    _s(18, "Fourside", 21),
    _s(19, "Mushroom Kingdom I", 24),
    _s(20, "Mushroom Kingdom II", 25),
    _s(22, "Venom", 15),
    _s(23, "Poké Floats", 17),
    _s(24, "Big Blue", 19),
    _s(25, "Icicle Mountain", 22),
    _s(26, "Icetop", None),
    _s(27, "Flat Zone", 27),
    _s(28, "Dream Land N64", 28, 26),
    _s(29, "Yoshi's Island N64", 29),
    _s(30, "Kongo Jungle N64", 30),
    _s(31, "Battlefield", 36, 24),
    _s(32, "Final Destination", 37, 25),
    # Target tests: external 33..58 and grkind TMARIO (40)..TGANON (65) list the characters in
    # the same order, so grkind = external + 7.
    *(
        _s(ext, f"Target Test ({who})", ext + 7)
        for ext, who in enumerate(
            (
                "Mario", "Captain Falcon", "Young Link", "Donkey Kong", "Dr. Mario", "Falco",
                "Fox", "Ice Climbers", "Kirby", "Bowser", "Link", "Luigi", "Marth", "Mewtwo",
                "Ness", "Peach", "Pichu", "Pikachu", "Jigglypuff", "Samus", "Sheik", "Yoshi",
                "Zelda", "Mr. Game & Watch", "Roy", "Ganondorf",
            ),
            start=33,
        )
    ),
    _s(84, "Home-Run Contest", 0x43),
)

STAGES: dict[int, StageInfo] = {s.external_id: s for s in _STAGE_LIST}

FOUNTAIN_OF_DREAMS = 2
POKEMON_STADIUM = 3
YOSHIS_STORY = 8
DREAM_LAND = 28
BATTLEFIELD = 31
FINAL_DESTINATION = 32

LEGAL_STAGES_EXTERNAL: frozenset[int] = frozenset(
    {FOUNTAIN_OF_DREAMS, POKEMON_STADIUM, YOSHIS_STORY, DREAM_LAND, BATTLEFIELD, FINAL_DESTINATION}
)

_EXT_TO_INTERNAL = {s.external_id: s.internal_id for s in _STAGE_LIST if s.internal_id is not None}
_INTERNAL_TO_EXT = {v: k for k, v in _EXT_TO_INTERNAL.items()}
_EXT_TO_GRKIND = {s.external_id: s.grkind_id for s in _STAGE_LIST if s.grkind_id is not None}
_GRKIND_TO_EXT = {v: k for k, v in _EXT_TO_GRKIND.items()}
assert len(_GRKIND_TO_EXT) == len(_EXT_TO_GRKIND)


def is_legal(ext_id: int) -> bool:
    """Whether an external stage id is one of the six tournament-legal stages."""
    return int(ext_id) in LEGAL_STAGES_EXTERNAL


def external_to_internal_stage(ext_id: int) -> int:
    """libmelee's internal id of an external stage id (the six legal stages only; KeyError else)."""
    try:
        return _EXT_TO_INTERNAL[int(ext_id)]
    except KeyError:
        raise KeyError(f"no libmelee internal id for external stage {ext_id}") from None


def internal_to_external_stage(internal_id: int) -> int:
    """The external id of a libmelee internal stage id (KeyError when unknown)."""
    try:
        return _INTERNAL_TO_EXT[int(internal_id)]
    except KeyError:
        raise KeyError(f"unknown libmelee internal stage id {internal_id}") from None


def external_to_grkind(ext_id: int) -> int:
    """The game's InternalStageId (GrKind) of an external stage id (KeyError when unknown)."""
    try:
        return _EXT_TO_GRKIND[int(ext_id)]
    except KeyError:
        raise KeyError(f"no grkind id known for external stage {ext_id}") from None


def grkind_to_external(grkind_id: int) -> int:
    """The external id of a GrKind id (KeyError when unknown)."""
    try:
        return _GRKIND_TO_EXT[int(grkind_id)]
    except KeyError:
        raise KeyError(f"unknown grkind stage id {grkind_id}") from None


def stage_name(ext_id: int) -> str:
    """Display name of an external stage id; 'Unknown stage N' when not in stages.json."""
    info = STAGES.get(int(ext_id))
    return info.name if info is not None else f"Unknown stage {int(ext_id)}"


# ---------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class Platform:
    left: float
    right: float
    y: float
    moves: bool = False  # True for Fountain of Dreams' side platforms (y is the start height)


@dataclass(frozen=True)
class Spawn:
    x: float
    y: float
    facing: int  # +1 facing right, -1 facing left
    observed: bool  # seen in the replay corpus (False: approximate guess)


@dataclass(frozen=True)
class StageGeometry:
    external_id: int
    name: str
    blast_left: float
    blast_right: float
    blast_top: float
    blast_bottom: float
    ground_x: float  # the main stage spans [-ground_x, ground_x]
    ground_y: float  # floor height at the edges
    ledge_x: float  # x of a character hanging on the right ledge (left: -ledge_x)
    platforms: tuple[Platform, ...]
    spawns: tuple[Spawn, ...]  # slots 1..4
    symmetric: bool
    notes: str = ""

    @property
    def blast_zones(self) -> tuple[float, float, float, float]:
        """(left, right, top, bottom), libmelee's BLASTZONES order."""
        return (self.blast_left, self.blast_right, self.blast_top, self.blast_bottom)

    @property
    def ground_left(self) -> float:
        return -self.ground_x

    @property
    def ground_right(self) -> float:
        return self.ground_x

    def spawn(self, port: int) -> Spawn:
        """Spawn slot for port 1..4 (see the module docstring for how slots relate to ports)."""
        if not 1 <= port <= 4:
            raise ValueError(f"port must be 1..4, got {port}")
        return self.spawns[port - 1]


_GEOMETRY: dict[int, StageGeometry] = {
    BATTLEFIELD: StageGeometry(
        external_id=BATTLEFIELD,
        name="Battlefield",
        blast_left=-224.0, blast_right=224.0, blast_top=200.0, blast_bottom=-108.8,
        ground_x=68.4000015259, ground_y=0.0, ledge_x=71.3078536987,
        platforms=(
            Platform(-57.60000228881836, -20.0, 27.20009994506836),
            Platform(20.0, 57.60000228881836, 27.20009994506836),
            Platform(-18.80000114440918, 18.80000114440918, 54.40010070800781),
        ),
        spawns=(
            Spawn(-38.8, 35.2, 1, True),
            Spawn(38.8, 35.2, -1, True),
            Spawn(0.0, 62.4, 1, True),  # position observed; facing seen both ways
            Spawn(0.0, 8.0, 1, True),
        ),
        symmetric=True,
    ),
    FINAL_DESTINATION: StageGeometry(
        external_id=FINAL_DESTINATION,
        name="Final Destination",
        blast_left=-246.0, blast_right=246.0, blast_top=188.0, blast_bottom=-140.0,
        ground_x=85.5656967163, ground_y=0.0, ledge_x=88.4735488892,
        platforms=(),
        spawns=(
            Spawn(-60.0, 10.0, 1, True),
            Spawn(60.0, 10.0, -1, True),
            Spawn(-20.0, 10.0, 1, True),
            Spawn(20.0, 10.0, -1, True),
        ),
        symmetric=True,
    ),
    DREAM_LAND: StageGeometry(
        external_id=DREAM_LAND,
        name="Dream Land N64",
        blast_left=-255.0, blast_right=255.0, blast_top=250.0, blast_bottom=-123.0,
        ground_x=77.2713012695, ground_y=0.0, ledge_x=80.1791534424,
        platforms=(
            Platform(-61.39289855957031, -31.725400924682617, 30.14219856262207),
            Platform(31.70359992980957, 63.074501037597656, 30.242599487304688),
            Platform(-19.01810073852539, 19.017099380493164, 51.42539978027344),
        ),
        spawns=(
            Spawn(-46.6, 37.2, 1, True),
            Spawn(47.4, 37.3, -1, True),
            Spawn(0.0, 58.4, 1, False),  # guess: top platform + ~7
            Spawn(0.0, 7.0, -1, True),  # seen (0, 7.0) for some slot; slot assignment unverified
        ),
        symmetric=False,
        notes="side platforms differ slightly in height and x; Whispy's wind not modelled",
    ),
    FOUNTAIN_OF_DREAMS: StageGeometry(
        external_id=FOUNTAIN_OF_DREAMS,
        name="Fountain of Dreams",
        blast_left=-198.75, blast_right=198.75, blast_top=202.5, blast_bottom=-146.25,
        ground_x=63.3475494385, ground_y=0.62, ledge_x=66.2554016113,
        platforms=(
            Platform(-49.5, -21.0, 16.125, moves=True),
            Platform(21.0, 49.5, 22.125, moves=True),
            Platform(-14.25, 14.25, 42.750099182128906),
        ),
        spawns=(
            Spawn(-41.25, 21.0, 1, True),
            Spawn(41.25, 27.0, -1, True),
            Spawn(0.0, 47.625, 1, False),  # guess: top platform + 4.875
            Spawn(0.0, 4.875, -1, False),  # guess: ground + 4.875
        ),
        symmetric=False,
        notes="side platforms move; heights given are those at the start of a game (slippilab)",
    ),
    POKEMON_STADIUM: StageGeometry(
        external_id=POKEMON_STADIUM,
        name="Pokémon Stadium",
        blast_left=-230.0, blast_right=230.0, blast_top=180.0, blast_bottom=-111.0,
        ground_x=87.75, ground_y=0.0, ledge_x=90.657852,
        platforms=(
            Platform(-55.0, -25.0, 25.000099182128906),
            Platform(25.0, 55.0, 25.000099182128906),
        ),
        spawns=(
            Spawn(-40.0, 32.0, 1, True),
            Spawn(40.0, 32.0, -1, True),
            Spawn(-20.0, 7.0, 1, False),  # guess
            Spawn(20.0, 7.0, -1, False),  # guess
        ),
        symmetric=False,
        notes="geometry of the neutral form; the stage transforms during play",
    ),
    YOSHIS_STORY: StageGeometry(
        external_id=YOSHIS_STORY,
        name="Yoshi's Story",
        blast_left=-175.7, blast_right=173.6, blast_top=168.0, blast_bottom=-91.0,
        ground_x=56.0, ground_y=-3.5, ledge_x=58.907848,
        platforms=(
            Platform(-59.5, -28.0, 23.450098037719727),
            Platform(28.0, 59.5, 23.450098037719727),
            Platform(-15.75, 15.75, 42.000099182128906),
        ),
        spawns=(
            Spawn(-42.0, 26.6, 1, True),
            Spawn(42.0, 28.0, -1, True),
            Spawn(0.0, 46.9, 1, True),
            Spawn(0.0, 4.9, 1, True),
        ),
        symmetric=False,
        notes="blast zones asymmetric; floor is y=0 between x=+-39 and slopes to -3.5 at the "
        "edges; side platforms overhang the main stage; Randall not modelled",
    ),
}

assert frozenset(_GEOMETRY) == LEGAL_STAGES_EXTERNAL


def geometry(stage_id_external: int) -> StageGeometry:
    """Geometry of a legal stage by external id (KeyError for the other stages)."""
    try:
        return _GEOMETRY[int(stage_id_external)]
    except KeyError:
        raise KeyError(
            f"no geometry for stage {stage_id_external} ({stage_name(int(stage_id_external))}); "
            "only the six legal stages have one"
        ) from None


def _norm(text: str) -> str:
    text = text.lower().replace("é", "e")
    return re.sub(r"[^a-z0-9]", "", text)


_BY_NAME: dict[str, int] = {_norm(s.name): s.external_id for s in _STAGE_LIST}
_BY_NAME.update(
    {
        "bf": BATTLEFIELD, "fd": FINAL_DESTINATION, "dl": DREAM_LAND, "dreamland": DREAM_LAND,
        "dl64": DREAM_LAND, "fod": FOUNTAIN_OF_DREAMS, "ps": POKEMON_STADIUM,
        "stadium": POKEMON_STADIUM, "pokemonstadium": POKEMON_STADIUM, "ys": YOSHIS_STORY,
        "yoshis": YOSHIS_STORY, "yoshisstory": YOSHIS_STORY, "final": FINAL_DESTINATION,
    }
)


def external_stage_id(text: str | int) -> int:
    """Parse a stage given by a user (an external id number, a name or a common abbreviation,
    case and punctuation ignored: 'FD', 'battlefield', "Yoshi's Story", '31') into its external
    id. Raises KeyError with a readable message when it is not a stage."""
    if isinstance(text, int):
        if text in STAGES:
            return text
        raise KeyError(f"unknown stage id {text}")
    s = str(text).strip()
    if s.isdigit():
        return external_stage_id(int(s))
    key = _norm(s)
    if key in _BY_NAME:
        return _BY_NAME[key]
    known = ", ".join(STAGES[i].name for i in sorted(LEGAL_STAGES_EXTERNAL))
    raise KeyError(f"unknown stage {text!r}; legal stages: {known} (or any stage id)")


__all__ = [
    "BATTLEFIELD",
    "DREAM_LAND",
    "FINAL_DESTINATION",
    "FOUNTAIN_OF_DREAMS",
    "LEGAL_STAGES_EXTERNAL",
    "POKEMON_STADIUM",
    "Platform",
    "STAGES",
    "Spawn",
    "StageGeometry",
    "StageInfo",
    "YOSHIS_STORY",
    "external_stage_id",
    "external_to_grkind",
    "external_to_internal_stage",
    "geometry",
    "grkind_to_external",
    "internal_to_external_stage",
    "is_legal",
    "stage_name",
]
