"""The play facts (respawn points, KO pause, invulnerability, ground ids) against real replays."""

import numpy as np
import pytest

from dreamland.play import facts
from dreamland.data.frame import player_column
from dreamland.schema import stages as S

GAMES = [
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp",  # Battlefield
    "Gaurav-Iyer_stockfox__test.slp",  # Final Destination
]


@pytest.mark.parametrize("name", GAMES)
def test_facts_match_corpus(name, replay_file):
    path = replay_file(name)
    from dreamland.play.replay import load_replay

    game = load_replay(path)
    g, ja = player_column("action")
    act = game.frames[f"player_{g}"][..., ja].astype(int)  # (T, 2)
    gx, jx = player_column("x")
    gy, jy = player_column("y")
    gh, jh = player_column("hurtbox")
    x, y = game.frames[f"player_{gx}"][..., jx], game.frames[f"player_{gy}"][..., jy]
    hurt = game.frames[f"player_{gh}"][..., jh]
    checked = 0
    for p in (0, 1):
        starts = np.flatnonzero((act[1:, p] == 12) & (act[:-1, p] != 12)) + 1
        for t in starts:
            assert (x[t, p], y[t, p]) == pytest.approx(facts.RESPAWN[game.stage][p], abs=0.05)
            dead = 0
            while act[t - 1 - dead, p] <= 10:
                dead += 1
            assert dead == facts.DEAD_FRAMES
            end = t
            while act[end, p] in (12, 13):
                end += 1
            inv = 0
            while end + inv < len(act) and hurt[end + inv, p] == 1:
                inv += 1
            assert inv == facts.INVULNERABLE_FRAMES
            checked += 1
    assert checked >= 1
    # standing on the main stage: its ground id
    gg, jg = player_column("ground")
    ground = game.frames[f"player_{gg}"][..., jg]
    standing = (act == 14) & (np.abs(y) < 0.01)
    assert np.bincount(ground[standing].astype(int)).argmax() == facts.GROUND_IDS[game.stage][0]


def test_standing_spots_are_on_a_surface():
    for sid in S.LEGAL_STAGES_EXTERNAL:
        g = S.geometry(sid)
        for slot in (0, 1):
            x, y, facing, ground = facts.standing_spot(sid, slot)
            assert y <= g.spawns[slot].y and facing == g.spawns[slot].facing
            on_platform = any(p.left <= x <= p.right and p.y == y for p in g.platforms)
            assert on_platform or (y == 0 and abs(x) <= g.ground_x)
