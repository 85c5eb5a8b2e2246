import numpy as np
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from dreamland.play.envs import OBS_SIZE, MeleeEnv, MeleeParallelEnv, MeleeVectorEnv, observation_names


def test_gymnasium_checker():
    env = MeleeEnv(opponent="chase", max_frames=200)  # the model shipped with dreamland
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert obs.shape == (OBS_SIZE,) == (len(observation_names()),)
    total = 0.0
    for _ in range(200):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        total += r
        if term or trunc:
            break
    assert trunc or term


def test_pettingzoo_parallel_checker():
    env = MeleeParallelEnv(max_frames=150)
    parallel_api_test(env, num_cycles=200)


def test_vector_env_steps_many_games_in_one_batch():
    env = MeleeVectorEnv(4, opponent="random", max_frames=50)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, OBS_SIZE)
    calls0 = env.core.rules.frame.clone()
    for i in range(60):
        obs, r, term, trunc, infos = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and r.shape == (4,)
        if i == 49:
            assert trunc.all() and "final_obs" in infos
    assert (env.core.rules.frame == 10).all() and (calls0 == 0).all()


def test_a_vector_env_steps_its_games_as_play_sessions_do():
    """The same inputs through one 3-game vector env and through three play sessions (the shipped
    model, the play rules) give the same frames: batching changes nothing a player sees."""
    import torch

    from dreamland.play import Session
    from dreamland.play.state import N_CONTROLLER

    n, frames = 3, 30
    env = MeleeVectorEnv(n, opponent="idle")
    env.reset(seed=0)
    actions = np.random.default_rng(0).random((frames, n, N_CONTROLLER)).astype(np.float32)
    actions[..., 5:] = actions[..., 5:] > 0.8  # buttons pressed now and then
    for a in actions:
        env.step(a)
    for i in range(n):
        session = Session(stage=env.stage, characters=env.characters)
        for a in actions:
            session.step(torch.from_numpy(a[i]), None)
        for k, want in session.tensors.items():
            got = env.core.frame[k][i : i + 1]
            if want.dtype.is_floating_point:
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-3, msg=f"{k}, game {i}")
            else:
                assert torch.equal(got, want), f"{k}, game {i}"


def test_a_vector_env_steps_through_the_compiled_step_it_asks_for(monkeypatch):
    """`compile="aot"` steps every game of a vector env through one step built for its batch size,
    with the frames the eager env gives. (The build is replaced by the functional eager step, so
    this checks the wiring, not inductor: tests/model/test_world.py compiles for real.)"""
    from dreamland.model.step import step
    from dreamland.model.stepper import CompiledStep

    built = []

    def build(self, batch, tuned=False):
        built.append(batch)
        return lambda s, g, c: step(self.model, s, g, c)

    monkeypatch.setattr(CompiledStep, "_build_aot", build)
    n = 3
    envs = {mode: MeleeVectorEnv(n, opponent="idle", compile=mode) for mode in (False, "aot")}
    actions = np.random.default_rng(1).random((10, n, envs["aot"].single_action_space.shape[0])).astype(np.float32)
    obs = {}
    for mode, env in envs.items():
        env.reset(seed=0)
        obs[mode] = [env.step(a)[0] for a in actions]
    assert built == [n] and envs["aot"].stepper.compile_error is None
    for a, b in zip(obs[False], obs["aot"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert not np.allclose(obs["aot"][0], obs["aot"][-1])  # the games move


def test_the_states_of_a_batch_are_each_game_read_alone():
    import torch

    from dreamland.data.frame import item_column, player_column
    from dreamland.play.core import BatchedCore
    from dreamland.play.toy import PhysicsToyStepper

    core = BatchedCore(PhysicsToyStepper(), 3, "battlefield", ("fox", "marth"))
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        core.step(torch.rand(3, 2, 17, generator=gen))
    slot = int(torch.nonzero(~core.frame["item_exists"][1].bool())[0])
    core.frame["item_exists"][1, slot] = True  # one more projectile, in game 1
    group, col = item_column("x")
    core.frame[f"item_{group}"][1, slot, col] = 12.5
    core.events.ko[2, 1] = True
    states = core.game_states()
    assert [s.to_json() for s in states] == [core.game_state(b).to_json() for b in range(3)]
    group, col = player_column("x")
    for b, s in enumerate(states):
        for p in (0, 1):
            assert s.players[p].x == float(core.frame[f"player_{group}"][b, p, col])
    assert [len(s.items) for s in states] == core.frame["item_exists"].sum(1).tolist()
    assert [i.x for i in states[1].items if i.slot == slot] == [12.5]
    assert states[2].events == [{"type": "ko", "player": 1}] and states[0].events == []
