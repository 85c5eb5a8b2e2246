"""Play the world model: a game session in Python, bots, agent environments and a web page.

See docs/play.md. Public entry points:

* `Session(checkpoint, stage, characters)`: `reset()`, `step(controller_1, controller_2)`.
* `Controller`: libmelee's vocabulary (`press_button`, `tilt_analog`, ...), `to_tensor()`.
* bots (`IdleBot`, `RandomBot`, `ReplayInputsBot`, `ChaseBot`, any callable).
* `BatchedCore`: many games at once; the environments in `dreamland.play.envs`.
* `serve(...)` in `dreamland.play.server`: the web game.
"""

from dreamland.play.bots import BOTS, ChaseBot, FunctionBot, IdleBot, RandomBot, ReplayInputsBot, as_bot, make_bot
from dreamland.play.controller import Button, Controller
from dreamland.play.core import BatchedCore
from dreamland.play.session import Session
from dreamland.play.state import GameState, ItemState, PlayerState
from dreamland.play.toy import PhysicsToyStepper

__all__ = [
    "BOTS", "BatchedCore", "Button", "ChaseBot", "Controller", "FunctionBot", "GameState", "IdleBot",
    "ItemState", "PhysicsToyStepper", "PlayerState", "RandomBot", "ReplayInputsBot", "Session",
    "as_bot", "make_bot",
]
