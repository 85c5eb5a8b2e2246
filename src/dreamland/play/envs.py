"""Agent environments over the batched core.

* `MeleeEnv` (Gymnasium): one agent against a bot.
* `MeleeVectorEnv` (Gymnasium vector env): N such games stepped in one batched model call.
* `MeleeParallelEnv` (PettingZoo parallel API): two agents, `player_0` and `player_1`.

Spaces:
* action: `Box(0, 1, (17,))`, the encoded controller of `data.encoding.encode_controller` (main
  stick x/y, C-stick x/y with 0.5 neutral, the trigger, then the 12 buttons, pressed above 0.5).
  `Controller.to_tensor()` builds one from libmelee-style calls.
* observation: `Box(-100, 100, (D,))` float32: for the observing player then the opponent, every
  player field of the store layout (`data.layout.PLAYER_GROUPS`, in its order), reals divided by
  their schema `scale`, ids divided by their vocabulary size; then whether each exists and the time
  left (fraction of the timer), clipped to +-100. The names are in `observation_names()`.
* reward (per agent): (percent dealt - percent taken) / 100 + stocks taken - stocks lost.
* terminated when the game is over (stocks or timer); truncated after `max_frames` frames.

`compile` and `dtype` step the model as `load_stepper` does (`compile="aot"`: one native step per
batch size, built on the first step and cached on disk; docs/model.md measures it).
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from dreamland.data import layout
from dreamland.play import facts
from dreamland.play.bots import as_bot
from dreamland.play.controller import as_tensor, stack
from dreamland.play.core import BatchedCore
from dreamland.play.state import N_CONTROLLER, player_values
from dreamland.steppers.load import load_stepper


def _scales() -> tuple[list[str], torch.Tensor]:
    names, scales = [], []
    for g in layout.PLAYER_GROUPS:
        for f in g.fields:
            names.append(f.name)
            scales.append(f.scale if g.name == "real" else float(f.vocab or 2))
    return names, torch.tensor(scales, dtype=torch.float32)


_FIELD_NAMES, _SCALES = _scales()
OBS_SIZE = 2 * len(_FIELD_NAMES) + 2 + 1
OBS_CLIP = 100.0  # as data.encoding.REAL_CLIP


def observation_names() -> list[str]:
    out = [f"self.{n}" for n in _FIELD_NAMES] + [f"opponent.{n}" for n in _FIELD_NAMES]
    return out + ["self.exists", "opponent.exists", "time_left"]


def observe(core: BatchedCore, player: int) -> np.ndarray:
    """(B, OBS_SIZE) observations of `player` for every game of the core."""
    f = core.frame
    per = torch.cat([f[f"player_{g.name}"].float() for g in layout.PLAYER_GROUPS], -1) / _SCALES
    order = [player, 1 - player]
    exists = f["player_exists"].float()[:, order]
    assert core.rules is not None
    time_left = (core.rules.timer_left.float() / max(1, core.timer_frames))[:, None]
    obs = torch.cat([per[:, order].flatten(1), exists, time_left], -1)
    return torch.nan_to_num(obs).clamp(-OBS_CLIP, OBS_CLIP).numpy().astype(np.float32)


class _Score:
    """Percent and stocks before a step, to compute rewards."""

    def __init__(self, core: BatchedCore) -> None:
        self.percent = player_values(core.frame, "percent").float().clone()
        assert core.rules is not None
        self.stocks = core.rules.stocks.clone()

    def rewards(self, core: BatchedCore) -> torch.Tensor:
        """(B, 2) rewards of each player for the last step."""
        assert core.rules is not None
        pct = player_values(core.frame, "percent").float()
        taken_pct = (pct - self.percent).clamp(min=0)  # a respawn resets percent: not a gain
        lost = (self.stocks - core.rules.stocks).clamp(min=0).float()
        r = (taken_pct.flip(-1) - taken_pct) / 100.0 + lost.flip(-1) - lost
        return r


def _action_tensor(action: Any) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(action, dtype=np.float32)).reshape(-1)
    if t.numel() != N_CONTROLLER:
        raise ValueError(f"an action has {N_CONTROLLER} values, got {t.numel()}")
    return torch.nan_to_num(t, nan=0.5).clamp(0, 1)


class MeleeVectorEnv(gym.vector.VectorEnv):
    """N games, each one agent (player `agent_player`) against a bot, stepped as one batch.
    Games that end are reset in the same step (their last observation is in
    `infos["final_obs"]`)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 4, checkpoint: Any = None, opponent: Any = "chase",
                 stage: Any = "battlefield", characters: Sequence[Any] = ("fox", "falco"),
                 agent_player: int = 0, max_frames: int | None = None, stocks: int = facts.STOCKS,
                 timer_frames: int = facts.GAME_FRAMES, compile: bool | str = False,
                 dtype: str | None = None) -> None:
        self.num_envs = num_envs
        self.stepper = load_stepper(checkpoint, compile=compile, dtype=dtype)
        self.core = BatchedCore(self.stepper, num_envs, stage, characters, stocks=stocks,
                                timer_frames=timer_frames)
        self.stage, self.characters = stage, tuple(characters)
        self.agent = agent_player
        self.opponent_spec = opponent
        self.bots = [as_bot(opponent) for _ in range(num_envs)]
        self.max_frames = max_frames
        self.single_action_space = spaces.Box(0.0, 1.0, (N_CONTROLLER,), np.float32)
        self.single_observation_space = spaces.Box(-OBS_CLIP, OBS_CLIP, (OBS_SIZE,), np.float32)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.frames = np.zeros(num_envs, np.int64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.action_space.seed(seed)
        self.core.reset(stage=self.stage, characters=self.characters)
        for i, b in enumerate(self.bots):
            if seed is not None and hasattr(b, "seed"):
                b.seed = seed + i
            b.reset()
        self.frames[:] = 0
        return observe(self.core, self.agent), {}

    def step(self, actions):
        acts = torch.as_tensor(np.asarray(actions, dtype=np.float32)).reshape(self.num_envs, N_CONTROLLER)
        acts = torch.nan_to_num(acts, nan=0.5).clamp(0, 1)
        ctrl = torch.zeros(self.num_envs, 2, N_CONTROLLER)
        ctrl[:, self.agent] = acts
        side = 1 - self.agent
        states = self.core.game_states() if any(b.reads_state for b in self.bots) else [None] * self.num_envs
        ctrl[:, side] = stack([bot(state if bot.reads_state else None, side)
                               for bot, state in zip(self.bots, states)])
        score = _Score(self.core)
        self.core.step(ctrl)
        self.frames += 1
        rewards = score.rewards(self.core)[:, self.agent].numpy().astype(np.float64)
        terminated = self.core.over.numpy().copy()
        truncated = np.zeros(self.num_envs, bool)
        if self.max_frames:
            truncated = (self.frames >= self.max_frames) & ~terminated
        obs = observe(self.core, self.agent)
        infos: dict[str, Any] = {}
        done = np.flatnonzero(terminated | truncated)
        if len(done):
            infos["final_obs"] = np.array([obs[i] if i in done else None for i in range(self.num_envs)], dtype=object)
            infos["_final_obs"] = terminated | truncated
            self.core.reset(done.tolist(), stage=self.stage, characters=self.characters)
            for i in done:
                self.bots[i].reset()
            self.frames[done] = 0
            obs = observe(self.core, self.agent)
        return obs, rewards, terminated, truncated, infos


class MeleeEnv(gym.Env):
    """One agent (player `agent_player`) against a bot (a name of `play.bots.BOTS`, a Bot, or any
    callable `(GameState, player) -> controller`)."""

    metadata = {"render_modes": []}

    def __init__(self, checkpoint: Any = None, opponent: Any = "chase", stage: Any = "battlefield",
                 characters: Sequence[Any] = ("fox", "falco"), agent_player: int = 0,
                 max_frames: int | None = None, stocks: int = facts.STOCKS,
                 timer_frames: int = facts.GAME_FRAMES, compile: bool | str = False,
                 dtype: str | None = None) -> None:
        self.stepper = load_stepper(checkpoint, compile=compile, dtype=dtype)
        self.core = BatchedCore(self.stepper, 1, stage, characters, stocks=stocks, timer_frames=timer_frames)
        self.stage, self.characters = stage, tuple(characters)
        self.agent = agent_player
        self.bot = as_bot(opponent)
        self.max_frames = max_frames
        self.action_space = spaces.Box(0.0, 1.0, (N_CONTROLLER,), np.float32)
        self.observation_space = spaces.Box(-OBS_CLIP, OBS_CLIP, (OBS_SIZE,), np.float32)
        self.frames = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        self.core.reset(stage=options.get("stage", self.stage), characters=options.get("characters", self.characters))
        if seed is not None and hasattr(self.bot, "seed"):
            self.bot.seed = seed
        self.bot.reset()
        self.frames = 0
        return observe(self.core, self.agent)[0], {"state": self.core.game_state(0)}

    def step(self, action):
        ctrl = torch.zeros(1, 2, N_CONTROLLER)
        ctrl[0, self.agent] = _action_tensor(action)
        ctrl[0, 1 - self.agent] = as_tensor(self.bot(self.core.game_state(0), 1 - self.agent))
        score = _Score(self.core)
        self.core.step(ctrl)
        self.frames += 1
        reward = float(score.rewards(self.core)[0, self.agent])
        terminated = bool(self.core.over[0])
        truncated = bool(self.max_frames and self.frames >= self.max_frames and not terminated)
        state = self.core.game_state(0)
        return observe(self.core, self.agent)[0], reward, terminated, truncated, {"state": state}


def _parallel_base():
    from pettingzoo import ParallelEnv

    return ParallelEnv


class MeleeParallelEnv(_parallel_base()):  # type: ignore[misc]
    """Two agents, `player_0` and `player_1`, each observing from its own side."""

    metadata = {"render_modes": [], "name": "dreamland_melee_v0"}

    def __init__(self, checkpoint: Any = None, stage: Any = "battlefield",
                 characters: Sequence[Any] = ("fox", "falco"), max_frames: int | None = None,
                 stocks: int = facts.STOCKS, timer_frames: int = facts.GAME_FRAMES,
                 compile: bool | str = False, dtype: str | None = None) -> None:
        self.stepper = load_stepper(checkpoint, compile=compile, dtype=dtype)
        self.core = BatchedCore(self.stepper, 1, stage, characters, stocks=stocks, timer_frames=timer_frames)
        self.stage, self.characters = stage, tuple(characters)
        self.possible_agents = ["player_0", "player_1"]
        self.agents: list[str] = []
        self.max_frames = max_frames
        self._obs_space = spaces.Box(-OBS_CLIP, OBS_CLIP, (OBS_SIZE,), np.float32)
        self._act_space = spaces.Box(0.0, 1.0, (N_CONTROLLER,), np.float32)
        self.frames = 0

    def observation_space(self, agent: str):
        return self._obs_space

    def action_space(self, agent: str):
        return self._act_space

    def _obs(self) -> dict[str, np.ndarray]:
        return {a: observe(self.core, i)[0] for i, a in enumerate(self.possible_agents) if a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._act_space.seed(seed)
        self.core.reset(stage=self.stage, characters=self.characters)
        self.agents = list(self.possible_agents)
        self.frames = 0
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        ctrl = torch.full((1, 2, N_CONTROLLER), 0.0)
        ctrl[0, :, :4] = 0.5
        for i, a in enumerate(self.possible_agents):
            if a in actions and actions[a] is not None:
                ctrl[0, i] = _action_tensor(actions[a])
        score = _Score(self.core)
        self.core.step(ctrl)
        self.frames += 1
        r = score.rewards(self.core)[0]
        over = bool(self.core.over[0])
        trunc = bool(self.max_frames and self.frames >= self.max_frames and not over)
        obs = self._obs()
        agents = list(self.agents)
        rewards = {a: float(r[self.possible_agents.index(a)]) for a in agents}
        terminations = {a: over for a in agents}
        truncations = {a: trunc for a in agents}
        infos: dict[str, dict] = {a: {} for a in agents}
        if over or trunc:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def close(self) -> None:
        pass


__all__ = ["MeleeEnv", "MeleeParallelEnv", "MeleeVectorEnv", "OBS_SIZE", "observation_names", "observe"]
