"""What play needs from a world model (the `Stepper` protocol), where one comes from, and a toy.

A stepper advances a batch of games by one frame:

    model_state = stepper.init(seed)          # seed: (B, K, ...) frames, a data.windows batch
    model_state, next_frame = stepper.step(model_state, frame, controllers)

* `seed`: the K most recent frames of each game as store values (the keys of a `data.windows`
  batch: player_*, follower_*, item_*, controller_sticks/buttons = the input that produced each
  frame, frame_id, and the timeless `stage` (B,), `characters` (B, 2)). Play builds seeds of
  `stepper.context` frames (an optional attribute, default 1).
* `frame`: the current frame (B, ...) (the seed's last frame at first, then what `step` returned
  and the play rules adjusted); `controllers` (B, 2, 17): the encoded inputs of the frame to
  predict (`data.encoding.encode_controller`). Returns the next frame with the same keys.
* `model_state` is opaque to play, except that resetting some games of a batch needs to replace
  their rows: it must be a tensor or a (nested) tuple / list / dict of tensors whose first axis is
  the batch, or the stepper may define `reset_rows(model_state, rows, seed) -> model_state`.
* Time per `step` must not depend on how many frames were played (a recurrent state, no window).

Decoding, clamping and the state_age rule are the stepper's business (model/rules.py for the real
model); play only applies the game rules of `play.rules` on top of what `step` returns.

`PhysicsToyStepper` is NOT a world model: a few lines of hand-written physics (walk, jump,
gravity, platforms, shield, a jab, a projectile) that produce frames in the right format so the
play loop, the rules, the bots, the environments and the web page can be tested and demonstrated
without a trained checkpoint.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.play import facts
from dreamland.play.controller import BUTTONS
from dreamland.play.state import player_col
from dreamland.schema import stages as S


@runtime_checkable
class Stepper(Protocol):
    def init(self, seed: dict[str, Tensor]) -> Any: ...

    def step(self, model_state: Any, game_state: dict[str, Tensor], controllers: Tensor) -> tuple[Any, dict[str, Tensor]]: ...


def resolve_stepper(checkpoint: Any = None, *, compile: bool | str = False, dtype: str | None = None) -> Stepper:
    """A stepper from what a user gave: a `Stepper` itself, a zero-argument factory, the string
    "toy" (the `PhysicsToyStepper`), a checkpoint folder, or None for the model shipped with
    dreamland (`model.checkpoint.default_checkpoint`). `compile` and `dtype` apply to a model
    loaded from a checkpoint (`model.step.Stepper`: e.g. "aot-tuned" and "float16" step the large
    preset in under 2 ms on two CPU cores)."""
    if checkpoint is not None and hasattr(checkpoint, "init") and hasattr(checkpoint, "step"):
        return checkpoint
    if isinstance(checkpoint, str) and checkpoint.lower() in ("toy", "physics-toy", "physicstoy"):
        return PhysicsToyStepper()
    if callable(checkpoint) and not isinstance(checkpoint, (str, bytes)):
        return checkpoint()
    from dreamland.model.checkpoint import default_checkpoint
    from dreamland.model.step import load_stepper

    return load_stepper(str(default_checkpoint() if checkpoint is None else checkpoint), compile=compile, dtype=dtype)


def merge_rows(full: Any, part: Any, rows: Tensor) -> Any:
    """`full` with its batch rows `rows` replaced by `part` (same nesting; see the module doc)."""
    if isinstance(full, Tensor):
        out = full.clone()
        out[rows] = part.to(out.dtype)
        return out
    if isinstance(full, (tuple, list)):
        return type(full)(merge_rows(f, p, rows) for f, p in zip(full, part))
    if isinstance(full, dict):
        return {k: merge_rows(full[k], part[k], rows) for k in full}
    if full is None:
        return None
    raise TypeError(f"cannot reset rows of a model state of type {type(full).__name__}; "
                    "define reset_rows on the stepper")


# ---------------------------------------------------------------------------------------------
# The toy


def _c(name: str) -> int:
    return player_col(name)[1]


_R = {n: _c(n) for n in layout.PLAYER_GROUPS[0].names}
_S = {n: _c(n) for n in layout.PLAYER_GROUPS[1].names}
_W = {n: _c(n) for n in layout.PLAYER_GROUPS[2].names}
_IR = {n: j for j, n in enumerate(layout.ITEM_GROUPS[0].names)}
_IS = {n: j for j, n in enumerate(layout.ITEM_GROUPS[1].names)}
_BTN = {b: 5 + i for i, b in enumerate(BUTTONS)}

STANDING, WALK, DASH, KNEE_BEND = 14, 16, 20, 24
JUMP_F, JUMP_AIR_F, FALL, SPECIAL_FALL, LANDING = 25, 27, 29, 35, 42
JAB, NAIR, DAMAGE_FLY, SHIELD = 44, 65, 88, 179
HALO_DESCENT, HALO_WAIT = 12, 13
TOY_PROJECTILE_TYPE = 54  # an item type id for the toy's projectile (Fox's laser in the game)


class PhysicsToyStepper:
    """NOT the world model: hand-written toy physics in the store format, for tests and demos.

    Walk/dash with the main stick, jump with X or Y (a second jump in the air), gravity, landing on
    the main stage and the platforms (hold down to drop through), falling off edges, shield with L/R
    or the trigger (the shield field drains), a jab / neutral air with A that hits an opponent in
    front (percent, knockback, hitlag, hitstun), an up-B that lifts once per airtime, a projectile
    item with B. state_age follows the rule. Deterministic."""

    context = 1

    def __init__(self, gravity: float = 0.13, walk: float = 1.4, jump: float = 3.0) -> None:
        self.gravity, self.walk, self.jump = gravity, walk, jump
        self._surfaces: dict[int, Tensor] = {}

    def init(self, seed: dict[str, Tensor]) -> Tensor:
        return torch.zeros(seed["player_exists"].shape[0], dtype=torch.long)  # frames stepped

    def reset_rows(self, model_state: Tensor, rows: Tensor, seed: dict[str, Tensor]) -> Tensor:
        out = model_state.clone()
        out[rows] = 0
        return out

    def _stage_surfaces(self, stage: Tensor) -> Tensor:
        """(B, P, 4): left, right, y, ground id of the main stage (row 0) and the platforms."""
        rows = []
        for sid in stage.tolist():
            if sid not in self._surfaces:
                try:
                    g = S.geometry(sid)
                    main_id, plat_ids = facts.GROUND_IDS[sid]
                    surf = [(-g.ground_x, g.ground_x, 0.0, main_id)]
                    surf += [(p.left, p.right, p.y, i) for p, i in zip(g.platforms, plat_ids)]
                except KeyError:
                    surf = [(-80.0, 80.0, 0.0, 1)]
                surf += [(0.0, 0.0, -1e9, 255)] * (4 - len(surf))
                self._surfaces[sid] = torch.tensor(surf, dtype=torch.float32)
            rows.append(self._surfaces[sid])
        return torch.stack(rows)

    @torch.no_grad()
    def step(self, model_state: Tensor, game_state: dict[str, Tensor], controllers: Tensor):
        g = {k: v.clone() for k, v in game_state.items()}
        real, small, wide = g["player_real"], g["player_small"], g["player_wide"]
        c = controllers.float()
        sx, sy = (c[..., 0] - 0.5) * 2, (c[..., 1] - 0.5) * 2
        trig = c[..., 4]
        btn = {b: c[..., i] > 0.5 for b, i in _BTN.items()}
        prev = game_state.get("controller_buttons")
        prev_mask = prev[..., 0].long() if prev is not None else torch.zeros_like(sx, dtype=torch.long)
        from dreamland.schema.controller import BUTTON_BITS

        def held_before(b: str) -> Tensor:
            return (prev_mask & BUTTON_BITS[b]) != 0

        jump_press = (btn["X"] & ~held_before("X")) | (btn["Y"] & ~held_before("Y"))
        a_press = btn["A"] & ~held_before("A")
        b_press = btn["B"] & ~held_before("B")
        shield_in = btn["L"] | btn["R"] | (trig > 0.3)

        x, y = real[..., _R["x"]], real[..., _R["y"]]
        vx, vy = real[..., _R["vel_air_x"]], real[..., _R["vel_y"]]
        kx, ky = real[..., _R["vel_attack_x"]], real[..., _R["vel_attack_y"]]
        hitlag, hitstun = real[..., _R["hitlag"]], real[..., _R["hitstun"]]
        shield, age = real[..., _R["shield"]], real[..., _R["state_age"]]
        action = wide[..., _W["action"]].long()
        facing = small[..., _S["facing"]].long()
        air = small[..., _S["airborne"]].long()
        jumps = small[..., _S["jumps"]].long()
        ground = small[..., _S["ground"]].long()
        exists = g["player_exists"].bool()
        chars = small[..., _S["character"]].long()
        max_jumps = torch.where((chars == facts.KIRBY_INTERNAL) | (chars == facts.JIGGLYPUFF_INTERNAL), 6, 2)
        new_action = action.clone()
        frozen = hitlag > 0
        dead = (action <= 10)
        halo = (action == HALO_DESCENT) | (action == HALO_WAIT)
        fdir = torch.where(facing > 0, 1.0, -1.0)

        # --- grounded control
        grounded = (air == 0) & ~frozen & ~dead & ~halo
        moving = sx.abs() > 0.25
        busy = ((action == JAB) & (age < 12)) | ((action == NAIR) & (age < 15))
        new_vx = torch.where(grounded & moving & ~shield_in & ~busy, sx * self.walk, torch.zeros_like(vx))
        ground_face = torch.where(grounded & moving & ~busy, (sx > 0).long(), facing)
        act_ground = torch.where(moving, torch.where(sx.abs() > 0.8, DASH, WALK), STANDING)
        act_ground = torch.where(busy, action, act_ground)
        act_ground = torch.where(a_press & ~busy, JAB, act_ground)
        act_ground = torch.where(shield_in & ~busy, SHIELD, act_ground)
        do_jump = grounded & jump_press & ~shield_in
        act_ground = torch.where(do_jump, JUMP_F, act_ground)
        new_action = torch.where(grounded, act_ground, new_action)
        vy = torch.where(do_jump, torch.full_like(vy, self.jump), vy)
        air = torch.where(do_jump, 1, air)
        jumps = torch.where(do_jump, max_jumps - 1, jumps)
        shield = torch.where(grounded & shield_in, shield - 0.14, torch.clamp(shield + 0.07, max=facts.FULL_SHIELD))
        shield = shield.clamp(0.0, facts.FULL_SHIELD)

        # --- air control
        in_air = (air == 1) & ~frozen & ~dead & ~halo & ~do_jump
        air_jump = in_air & jump_press & (jumps > 0) & (action != SPECIAL_FALL)
        up_b = in_air & b_press & (sy > 0.5) & (action != SPECIAL_FALL)
        vx_air = (vx * 0.98 + sx * 0.08).clamp(-1.2, 1.2)
        new_vx = torch.where(in_air, vx_air, new_vx)
        vy_air = torch.clamp(vy - self.gravity, min=torch.where(sy < -0.7, -3.0, -2.3))
        vy_air = torch.where(air_jump, torch.full_like(vy, self.jump * 0.9), vy_air)
        vy_air = torch.where(up_b, torch.full_like(vy, 3.6), vy_air)
        vy = torch.where(in_air, vy_air, vy)
        jumps = torch.where(air_jump, jumps - 1, jumps)
        aer = (action == NAIR) & (age < 15)
        act_air = torch.where(vy > 0, torch.where(action == JUMP_AIR_F, JUMP_AIR_F, JUMP_F), FALL)
        act_air = torch.where(air_jump, JUMP_AIR_F, act_air)
        act_air = torch.where(aer, NAIR, act_air)
        act_air = torch.where(a_press & ~aer, NAIR, act_air)
        act_air = torch.where((action == SPECIAL_FALL) | up_b, SPECIAL_FALL, act_air)
        act_air = torch.where(hitstun > 0, DAMAGE_FLY, act_air)
        new_action = torch.where(in_air, act_air, new_action)
        hitstun = torch.where(frozen, hitstun, (hitstun - 1).clamp(min=0))

        # --- respawn halo: stay put until an input (or two seconds), then fall
        any_input = moving | (sy.abs() > 0.25) | jump_press | a_press | b_press | shield_in
        leave = halo & (any_input | (age > 120))
        new_action = torch.where(halo & ~leave, torch.where(age > 20, HALO_WAIT, HALO_DESCENT), new_action)
        new_action = torch.where(leave, FALL, new_action)
        vy = torch.where(halo, torch.zeros_like(vy), vy)
        new_vx = torch.where(halo, torch.zeros_like(new_vx), new_vx)

        # --- integrate (nothing moves in hitlag, dead players are the rules' business)
        still = frozen | dead | halo
        kx = torch.where(still, kx, kx * 0.93)
        ky = torch.where(still, ky, ky * 0.93 - 0.05 * (ky > 0))
        nx = torch.where(still, x, x + new_vx + kx)
        ny = torch.where(still | (air == 0), y, y + vy + ky)
        vy = torch.where(air == 0, torch.zeros_like(vy), vy)

        # --- surfaces: land, or fall off an edge
        surf = self._stage_surfaces(g["stage"])[:, None]  # (B, 1, P, 4)
        sl, sr, syy, sid = surf[..., 0], surf[..., 1], surf[..., 2], surf[..., 3]
        within = (nx[..., None] >= sl) & (nx[..., None] <= sr)
        crossing = (y[..., None] >= syy - 0.01) & (ny[..., None] <= syy) & ((vy + ky)[..., None] <= 0)
        platform = torch.arange(surf.shape[-2]) > 0
        drop = (sy < -0.7)[..., None] & platform
        lands = within & crossing & ~drop & (air == 1)[..., None] & ~still[..., None]
        land_y = torch.where(lands, syy, torch.full_like(syy, -1e9)).amax(-1)
        best = torch.where(lands, syy, torch.full_like(syy, -1e9)).argmax(-1, keepdim=True)
        land_id = torch.gather(sid.expand(lands.shape), -1, best)[..., 0]
        landed = lands.any(-1)
        ny = torch.where(landed, land_y, ny)
        on_surface = (within & ((y[..., None] - syy).abs() < 0.5)).any(-1)
        fell = (air == 0) & ~on_surface & ~still
        air = torch.where(landed, 0, torch.where(fell, 1, air))
        vy = torch.where(landed | fell, torch.zeros_like(vy), vy)
        jumps = torch.where(landed, max_jumps, jumps)
        ground = torch.where(landed, land_id.long(), torch.where(air == 1, 255, ground))
        new_action = torch.where(landed, LANDING, torch.where(fell, FALL, new_action))
        kx = torch.where(landed, torch.zeros_like(kx), kx)
        ky = torch.where(landed, torch.zeros_like(ky), ky)
        new_action = torch.where((new_action == LANDING) & (action == LANDING) & (age >= 3), STANDING, new_action)
        new_action = torch.where(dead, action, new_action)

        # --- attacks: the third frame of a jab / nair hits an opponent in front
        hitting = ((new_action == JAB) | (new_action == NAIR)) & (new_action == action) & (age == 1) & ~frozen
        ox, oy = nx.flip(-1), ny.flip(-1)
        dx, dy = ox - nx, oy - ny
        o_exists = exists.flip(-1)
        o_hurt = small[..., _S["hurtbox"]].flip(-1).long()
        o_dead = dead.flip(-1) | halo.flip(-1)
        in_front = (dx * fdir >= -2) & (dx.abs() < 16) & (dy.abs() < 18)
        hit = hitting & in_front & o_exists & (o_hurt == 0) & ~o_dead  # hit[:, p]: p hits the other
        taken = hit.flip(-1)  # taken[:, q]: q is hit
        o_shield = (new_action == SHIELD)
        blocked = taken & o_shield
        damaged = taken & ~o_shield
        pct = real[..., _R["percent"]] + damaged.float() * 6.0
        shield = torch.where(blocked, (shield - 8).clamp(min=0), shield)
        dirn = fdir.flip(-1)  # direction of the attacker
        kx = torch.where(damaged, dirn * (1.5 + pct * 0.05), kx)
        ky = torch.where(damaged, 1.0 + pct * 0.035, ky)
        hitstun = torch.where(damaged, 10 + pct * 0.3, hitstun)
        air = torch.where(damaged & (ky > 1.2), 1, air)
        ground = torch.where(air == 1, 255, ground)
        new_action = torch.where(damaged, DAMAGE_FLY, new_action)
        hitlag = torch.where(hit | taken, torch.full_like(hitlag, 4.0), (hitlag - 1).clamp(min=0))
        combo = small[..., _S["facing"]].long()
        small[..., _S["last_attack_landed"]] = torch.where(hit, 2, small[..., _S["last_attack_landed"]].long()).to(small.dtype)
        small[..., _S["last_hit_by"]] = torch.where(damaged, torch.tensor([[1, 0]]).expand_as(combo), small[..., _S["last_hit_by"]].long()).to(small.dtype)

        # --- state_age rule, write back
        restart = (a_press & ~busy & grounded) | (a_press & ~aer & in_air)  # a new attack
        age = torch.where((new_action == action) & ~restart, age + 1, torch.zeros_like(age))
        facing = torch.where(grounded, ground_face, facing)
        real[..., _R["x"]], real[..., _R["y"]] = nx, ny
        real[..., _R["vel_air_x"]] = torch.where(air == 1, new_vx, torch.zeros_like(new_vx))
        real[..., _R["vel_ground_x"]] = torch.where(air == 0, new_vx, torch.zeros_like(new_vx))
        real[..., _R["vel_y"]] = vy
        real[..., _R["vel_attack_x"]], real[..., _R["vel_attack_y"]] = kx, ky
        real[..., _R["hitlag"]], real[..., _R["hitstun"]] = hitlag, hitstun
        real[..., _R["shield"]], real[..., _R["state_age"]] = shield, age
        real[..., _R["percent"]] = pct.clamp(0, 999)
        wide[..., _W["action"]] = new_action.to(wide.dtype)
        for name, v in (("facing", facing), ("airborne", air), ("jumps", jumps), ("ground", ground)):
            small[..., _S[name]] = v.clamp(0, 255).to(small.dtype)
        keep = ~exists
        for key in ("player_real", "player_small", "player_wide"):
            g[key] = torch.where(keep[..., None], game_state[key], g[key])
        # Nana follows Popo
        fe = g["follower_exists"].bool()
        if fe.any():
            for key in ("player_real", "player_small", "player_wide"):
                fkey = key.replace("player", "follower")
                follower = g[key].clone()
                if key == "player_small":
                    follower[..., _S["character"]] = game_state[fkey][..., _S["character"]]
                g[fkey] = torch.where(fe[..., None], follower, g[fkey])
            g["follower_real"][..., _R["x"]] -= torch.where(facing > 0, 6.0, -6.0) * fe

        # --- items: B on the ground or in the air (not up-B) fires a projectile
        self._items(g, b_press & ~up_b & exists & ~still & (sy <= 0.5), nx, ny, fdir)
        # --- inputs that produced this frame, frame id
        from dreamland.data.encoding import decode_controller

        sticks, mask = decode_controller(c)
        g["controller_sticks"] = sticks.to(torch.float16)
        g["controller_buttons"] = mask[..., None].to(torch.int32)
        if "frame_id" in g:
            g["frame_id"] = g["frame_id"] + 1
        return model_state + 1, g

    def _items(self, g: dict[str, Tensor], fire: Tensor, x: Tensor, y: Tensor, fdir: Tensor) -> None:
        ir, ismall, ie = g["item_real"], g["item_small"], g["item_exists"]
        live = ie.bool()
        ir[..., _IR["x"]] += ir[..., _IR["vel_x"]] * live
        ir[..., _IR["timer"]] -= live.float()
        gone = live & (ir[..., _IR["timer"]] <= 0)
        ie[gone] = 0
        ir[gone] = 0
        ismall[gone] = 0
        for p in (0, 1):
            rows = torch.nonzero(fire[:, p], as_tuple=False).flatten().tolist()
            for b in rows:
                free = torch.nonzero(ie[b] == 0, as_tuple=False).flatten()
                if not len(free):
                    continue
                s = int(free[0])
                ie[b, s] = 1
                ir[b, s] = 0
                ir[b, s, _IR["x"]] = x[b, p] + fdir[b, p] * 8
                ir[b, s, _IR["y"]] = y[b, p] + 8
                ir[b, s, _IR["vel_x"]] = fdir[b, p] * 3.5
                ir[b, s, _IR["timer"]] = 60
                ismall[b, s, _IS["type"]] = TOY_PROJECTILE_TYPE
                ismall[b, s, _IS["owner"]] = p
                ismall[b, s, _IS["facing"]] = int(fdir[b, p] > 0)


__all__ = ["PhysicsToyStepper", "Stepper", "merge_rows", "resolve_stepper"]
