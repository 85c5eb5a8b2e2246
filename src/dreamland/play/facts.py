"""Game facts the play layer needs beyond `dreamland.schema`: where a player stands at the start of a
game, where and when a KO'd player comes back, how long the rules' timers run.

Every number here was measured on the replay corpus (`../shared/replays`, 174 files, all frames
finalised for rollback as in `replay.parse`) with peppi-py; none is invented. The measurement is
reproduced by `tests/play/test_facts.py::test_facts_match_corpus` (skipped without the corpus).

* Spawn points: `schema.stages.geometry(stage).spawns` (slot 1 and 2: the entry positions at frame
  -123 measured in the corpus, see the schema's docstring). A game built without a replay puts each
  player on the surface right below its spawn point (the platform or the main stage), standing.
* `GROUND_IDS`: the `ground` id a standing player has on each surface (main stage, then the stage's
  platforms in `geometry(stage).platforms` order): the most common id of STANDING frames on that
  surface in the corpus.
* `RESPAWN`: the position of the first ON_HALO_DESCENT frame after a KO, per stage and player slot
  (the two players of a 1v1 in port order). Battlefield and Final Destination put the two players
  at different x; the other stages at x = 0.
* `DEAD_FRAMES` = 60: a KO'd player spends 60 frames in a DEAD_* action before the halo appears
  (10th, 50th and 90th percentile all 60 in the corpus).
* `INVULNERABLE_FRAMES` = 120: after leaving the respawn halo the player's hurtbox stays
  invulnerable (state 1) for 120 frames (median and maximum over the corpus).
* `JUMPS`: jumps left while standing: 2 for everyone, 6 for Kirby and Jigglypuff (corpus).
* `GAME_FRAMES` = 8 minutes x 60 frames: the tournament timer (Slippi's default `start.timer`).
"""

from __future__ import annotations

from dreamland.schema import stages as S

DEAD_FRAMES = 60
INVULNERABLE_FRAMES = 120
GAME_FRAMES = 8 * 60 * 60
STOCKS = 4
FULL_SHIELD = 60.0

# stage -> (main stage ground id, ground id of each platform in geometry order)
GROUND_IDS: dict[int, tuple[int, tuple[int, ...]]] = {
    S.FINAL_DESTINATION: (1, ()),
    S.BATTLEFIELD: (1, (2, 4, 3)),
    S.DREAM_LAND: (4, (0, 1, 2)),
    S.FOUNTAIN_OF_DREAMS: (5, (0, 1, 2)),
    S.POKEMON_STADIUM: (34, (35, 36)),
    S.YOSHIS_STORY: (3, (1, 5, 4)),
}

# stage -> ((x, y) of player 0, (x, y) of player 1) at the first ON_HALO_DESCENT frame
RESPAWN: dict[int, tuple[tuple[float, float], tuple[float, float]]] = {
    S.BATTLEFIELD: ((12.8, 135.07), (-40.0, 135.07)),
    S.FINAL_DESTINATION: ((16.0, 112.85), (-50.0, 112.85)),
    S.DREAM_LAND: ((0.0, 188.24), (0.0, 188.24)),
    S.FOUNTAIN_OF_DREAMS: ((0.0, 111.69), (0.0, 111.69)),
    S.POKEMON_STADIUM: ((0.0, 119.0), (0.0, 119.0)),
    S.YOSHIS_STORY: ((0.0, 117.2), (0.0, 117.2)),
}

KIRBY_INTERNAL = 4
JIGGLYPUFF_INTERNAL = 15


def jumps(character_internal: int) -> int:
    return 6 if int(character_internal) in (KIRBY_INTERNAL, JIGGLYPUFF_INTERNAL) else 2


def standing_spot(stage: int, slot: int) -> tuple[float, float, int, int]:
    """(x, y, facing, ground id) of a player standing below spawn slot `slot` (0-based)."""
    g = S.geometry(stage)
    sp = g.spawns[slot]
    main_id, plat_ids = GROUND_IDS[stage]
    best_y, best_id = None, None
    for plat, pid in zip(g.platforms, plat_ids):
        if plat.left <= sp.x <= plat.right and plat.y <= sp.y + 1e-3:
            if best_y is None or plat.y > best_y:
                best_y, best_id = plat.y, pid
    if best_y is None:
        best_y, best_id = 0.0, main_id  # the main stage (flat at the spawn x of every legal stage)
    return float(sp.x), float(best_y), int(sp.facing), int(best_id)


def respawn_point(stage: int, player: int) -> tuple[float, float]:
    return RESPAWN[stage][player]
