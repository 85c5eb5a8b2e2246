"""Per-character physics constants, counted from real games (data/physics.py says how).

On most airborne frames Melee subtracts the character's gravity from the vertical velocity until it
reaches the terminal (falling) velocity; on most frames of sliding it takes the ground or air
friction off the horizontal speed; knockback loses `KNOCKBACK_DECAY` of its speed each frame, for
every character. The counted values agree with the attributes the community tabulated from the
game's files (the SSBM Data Sheet's character attributes: Fox gravity 0.23, terminal velocity 2.8,
Falco 0.17 / 3.1, Marth 0.085 / 2.2, Jigglypuff 0.064 / 1.3, Peach 0.08 / 1.5).
How often each rule holds in real games: docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamland.schema.characters import NANA_INTERNAL, POPO_INTERNAL

# speed knockback loses each frame (game units per frame), the same for every character
KNOCKBACK_DECAY = 0.051


@dataclass(frozen=True)
class Physics:
    gravity: float  # vertical speed lost per airborne frame
    terminal: float  # the falling speed gravity stops at
    ground_friction: float  # horizontal speed lost per grounded frame of sliding
    air_friction: float  # horizontal speed lost per airborne frame without drift


# internal character id -> constants; characters missing here (too few frames in the corpus) have
# no rule: their velocities keep their value, as without the priors
PHYSICS: dict[int, Physics] = {
    0: Physics(0.095, 1.7, 0.06, 0.016),
    1: Physics(0.23, 2.8, 0.08, 0.02),
    2: Physics(0.13, 2.9, 0.08, 0.01),
    3: Physics(0.1, 2.4, 0.08, 0.02),
    4: Physics(0.08, 1.6, 0.08, 0.02),
    7: Physics(0.12, 2.13, 0.08, 0.04),
    9: Physics(0.08, 1.5, 0.1, 0.005),
    10: Physics(0.1, 1.6, 0.035, 0.02),
    12: Physics(0.11, 1.9, 0.09, 0.01),
    13: Physics(0.066, 1.4, 0.06, 0.01),
    14: Physics(0.093, 1.93, 0.06, 0.013),
    15: Physics(0.064, 1.3, 0.09, 0.05),
    16: Physics(0.082, 1.5, 0.04, 0.016),
    17: Physics(0.069, 1.6, 0.025, 0.01),
    18: Physics(0.085, 2.2, 0.06, 0.005),
    19: Physics(0.073, 1.4, 0.1, 0.005),
    20: Physics(0.11, 2.13, 0.08, 0.005),
    21: Physics(0.095, 1.7, 0.06, 0.016),
    22: Physics(0.17, 3.1, 0.08, 0.02),
    24: Physics(0.095, 1.7, 0.06, 0.016),
    25: Physics(0.13, 2.0, 0.07, 0.02),
    26: Physics(0.114, 2.4, 0.06, 0.005),
}


def physics(internal_id: int) -> Physics | None:
    """The constants of an internal character id; Nana moves as Popo (she is only a follower, and
    the counting reads the two leaders)."""
    iid = int(internal_id)
    return PHYSICS.get(POPO_INTERNAL if iid == NANA_INTERNAL else iid)


__all__ = ["KNOCKBACK_DECAY", "PHYSICS", "Physics", "physics"]
