import json

import pytest
import torch

from dreamland.play import ChaseBot, Controller, RandomBot, Session
from dreamland.play import facts
from dreamland.data.frame import player_column
from dreamland.schema import stages as S


def _steppers():
    """The model shipped with dreamland (None), and the physics toy, which is NOT a model and only
    proves the plumbing."""
    return [pytest.param(None, id="default-model"), pytest.param("toy", id="physics-toy")]


@pytest.mark.parametrize("checkpoint", _steppers())
def test_600_frames_with_two_bots_without_nan(checkpoint):
    s = Session(checkpoint, "battlefield", ("fox", "marth"))
    s.reset()
    a, b = ChaseBot(seed=1), RandomBot(seed=2)
    for _ in range(600):
        st = s.step(a(s.state, 0), b(s.state, 1))
        for k, v in s.tensors.items():
            if v.is_floating_point():
                assert torch.isfinite(v).all(), k
    assert st.frame == 600 or st.game_over
    json.dumps(st.to_json(), allow_nan=False)


@pytest.mark.parametrize("checkpoint", _steppers())
def test_jump_leaves_the_ground_within_a_few_frames(checkpoint):
    s = Session(checkpoint, "final destination", ("fox", "fox"))
    st = s.reset()
    assert st.players[0].on_ground
    y0 = st.players[0].y
    for _ in range(10):  # idle first, as a player would
        st = s.step()
    jump = Controller().press_button("X")
    airborne_at = None
    for i in range(8):
        st = s.step(jump if i < 4 else None)
        if not st.players[0].on_ground and st.players[0].y > y0 + 1:
            airborne_at = i
            break
    assert airborne_at is not None and airborne_at <= 6


def test_reset_without_replay_stands_at_the_spawn_points():
    s = Session("toy", "battlefield", ("fox", "kirby"))
    st = s.reset()
    g = S.geometry(S.BATTLEFIELD)
    for p, spawn in zip(st.players, g.spawns[:2]):
        assert p.x == pytest.approx(spawn.x)
        assert p.y == pytest.approx(27.2001, abs=1e-3)  # the side platforms under the spawns
        assert p.stocks == 4 and p.percent == 0 and p.shield == 60
        assert p.action_name == "STANDING" and p.on_ground
        assert p.facing_right == (spawn.facing > 0)
    assert st.players[1].jumps == 6  # Kirby
    assert st.players[0].character_name == "Fox" and st.timer_frames_left == facts.GAME_FRAMES
    st = s.reset(stage="fd", characters=("marth", "ics"))
    assert st.stage == S.FINAL_DESTINATION and st.players[0].y == 0
    assert st.players[1].follower is not None and st.players[1].follower.character_name == "Nana"


def test_reset_from_a_replay_frame(replay_file):
    path = replay_file("Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp")
    from dreamland.play.replay import load_replay

    game = load_replay(path)
    s = Session("toy")
    st = s.reset(replay=path, frame=600)
    row = game.index_of(600)
    gx, jx = player_column("x")
    assert st.stage == S.BATTLEFIELD
    assert st.players[0].x == pytest.approx(float(game.frames[f"player_{gx}"][row, 0, jx]))
    assert [p.character_name for p in st.players] == ["Sheik", "Falco"]
    st = s.step()
    assert st.frame == 1


def test_step_takes_constant_time():
    import time

    s = Session("toy")
    s.reset()
    def timed(n):
        t = time.perf_counter()
        for _ in range(n):
            s.step()
        return (time.perf_counter() - t) / n
    early = timed(200)
    for _ in range(1000):
        s.step()
    late = timed(200)
    assert late < early * 3 + 1e-3
