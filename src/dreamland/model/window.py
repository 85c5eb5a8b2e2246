"""Teacher-forced windows: the training loss and the predictions it scores, decoded by the same
rules as the one step (`model.step`).

A window is T = K+1 encoded frames (`data.encoding.encode` of a `WindowSampler` batch): the model
reads frames 0..K-1 with the controllers of frames 1..K and predicts frames 1..K.
"""

from __future__ import annotations

from torch import Tensor

from dreamland.data.encoding import broadcast_per_game
from dreamland.model.heads import Base, LossConfig, part_losses, total_loss
from dreamland.model.rules import age_rule_window
from dreamland.model.step import Encoded, state_keys
from dreamland.model.world import WorldModel


def prepare_window(enc: Encoded) -> tuple[Encoded, Tensor, Encoded]:
    """An encoded window of T = K+1 frames (`data.encoding.encode` of a `WindowSampler` batch) ->
    (inputs = frames 0..K-1, controllers of frames 1..K, targets = frames 1..K). state_age is
    rewritten by its rule first (see `rules.age_rule_window`), so training reads what play writes."""
    enc = dict(enc)
    enc["char_real"] = age_rule_window(enc["char_real"], enc["char_cat"], enc["char_exists"])
    enc = broadcast_per_game(enc)
    inputs = {k: enc[k][:, :-1] for k in state_keys(enc)}
    targets = {k: enc[k][:, 1:] for k in state_keys(enc)}
    return inputs, enc["controller"][:, 1:], targets


def window_loss(
    model: WorldModel, enc: Encoded, loss_config: LossConfig | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """Teacher-forced loss of a batch of encoded windows: (weighted total, per-field losses)."""
    inputs, controllers, targets = prepare_window(enc)
    out = model(inputs, controllers)
    return loss_from_heads(model, out, inputs, targets, loss_config, model.window_motion(inputs))


def loss_from_heads(
    model: WorldModel, out: dict[str, Tensor], inputs: Encoded, targets: Encoded,
    loss_config: LossConfig | None = None, motion: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-field losses (dict, keys `heads.loss_keys()`) and their weighted total for head outputs
    `out` predicting `targets` from `inputs` (any leading shape: a window or one step; `motion`:
    `model.window_motion(inputs)` or a step's `model.motion`)."""
    cfg = loss_config or LossConfig()
    r = model.rules
    losses: dict[str, Tensor] = {}
    for part in (model.char_part, model.item_part):
        dunit = getattr(r, f"{part.name}_dunit")
        base = None
        if part.name == "char" and r.priors is not None:  # the rule that decodes is the rule scored
            value = r.priors.base(inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"],
                                  motion, inputs.get("present"))
            base = Base(value, r.priors.keep_tolerance(value))
        losses.update(part_losses(part, out[part.name], inputs, targets, dunit, r.jump_threshold, cfg, base))
    return total_loss(losses, cfg), losses


def predict_window(model: WorldModel, inputs: Encoded, controllers: Tensor) -> Encoded:
    """Teacher-forced predictions of frames 1..T from real frames 0..T-1 (encoded, (B, T, ...)),
    decoded by the same rules as `step`."""
    return decode_window(model, inputs, model(inputs, controllers), controllers)


def decode_window(model: WorldModel, inputs: Encoded, out: dict[str, Tensor], controllers: Tensor) -> Encoded:
    """The frames a window's head outputs `out` decode to (what `predict_window` returns), for a
    caller that already ran the model (validation scores and decodes one forward)."""
    return model.rules(broadcast_per_game(inputs), out, controllers, model.window_motion(inputs))


__all__ = ["decode_window", "loss_from_heads", "predict_window", "prepare_window", "window_loss"]
