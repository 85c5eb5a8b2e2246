"""How the page draws a game without game assets: a pose per action, a look per character, the
outline of each stage. Served in `/api/schema` and in every player of a frame (`pose`), so the
page keeps no game facts of its own.

* Poses group the action states of `schema.actions` by what the body does (the categories there
  group by what the player does: a landing is MOVEMENT, but the body crouches).
* Looks: each character's silhouette archetype and the two main colours of its default costume
  (as shown on the character select screen); the size comes from `schema.characters` (height,
  width), not from here.
* Stage outlines: the floor profile of `schema.stages` (`ground_x`, `ground_y`; Yoshi's Story's
  slope and Fountain of Dreams' raised rim as that module's docstring gives them, from slippilab's
  Stage.tsx) and a body under it down to where the stage's underside is drawn.
"""

from __future__ import annotations

from typing import Any

from dreamland.schema import actions as A
from dreamland.schema import characters as C
from dreamland.schema import stages as S

POSES = ("stand", "walk", "dash", "crouch", "jump", "fall", "aerial", "ground_attack", "grab",
         "shield", "dodge", "hitstun", "tumble", "down", "ledge", "special", "dead", "respawn")


def _pose_ranges() -> list[tuple[int, int, str]]:
    # (first id, last id, pose) over the common states; see schema/actions.py for the ids
    return [
        (0x0E, 0x0E, "stand"), (0x0F, 0x11, "walk"), (0x12, 0x12, "stand"), (0x13, 0x17, "dash"),
        (0x18, 0x18, "crouch"),  # jump squat
        (0x19, 0x1C, "jump"), (0x1D, 0x25, "fall"), (0x26, 0x26, "tumble"), (0x27, 0x2B, "crouch"),
        (0x2C, 0x40, "ground_attack"), (0x41, 0x45, "aerial"), (0x46, 0x4A, "crouch"),
        (0x4B, 0x56, "hitstun"), (0x57, 0x5B, "tumble"), (0xB2, 0xB6, "shield"), (0xB7, 0xD0, "down"),
        (0xD1, 0xD3, "hitstun"),  # shield break: standing up dizzy
        (0xD4, 0xDE, "grab"), (0xDF, 0xE8, "hitstun"), (0xE9, 0xEC, "dodge"), (0xEF, 0xF3, "tumble"),
        (0xF4, 0xF4, "fall"), (0xF5, 0xF6, "stand"), (0xF7, 0xFB, "tumble"), (0xFC, 0x107, "ledge"),
        (0x142, 0x144, "respawn"),  # the entrance at the start of a game
    ]


def _build_pose_table() -> tuple[str, ...]:
    table = [""] * A.NUM_COMMON_ACTIONS
    for lo, hi, pose in _pose_ranges():
        for i in range(lo, hi + 1):
            table[i] = pose
    for i in A.DEAD_STATES:
        table[i] = "dead"
    for i in A.RESPAWN_STATES:
        table[i] = "respawn"
    return tuple(table)


_POSE = _build_pose_table()


def pose_of(action: int, airborne: bool, dead: bool = False) -> str:
    """The pose that draws a player in action state `action`."""
    if dead:
        return "dead"
    i = int(action)
    if 0 <= i < A.NUM_COMMON_ACTIONS and _POSE[i]:
        return _POSE[i]
    if i >= A.FIRST_SPECIAL_ACTION:
        return "special"
    return "fall" if airborne else "stand"  # items, taunts, captures: the body's place is enough


# silhouette archetypes the page knows how to draw
SHAPES = ("biped", "heavy", "round", "quadruped", "flat", "hand")

