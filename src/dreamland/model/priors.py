"""What Melee does to a continuous field by itself from one frame to the next, where it has a rule.

A continuous field's KEEP mode (model/heads.py) says "the value does what the game's rule says";
for most fields the rule is "stays", for these it is the game's own arithmetic:

* `x`, `y`: the game adds the frame's velocities to the position each frame. In the replays,
  x(t+1) = x(t) + vel_attack_x(t+1) + (vel_air_x(t+1) if airborne(t+1) else vel_ground_x(t+1))
  and, in the air, y(t+1) = y(t) + vel_y(t+1) + vel_attack_y(t+1) hold on most frames (the rest
  are ledge grabs, landings snapping to the floor, respawns: the delta and set modes); on the
  ground y stays (the floor holds it; slopes are the delta mode);
* `hitlag`: counts down by one a frame to zero.

The base is computed from the *next* frame's velocities and airborne flag: in training from the
real next frame (the targets, `heads.real_targets`), in a step from the predicted ones
(`rules.Rules`), so the rule that produced a target is the rule that decodes it. A game that did
not record velocities stores them as 0 and its base is the current position, which is also what
its rules decode (absent fields stay 0). How often each rule holds in real games: docs/model.md.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dreamland.schema import Field

# a target within this many game units of its base is a KEEP: the game's float32 sum and ours may
# differ in the last bits
KEEP_TOLERANCE = 1e-3


def _col(fs: tuple[Field, ...], name: str) -> int:
    for j, f in enumerate(fs):
        if f.name == name:
            return j
    raise KeyError(f"the rule priors need field {name!r}, which the schema no longer has")


class CharPriors:
    """The rule base of a character slot's predicted real columns, in encoded units."""

    def __init__(self, real: tuple[Field, ...], binary: tuple[Field, ...], pred: tuple[int, ...]):
        self.pred = pred
        self.real = real
        col = {name: _col(real, name) for name in
               ("x", "y", "hitlag", "vel_air_x", "vel_y", "vel_attack_x", "vel_attack_y", "vel_ground_x")}
        self.col = col
        self.airborne = _col(binary, "airborne")
        self.scale = {name: real[j].scale for name, j in col.items()}
        # positions of the fields with a rule among the predicted columns
        self.k_x, self.k_y, self.k_hitlag = (pred.index(col[n]) for n in ("x", "y", "hitlag"))

    def _game(self, real: Tensor, name: str) -> Tensor:
        return real[..., self.col[name]] * self.scale[name]

    def base(self, cur_real: Tensor, nxt_real: Tensor, nxt_bin: Tensor) -> Tensor:
        """(..., S, n_pred) encoded bases: the current values, with the ruled fields replaced."""
        base = cur_real[..., list(self.pred)].clone()
        air = nxt_bin[..., self.airborne] > 0.5
        vx = self._game(nxt_real, "vel_attack_x") + torch.where(
            air, self._game(nxt_real, "vel_air_x"), self._game(nxt_real, "vel_ground_x"))
        vy = torch.where(air, self._game(nxt_real, "vel_y") + self._game(nxt_real, "vel_attack_y"), 0.0)
        base[..., self.k_x] = (self._game(cur_real, "x") + vx) / self.scale["x"]
        base[..., self.k_y] = (self._game(cur_real, "y") + vy) / self.scale["y"]
        hitlag = self._game(cur_real, "hitlag")
        base[..., self.k_hitlag] = (hitlag - 1).clamp_min(0) / self.scale["hitlag"]
        return base

    def keep_tolerance(self, like: Tensor) -> Tensor:
        """(n_pred,) encoded tolerance of a KEEP target: exact for fields without a rule."""
        tol = torch.zeros(len(self.pred), dtype=like.dtype, device=like.device)
        for k, name in ((self.k_x, "x"), (self.k_y, "y")):
            tol[k] = KEEP_TOLERANCE / self.scale[name]
        return tol


__all__ = ["CharPriors", "KEEP_TOLERANCE"]
