"""What Melee does to a continuous field by itself from one frame to the next, where it has a rule.

A continuous field's KEEP mode (model/heads.py) says "the value does what the game's rule says";
for most fields the rule is "stays", for these it is the game's own arithmetic:

* `x`, `y`: the game adds the frame's velocities to the position each frame. In the replays,
  x(t+1) = x(t) + vel_attack_x(t+1) + (vel_air_x(t+1) if airborne(t+1) else vel_ground_x(t+1))
  and, in the air, y(t+1) = y(t) + vel_y(t+1) + vel_attack_y(t+1) hold on most frames (the rest
  are ledge grabs, landings snapping to the floor, respawns: the delta and set modes); on the
  ground y stays (the floor holds it; slopes are the delta mode); with `hitlag`
  (`ModelConfig.hitlag_rules`), a character whose next frame is in hitlag stays where it is (the
  game freezes it while its velocities keep their values);
* `hitlag`: counts down by one a frame to zero.

With `velocities` (`ModelConfig.velocity_rules`) the velocities follow the game's physics too, by
the character's constants (schema/physics.py), and stay as they are while the next frame is in
hitlag (the game freezes a character then):

* `vel_y`, in the air: loses the character's gravity, down to its terminal velocity (a faster fall,
  a fast-fall, keeps its speed);
* `vel_air_x` in the air and `vel_ground_x` on the ground: lose the air or ground friction toward 0;
* `vel_attack_x`, `vel_attack_y` (knockback): the vector loses `KNOCKBACK_DECAY` of its length.

With `motion` (`ModelConfig.motion_rules`), a game that did not record velocities (Slippi < 3.0:
its `present` flags say so) moves a position by its displacement on the frame before, the constant
velocity that is the best one-frame guess there (the velocities it would add are all 0), times
`carry` (x, y) (`ModelConfig.motion_carry`, `motion_carry_y`: below 1, a displacement fades out
unless the heads renew it). That displacement needs the previous frame: a window has it, a step
carries the previous positions in the model state (`WorldModel.motion`), and a stream's first
frame counts as at rest.

The rules chain (hitlag -> velocities -> positions), so a step decodes `depth` times, each pass's
base reading the fields the pass before decoded (model/rules.py).

The base is computed from the *next* frame's velocities and airborne flag: in training from the
real next frame (the targets, `heads.real_targets`), in a step from the predicted ones
(`rules.Rules`), so the rule that produced a target is the rule that decodes it. A game that did
not record velocities stores them as 0 and its base is the current position, which is also what
its rules decode (absent fields stay 0). How often each rule holds in real games: docs/model.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dreamland.schema import Field
from dreamland.schema.characters import NUM_INTERNAL
from dreamland.schema.physics import KNOCKBACK_DECAY, physics

# a target within this many game units of its base is a KEEP: the game's float32 sum and ours may
# differ in the last bits
KEEP_TOLERANCE = 1e-3
_AT_REST = 1e-6  # game units/frame added under the knockback's length, far below any real one


def _col(fs: tuple[Field, ...], name: str) -> int:
    for j, f in enumerate(fs):
        if f.name == name:
            return j
    raise KeyError(f"the rule priors need field {name!r}, which the schema no longer has")


_VELOCITIES = ("vel_air_x", "vel_y", "vel_attack_x", "vel_attack_y", "vel_ground_x")
# a character without counted constants: gravity and friction 0, no terminal velocity (its
# velocities keep their value)
_NO_RULE = (0.0, 1e9, 0.0, 0.0)


def _physics_table() -> Tensor:
    """(NUM_INTERNAL, 4) gravity, terminal velocity, ground friction, air friction."""
    rows = []
    for iid in range(NUM_INTERNAL):
        p = physics(iid)
        rows.append(_NO_RULE if p is None else (p.gravity, p.terminal, p.ground_friction, p.air_friction))
    return torch.tensor(rows, dtype=torch.float32)


class CharPriors(nn.Module):
    """The rule base of a character slot's predicted real columns, in encoded units."""

    def __init__(self, real: tuple[Field, ...], cat: tuple[Field, ...], binary: tuple[Field, ...],
                 pred: tuple[int, ...], velocities: bool = False, motion: bool = False,
                 hitlag: bool = False, carry: tuple[float, float] = (1.0, 1.0)):
        super().__init__()
        self.pred = pred
        self.velocities = velocities
        self.motion = motion
        self.carry = tuple(float(c) for c in carry)
        self.hitlag = hitlag
        self.depth = 3 if velocities else 1
        names = ("x", "y", "hitlag") + _VELOCITIES
        self.col = {name: _col(real, name) for name in names}
        self.k = {name: pred.index(self.col[name]) for name in names}
        self.airborne = _col(binary, "airborne")
        self.character = _col(cat, "character")
        self.scale = {name: real[j].scale for name, j in self.col.items()}
        self.register_buffer("table", _physics_table(), persistent=False)

    def _game(self, real: Tensor, name: str) -> Tensor:
        return real[..., self.col[name]] * self.scale[name]

    def _set(self, base: Tensor, name: str, game: Tensor) -> None:
        base[..., self.k[name]] = game / self.scale[name]

    # ------------------------------------------------------------------ observed motion

    def positions(self, char_real: Tensor, char_exists: Tensor) -> Tensor:
        """(..., S, 3): encoded x, y and 1 where the slot exists; what a step keeps of a frame to
        measure the next one's motion."""
        on = (char_exists > 0.5).to(char_real.dtype)
        return torch.stack([char_real[..., self.col["x"]], char_real[..., self.col["y"]], on], -1)

    def motion_since(self, prev: Tensor, char_real: Tensor, char_exists: Tensor) -> Tensor:
        """(..., S, 2) encoded displacement from `prev` (`positions` of the frame before) to this
        frame; 0 where either frame lacks the slot (a stream's first frame, a respawned follower)."""
        now = self.positions(char_real, char_exists)
        known = (prev[..., 2:] > 0.5) & (now[..., 2:] > 0.5)
        return torch.where(known, now[..., :2] - prev[..., :2], torch.zeros_like(now[..., :2]))

    def window_motion(self, char_real: Tensor, char_exists: Tensor) -> Tensor:
        """`motion_since` for every frame of windows (B, T, S, F); 0 on each window's first frame."""
        pos = self.positions(char_real, char_exists)
        first = torch.zeros_like(pos[:, :1])  # no frame before the window: as at rest
        return self.motion_since(torch.cat([first, pos[:, :-1]], 1), char_real, char_exists)

    # ------------------------------------------------------------------ the bases

    def base(self, cur_real: Tensor, cur_cat: Tensor, nxt_real: Tensor, nxt_bin: Tensor,
             motion: Tensor | None = None, present: Tensor | None = None) -> Tensor:
        """(..., S, n_pred) encoded bases: the current values, with the ruled fields replaced.
        `motion` (`motion_since`) moves the positions of the games whose `present` flags (per
        game, (..., n)) say they recorded no velocities."""
        base = cur_real[..., list(self.pred)].clone()
        air = nxt_bin[..., self.airborne] > 0.5
        vx = self._game(nxt_real, "vel_attack_x") + torch.where(
            air, self._game(nxt_real, "vel_air_x"), self._game(nxt_real, "vel_ground_x"))
        vy = torch.where(air, self._game(nxt_real, "vel_y") + self._game(nxt_real, "vel_attack_y"), 0.0)
        if self.motion and motion is not None and present is not None:
            unrecorded = (present[..., self.col["vel_y"]] < 0.5).unsqueeze(-1)  # (..., 1): every slot
            vx = torch.where(unrecorded, motion[..., 0] * (self.carry[0] * self.scale["x"]), vx)
            vy = torch.where(unrecorded, motion[..., 1] * (self.carry[1] * self.scale["y"]), vy)
        if self.hitlag:
            frozen = self._game(nxt_real, "hitlag") > 0
            vx, vy = torch.where(frozen, 0.0, vx), torch.where(frozen, 0.0, vy)
        self._set(base, "x", self._game(cur_real, "x") + vx)
        self._set(base, "y", self._game(cur_real, "y") + vy)
        self._set(base, "hitlag", (self._game(cur_real, "hitlag") - 1).clamp_min(0))
        if self.velocities:
            moving = self._game(nxt_real, "hitlag") <= 0
            phys = self.table[cur_cat[..., self.character].long().clamp(0, NUM_INTERNAL - 1)]
            self._velocity_rules(base, cur_real, phys.unbind(-1), air & moving, ~air & moving, moving)
        return base

    def _velocity_rules(self, base: Tensor, cur: Tensor, phys: tuple[Tensor, ...],
                        air: Tensor, ground: Tensor, moving: Tensor) -> None:
        gravity, terminal, ground_friction, air_friction = phys
        vy = self._game(cur, "vel_y")
        fallen = torch.where(vy <= -terminal, vy, torch.maximum(vy - gravity, -terminal))
        self._set(base, "vel_y", torch.where(air, fallen, vy))
        for name, friction, on in (("vel_air_x", air_friction, air), ("vel_ground_x", ground_friction, ground)):
            v = self._game(cur, name)
            self._set(base, name, torch.where(on, torch.sign(v) * (v.abs() - friction).clamp_min(0), v))
        kx, ky = self._game(cur, "vel_attack_x"), self._game(cur, "vel_attack_y")
        # hypot's gradient at (0, 0) is 0/0: self-forcing differentiates through frames at rest
        speed = torch.sqrt(kx * kx + ky * ky + _AT_REST**2)
        shrink = torch.where(moving, (speed - KNOCKBACK_DECAY).clamp_min(0) / speed, 1.0)
        self._set(base, "vel_attack_x", kx * shrink)
        self._set(base, "vel_attack_y", ky * shrink)

    def keep_tolerance(self, like: Tensor) -> Tensor:
        """(n_pred,) encoded tolerance of a KEEP target: exact for fields without a rule."""
        tol = torch.zeros(len(self.pred), dtype=like.dtype, device=like.device)
        for name in ("x", "y") + (_VELOCITIES if self.velocities else ()):
            tol[self.k[name]] = KEEP_TOLERANCE / self.scale[name]
        return tol


__all__ = ["CharPriors", "KEEP_TOLERANCE"]
