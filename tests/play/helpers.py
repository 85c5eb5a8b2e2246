"""Stand-in steppers for the play tests (none of them is the world model), and a WebSocket helper."""

from __future__ import annotations

import json
import time

import torch

from dreamland.data.frame import player_column

X = player_column("x")[1]
Y = player_column("y")[1]


class ScriptedStepper:
    """Moves player `who` by (dx, dy) units per frame and keeps everything else; the rules are
    then tested on a known trajectory."""

    context = 1

    def __init__(self, dx: float = 0.0, dy: float = 0.0, who: int = 0) -> None:
        self.dx, self.dy, self.who = dx, dy, who
        self.calls = 0

    def init(self, seed):
        return torch.zeros(seed["player_exists"].shape[0])

    def step(self, model_state, game_state, controllers):
        self.calls += 1
        g = {k: v.clone() for k, v in game_state.items()}
        g["player_real"][:, self.who, X] += self.dx
        g["player_real"][:, self.who, Y] += self.dy
        return model_state + 1, g


class RecordingStepper(ScriptedStepper):
    """Keeps the frame and records the controllers it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def step(self, model_state, game_state, controllers):
        self.seen.append(controllers.clone())
        return super().step(model_state, game_state, controllers)


async def recv_until(ws, kind: str, timeout: float = 5.0) -> dict:
    """The next server message of type `kind` on an aiohttp WebSocket (others are skipped)."""
    import aiohttp

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msg = await ws.receive(timeout=max(0.01, end - time.monotonic()))
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"connection ended: {msg.type}")
        data = json.loads(msg.data)
        if data["type"] == kind:
            return data
    raise AssertionError(f"no {kind} message")
