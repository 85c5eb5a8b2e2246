"""The real world model (untrained, tiny preset) through the play adapter: plumbing only."""

import torch


def test_world_model_plugs_into_a_session():
    from dreamland.model.config import preset
    from dreamland.model.step import ModelStepper
    from dreamland.model.world import WorldModel
    from dreamland.play import ChaseBot, RandomBot, Session

    torch.manual_seed(0)
    s = Session(ModelStepper(WorldModel(preset("tiny")), context=4), "battlefield", ("fox", "marth"))
    st = s.reset()
    a, b = ChaseBot(), RandomBot(seed=1)
    for _ in range(15):
        st = s.step(a(st, 0), b(st, 1))
    assert st.frame == 15 or st.game_over
    for k, v in s.tensors.items():
        if v.is_floating_point():
            assert torch.isfinite(v).all(), k
    assert all(p.stocks <= 4 for p in st.players)
