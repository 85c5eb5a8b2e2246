"""What one training batch computes: teacher forcing, then optionally self-forcing.

One module holds the whole objective so that DistributedDataParallel sees every parameter use
(the window forward and the recurrent steps of the unroll) inside one `forward` call.

Self-forcing: of a window of K + 1 frames, the first K - N targets are predicted teacher-forced
(real frames in, as in plain training); the model state after them continues frame by frame for
the last N frames through `model.step.step_encoded`, the same step function play uses: each step
reads the model's own decoded output of the previous step and the real controllers, and is scored
against the real frame. Gradients flow through the recurrent state and the continuous fields of
the unroll unless `detach` is set.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dreamland.model.heads import LossConfig
from dreamland.model.step import step_encoded
from dreamland.model.window import loss_from_heads, prepare_window
from dreamland.model.world import WorldModel


class Objective(nn.Module):
    def __init__(self, model: WorldModel, loss_config: LossConfig):
        super().__init__()
        self.model = model
        self.loss_config = loss_config

    def forward(self, enc: dict[str, Tensor], unroll: int = 0, detach: bool = False):
        """(total loss, per-field losses summed over the parts of the window that were scored)."""
        inputs, controllers, targets = prepare_window(enc)
        k = controllers.shape[1]
        unroll = min(unroll, k - 1)
        if unroll <= 0:
            out = self.model(inputs, controllers)
            return loss_from_heads(self.model, out, inputs, targets, self.loss_config,
                                   self.model.window_motion(inputs))
        head = k - unroll
        first = {key: v[:, :head] for key, v in inputs.items()}
        out, state = self.model(first, controllers[:, :head], return_state=True)
        total, losses = loss_from_heads(
            self.model, out, first, {key: v[:, :head] for key, v in targets.items()}, self.loss_config,
            self.model.window_motion(first),
        )
        weight_tf = head / k
        total = total * weight_tf
        losses = {key: v * weight_tf for key, v in losses.items()}
        cur = {key: v[:, head] for key, v in inputs.items()}
        for j in range(unroll):
            t = head + j
            if detach:
                state = tuple(s.detach() for s in state)
                cur = {key: v.detach() for key, v in cur.items()}
            motion = self.model.motion(state, cur)
            state, nxt, heads = step_encoded(self.model, state, cur, controllers[:, t], return_heads=True)
            step_total, step_losses = loss_from_heads(
                self.model, heads, cur, {key: v[:, t] for key, v in targets.items()}, self.loss_config, motion
            )
            total = total + step_total / k
            for key, v in step_losses.items():
                losses[key] = losses[key] + v / k
            cur = {key: nxt[key] for key in inputs}
        return total, losses


def unroll_length(step: int, cfg) -> int:
    """N for this step: 0 before `start_step`, then growing linearly over `ramp_steps`."""
    if not cfg.enabled or step < cfg.start_step:
        return 0
    frac = min(1.0, (step - cfg.start_step) / max(1, cfg.ramp_steps))
    return int(round(cfg.unroll_start + frac * (cfg.unroll_end - cfg.unroll_start)))


def unroll_share(step: int, cfg) -> float:
    if not cfg.enabled or step < cfg.start_step:
        return 0.0
    frac = min(1.0, (step - cfg.start_step) / max(1, cfg.ramp_steps))
    return cfg.share_start + frac * (cfg.share_end - cfg.share_start)


def batch_unrolls(step: int, seed: int, cfg) -> int:
    """Whether this step's batch is unrolled (and how far): a coin flip seeded by (seed, step), so
    a resumed run makes the same choices."""
    n = unroll_length(step, cfg)
    if n == 0:
        return 0
    g = torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + 17) & 0x7FFFFFFF)
    return n if torch.rand((), generator=g).item() < unroll_share(step, cfg) else 0