_LOOKS: dict[str, tuple[str, str, str]] = {  # name: (shape, body colour, accent colour)
    "Mario": ("biped", "#d8282c", "#2a4fb8"), "Dr. Mario": ("biped", "#f2f2f2", "#6b4a2a"),
    "Luigi": ("biped", "#2fa84a", "#2a4fb8"), "Fox": ("biped", "#d9863a", "#f2f2f2"),
    "Falco": ("biped", "#3d5fc8", "#f2f2f2"), "Captain Falcon": ("biped", "#2b3c8f", "#d8282c"),
    "Ganondorf": ("heavy", "#3a3a46", "#b0803a"), "Donkey Kong": ("heavy", "#6b3e1f", "#d8282c"),
    "Bowser": ("heavy", "#3e8e3a", "#e8c040"), "Giga Bowser": ("heavy", "#3a6a36", "#b8b040"),
    "Kirby": ("round", "#f4a6c8", "#d8282c"), "Jigglypuff": ("round", "#f7b8d0", "#3d9ad8"),
    "Pikachu": ("quadruped", "#f5d23a", "#d8282c"), "Pichu": ("quadruped", "#f7e070", "#2b2b2b"),
    "Link": ("biped", "#3e9a3a", "#e8d6a0"), "Young Link": ("biped", "#4cb04a", "#e8d6a0"),
    "Sheik": ("biped", "#3a4a8a", "#f2f2f2"), "Zelda": ("biped", "#e8c8e0", "#d8b040"),
    "Marth": ("biped", "#2a3a8a", "#4a78d8"), "Roy": ("biped", "#b83a2a", "#3a4a8a"),
    "Ness": ("biped", "#d8282c", "#3a5ab8"), "Peach": ("biped", "#f4a0c0", "#f2d040"),
    "Popo": ("biped", "#5a78e0", "#f2f2f2"), "Nana": ("biped", "#f08ab0", "#f2f2f2"),
    "Samus": ("heavy", "#e07a2a", "#d8282c"), "Yoshi": ("biped", "#4cc04a", "#f2f2f2"),
    "Mewtwo": ("biped", "#c8b8d8", "#8a4ab8"), "Mr. Game & Watch": ("flat", "#1a1a1a", "#1a1a1a"),
    "Master Hand": ("hand", "#f2f2f2", "#d8d8d8"), "Crazy Hand": ("hand", "#f2f2f2", "#d8d8d8"),
    "Wireframe (Male)": ("biped", "#7ab8e8", "#2a4a8a"), "Wireframe (Female)": ("biped", "#e87ab8", "#8a2a4a"),
    "Sandbag": ("round", "#d8c8a0", "#8a7a5a"),
}


def looks() -> dict[str, dict[str, Any]]:
    """{internal id: {shape, body, accent, height, width}} for every character."""
    out = {}
    for ch in C.CHARACTERS:
        shape, body, accent = _LOOKS[ch.name]
        out[str(ch.internal_id)] = {"shape": shape, "body": body, "accent": accent,
                                    "height": ch.height, "width": ch.width, "name": ch.name}
    return out


# The floor profile between the edges, from schema/stages.py's docstring (slippilab Stage.tsx).
_FLOOR_BREAKS = {S.YOSHIS_STORY: 39.0, S.FOUNTAIN_OF_DREAMS: 51.0}
_UNDERSIDE = 0.35  # the drawn depth of the stage body, as a fraction of its half width


def stage_outline(stage: int) -> list[list[float]]:
    """The main stage as a closed polygon [[x, y], ...]: the floor from the left edge to the right
    edge, then the underside."""
    g = S.geometry(stage)
    x, y = g.ground_x, g.ground_y
    floor = [[-x, y]]
    brk = _FLOOR_BREAKS.get(stage)
    if brk is not None:
        if stage == S.FOUNTAIN_OF_DREAMS:  # a raised rim outside the centre
            floor += [[-brk, y], [-brk, 0.0], [brk, 0.0], [brk, y]]
        else:  # a slope down to the edges
            floor += [[-brk, 0.0], [brk, 0.0]]
    floor.append([x, y])
    depth = x * _UNDERSIDE
    return floor + [[x * 0.8, y - depth * 0.5], [x * 0.35, y - depth], [-x * 0.35, y - depth],
                    [-x * 0.8, y - depth * 0.5]]


__all__ = ["POSES", "SHAPES", "looks", "pose_of", "stage_outline"]
