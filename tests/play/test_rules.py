import pytest
import torch

from dreamland.play import Session
from dreamland.play import facts
from dreamland.play.state import player_values
from dreamland.schema import stages as S

from tests.play.helpers import ScriptedStepper


def test_stock_lost_at_the_side_blast_zone_then_respawn():
    stepper = ScriptedStepper(dx=-5.0)
    s = Session(stepper, "battlefield", ("fox", "falco"))
    s.reset()
    left = S.geometry(S.BATTLEFIELD).blast_left
    frames_to_cross = int((s.state.players[0].x - left) // 5) + 1
    ko_frame = None
    for i in range(frames_to_cross + 5):
        st = s.step()
        if any(e["type"] == "ko" for e in st.events):
            ko_frame = i
            break
    assert ko_frame is not None and abs(ko_frame - (frames_to_cross - 1)) <= 1
    p = st.players[0]
    assert p.stocks == 3 and p.action_name == "DEAD_LEFT" and p.dead
    assert st.players[1].stocks == 4
    stepper.dx = 0.0
    for _ in range(facts.DEAD_FRAMES - 1):
        st = s.step()
        assert st.players[0].dead and st.players[0].action_name == "DEAD_LEFT"
    st = s.step()
    assert {"type": "respawn", "player": 0} in st.events
    p = st.players[0]
    assert (p.x, p.y) == pytest.approx(facts.RESPAWN[S.BATTLEFIELD][0])
    assert p.action_name == "ON_HALO_DESCENT" and p.percent == 0 and p.invulnerable
    assert p.stocks == 3 and not st.game_over


def test_top_blast_zone_needs_a_damage_state():
    stepper = ScriptedStepper(dy=4.0)
    s = Session(stepper, "final destination", ("fox", "fox"))
    s.reset()
    top = S.geometry(S.FINAL_DESTINATION).blast_top
    st = s.state
    while st.players[0].y < top + 10:
        st = s.step()
        assert not st.events
    # in a damage state it is a KO
    from dreamland.data.frame import player_column

    g, j = player_column("action")
    s.core.frame[f"player_{g}"][0, 0, j] = 88  # DAMAGE_FLY_NEUTRAL
    st = s.step()
    assert st.events and st.events[0] == {"type": "ko", "player": 0}
    assert st.players[0].action_name == "DEAD_UP"


def test_game_over_at_zero_stocks():
    stepper = ScriptedStepper(dy=-10.0, who=1)
    s = Session(stepper, "battlefield", ("fox", "falco"), stocks=2)
    s.reset()
    kos = 0
    for _ in range(1000):
        st = s.step()
        kos += sum(e["type"] == "ko" for e in st.events)
        if st.game_over:
            break
    assert st.game_over and st.winner == 0 and kos == 2
    assert st.players[1].stocks == 0 and st.players[0].stocks == 2
    frozen = st.to_json()
    again = s.step()
    assert again.to_json()["players"] == frozen["players"] and again.frame == st.frame


def test_timer_ends_the_game_lower_percent_wins():
    s = Session(ScriptedStepper(), "battlefield", ("fox", "falco"), timer_frames=30)
    s.reset()
    pct = s.core.frame["player_real"]
    from dreamland.data.frame import player_column

    pct[0, 1, player_column("percent")[1]] = 50.0
    for _ in range(29):
        st = s.step()
        assert not st.game_over
    assert st.timer_frames_left == 1
    st = s.step()
    assert st.game_over and st.winner == 0 and st.timer_frames_left == 0


def test_model_stock_changes_are_overwritten():
    class Liar(ScriptedStepper):
        def step(self, model_state, game_state, controllers):
            ms, g = super().step(model_state, game_state, controllers)
            from dreamland.data.frame import player_column

            gname, j = player_column("stocks")
            g[f"player_{gname}"][:, :, j] = 1
            return ms, g

    s = Session(Liar(), "battlefield", ("fox", "falco"))
    s.reset()
    st = s.step()
    assert [p.stocks for p in st.players] == [4, 4]
    assert player_values(s.tensors, "stocks").tolist() == [[4, 4]]


def test_batched_rules_only_touch_the_games_that_cross():
    from dreamland.play.core import BatchedCore

    core = BatchedCore(ScriptedStepper(dx=-30.0), 3, "battlefield", ("fox", "fox"))
    from dreamland.data.frame import player_column

    g, j = player_column("x")
    core.frame[f"player_{g}"][1:, 0, j] = 0.0  # games 1, 2 start in the middle
    core.frame[f"player_{g}"][0, 0, j] = -200.0
    core.step(torch.full((3, 2, 17), 0.5))
    assert core.events.ko[:, 0].tolist() == [True, False, False]
    assert core.rules.stocks[:, 0].tolist() == [3, 4, 4]
