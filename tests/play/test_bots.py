import pytest
import torch

from dreamland.play import ChaseBot, FunctionBot, IdleBot, RandomBot, ReplayInputsBot, Session, as_bot, make_bot
from dreamland.play.controller import Controller, as_tensor

from tests.play.helpers import RecordingStepper


def test_replay_inputs_bot_plays_back_the_pre_frame_inputs(replay_file):
    path = replay_file("Gaurav-Iyer_stockfox__test.slp")
    stepper = RecordingStepper()
    s = Session(stepper, "final destination", ("peach", "falcon"))
    s.reset()
    bot1 = ReplayInputsBot(path, start_frame=0)
    bot2 = ReplayInputsBot(path, player=1, start_frame=0)
    s.play(bot1, bot2, 300)
    seen = torch.stack([c[0] for c in stepper.seen])  # (300, 2, 17)
    game = bot1.game
    row = game.index_of(0)
    expected = game.controllers[row:row + 300]
    assert torch.allclose(seen, expected, atol=1e-6)
    assert (expected[:, :, 5:].sum() > 0) and (expected[:, :, :2] != 0.5).any()  # real inputs
    # after the end: neutral
    bot1.row = len(game)
    assert torch.equal(as_tensor(bot1(s.state, 0)), Controller().to_tensor())


def test_chase_bot_walks_toward_the_opponent_and_attacks():
    s = Session("toy", "final destination", ("fox", "fox"))
    st = s.reset()
    d0 = abs(st.players[0].x - st.players[1].x)
    bot = ChaseBot()
    pressed_a = False
    for _ in range(120):
        c = bot(s.state, 0)
        pressed_a |= "A" in c.buttons
        st = s.step(c, None)
    assert abs(st.players[0].x - st.players[1].x) < d0 / 3
    assert pressed_a and st.players[1].percent > 0


def test_random_bot_is_seeded_and_any_callable_is_a_bot():
    s = Session("toy")
    st = s.reset()
    a, b = RandomBot(seed=3), RandomBot(seed=3)
    seq_a = [as_tensor(a(st, 0)) for _ in range(50)]
    seq_b = [as_tensor(b(st, 0)) for _ in range(50)]
    assert all(torch.equal(x, y) for x, y in zip(seq_a, seq_b))
    assert len({tuple(x.tolist()) for x in seq_a}) > 1
    f = as_bot(lambda state: Controller().press_button("A"))
    assert isinstance(f, FunctionBot) and f(st, 1).buttons == {"A"}
    assert isinstance(make_bot("idle"), IdleBot)
    with pytest.raises(ValueError):
        make_bot("nope")
