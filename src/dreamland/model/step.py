"""THE step function, and the window paths that share its decoding.

    step(model, model_state, game_state, controllers) -> (model_state, next_game_state)

* `game_state`: one frame per stream as store values (torch tensors, game units), the keys of a
  `data.windows` batch without the time axis: player_real (B, 2, F), player_small, player_wide,
  player_exists (B, 2), follower_* (same), item_real (B, S, F), item_small, item_exists (B, S),
  stage (B,); optionally controller_sticks/controller_buttons (the inputs that produced it),
  frame_id (B,) and anything else (carried unchanged: characters, game, ...).
* `controllers`: (B, 2, 17) encoded inputs of the frame to predict (libmelee's 0..1 sticks and
  trigger, then the 12 buttons as 0/1; `data.encoding.encode_controller` builds them).
* returns the new recurrent state and the next frame as store values with the same keys, its
  `controller_*` being the given controllers (in the store, a frame's controller is the input
  that produced it) and `frame_id` + 1.

Every caller uses it: self-forcing in training (`step_encoded`, the same function without the
store round trip), evaluation rollouts, live play and the agent environments (through
`model.stepper`: no gradients, fixed dtypes and strides, optionally compiled). Decoding, clamping
and the state_age rule live in `model/rules.py` only; `model.window.predict_window` applies the
same rules to a teacher-forced window, and `seed` starts a rollout from real frames.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.encoding import CHAR_REAL, ITEM_REAL, broadcast_per_game, decode, encode
from dreamland.data.frame import frame_at
from dreamland.model.rules import age_rule_window
from dreamland.model.world import ModelState, WorldModel

GameState = dict[str, Tensor]
Encoded = dict[str, Tensor]

STATE_KEYS = ("char_real", "char_cat", "char_bin", "char_exists", "item_real", "item_cat",
              "item_bin", "item_exists", "stage")


# ----------------------------------------------------------------------------- encoding helpers


def encode_state(game_state: GameState) -> Encoded:
    """Store values of frames (any leading shape) -> the encoded state (no controller)."""
    batch = dict(game_state)
    if "controller_sticks" not in batch:
        lead = batch["player_exists"].shape
        dev = batch["player_exists"].device
        batch["controller_sticks"] = torch.zeros(*lead, len(layout.CONTROLLER_GROUPS[0].fields), device=dev)
        batch["controller_buttons"] = torch.zeros(*lead, 1, dtype=torch.int32, device=dev)
    enc = encode(batch)
    enc.pop("controller")
    return enc


def decode_state(enc: Encoded, like: GameState | None = None, advance: bool = True) -> GameState:
    """Encoded frame (with its `controller`) -> store values, every tensor contiguous; keys of
    `like` that encoding does not cover are carried (frame_id + 1 when `advance`)."""
    out = {k: v.contiguous() for k, v in decode(enc).items()}
    if like is not None:
        for k, v in like.items():
            if k not in out or k == "stage":  # the stage is carried as given (its dtype too)
                out[k] = v + 1 if (k == "frame_id" and advance) else v
    return out


# ----------------------------------------------------------------------------- the step


def step_encoded(
    model: WorldModel, model_state: ModelState, enc: Encoded, controllers: Tensor,
    return_heads: bool = False, donate: bool = False,
):
    """The step on encoded frames (B, ...): what self-forcing calls (differentiable through the
    recurrent state and the continuous fields). With `return_heads`, also the raw head outputs,
    which the training loss scores. `donate` (no gradient): the recurrent state is updated in
    place and must not be used again, and the heads are only decoded (`WorldModel.heads`)."""
    motion = model.motion(model_state, enc)  # before the step consumes the state
    out, new_state = model.step(model_state, enc, controllers, donate, decode_only=donate and not return_heads)
    nxt = model.rules(enc, out, controllers, motion)
    return (new_state, nxt, out) if return_heads else (new_state, nxt)


def step(
    model: WorldModel, model_state: ModelState, game_state: GameState, controllers: Tensor,
    donate: bool = False,
) -> tuple[ModelState, GameState]:
    """One frame for every stream of the batch: see the module docstring (`donate`: as for
    `step_encoded`)."""
    enc = encode_state(game_state)
    new_state, nxt = step_encoded(model, model_state, enc, controllers, donate=donate)
    return new_state, _exact_keeps(decode_state(nxt, like=game_state), game_state, enc, nxt)


# encoded real column k of a character / item slot is column k of the store's "real" group
assert [(g, j) for g, j, _ in CHAR_REAL] == [("real", k) for k in range(len(CHAR_REAL))]
assert [(g, j) for g, j, _ in ITEM_REAL] == [("real", k) for k in range(len(ITEM_REAL))]


def _exact_keeps(out: GameState, game_state: GameState, enc: Encoded, nxt: Encoded) -> GameState:
    """Where the next encoded real value is the current one (a KEEP decision, or a rule that
    left it), return the input's store value bit for bit: value / scale * scale may differ from
    value in the last bit, and a kept percent must stay exactly what it was over any number of
    frames."""
    same = nxt["char_real"] == enc["char_real"]
    out["player_real"] = torch.where(same[..., :2, :], game_state["player_real"].to(out["player_real"].dtype), out["player_real"])
    out["follower_real"] = torch.where(same[..., 2:, :], game_state["follower_real"].to(out["follower_real"].dtype), out["follower_real"])
    same = nxt["item_real"] == enc["item_real"]
    out["item_real"] = torch.where(same, game_state["item_real"].to(out["item_real"].dtype), out["item_real"])
    return out


def seed(model: WorldModel, window: GameState) -> tuple[ModelState, GameState]:
    """Start a rollout from K >= 1 real frames (store values, (B, K, ...)): runs the window
    forward over frames 0..K-2 with the inputs of frames 1..K-1 and returns (the recurrent state,
    frame K-1 as a game state). The next `step(state, frame, controllers of frame K)` predicts
    frame K. state_age of the returned frame follows the rule, as during training."""
    enc = encode(window)
    enc["char_real"] = age_rule_window(enc["char_real"], enc["char_cat"], enc["char_exists"])
    enc = broadcast_per_game(enc)
    K = enc["char_exists"].shape[1]
    B = enc["char_exists"].shape[0]
    if K > 1:
        inputs = {k: enc[k][:, :-1] for k in state_keys(enc)}
        _, state = model(inputs, enc["controller"][:, 1:], return_state=True)
        state = tuple(s.contiguous() for s in state)
    else:
        state = model.allocate_state(B, device=enc["char_exists"].device)
    last = {k: enc[k][:, -1] for k in state_keys(enc)}
    last["controller"] = enc["controller"][:, -1]
    return state, decode_state(last, like=frame_at(window, -1), advance=False)


def state_keys(enc: Encoded) -> tuple[str, ...]:
    """The encoded keys of a frame the model reads (`present` where the batch has it)."""
    return STATE_KEYS + (("present",) if "present" in enc else ())


__all__ = ["Encoded", "GameState", "STATE_KEYS", "decode_state", "encode_state", "seed", "state_keys",
           "step", "step_encoded"]
