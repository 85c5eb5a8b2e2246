"""`PhysicsToyStepper`: NOT a world model, a stepper of hand-written toy physics.

A few lines of physics (walk, jump, gravity, platforms, shield, a jab, a projectile) that produce
frames in the store format behind the stepper protocol (`steppers.protocol`), so the play loop,
the rules, the bots, the environments and the web page can be tested and demonstrated without a
trained checkpoint. `dreamland play --checkpoint toy` plays it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.frame import player_column
from dreamland.play import facts
from dreamland.play.controller import BUTTONS
from dreamland.schema import stages as S


def _c(name: str) -> int:
    return player_column(name)[1]


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
        pad = _read_pad(game_state, controllers)
        p = _read_players(g)
        # Each phase reads what the earlier ones decided for this frame: their order is the physics.
        self._ground_control(p, pad)
        self._air_control(p, pad)
        _halo(p, pad)
        _integrate(p)
        self._land(p, pad, g["stage"])
        _attack(p, g)
        _write_players(p, pad, g, game_state)
        _nana_follows(g, game_state, p.facing)
        # --- items: B on the ground or in the air (not up-B) fires a projectile
        self._items(g, pad.b_press & ~p.up_b & p.exists & ~p.still & (pad.sy <= 0.5), p.nx, p.ny, p.fdir)
        _record_inputs(g, pad.raw)
        if "frame_id" in g:
            g["frame_id"] = g["frame_id"] + 1
        return model_state + 1, g

    def _ground_control(self, p: _Players, pad: _Pad) -> None:
        """Walk, dash, jab, shield and jump for the players on the ground."""
        p.grounded = (p.air == 0) & ~p.frozen & ~p.dead & ~p.halo
        moving, shield_in = pad.moving, pad.shield_in
        p.busy = ((p.action == JAB) & (p.age < 12)) | ((p.action == NAIR) & (p.age < 15))
        p.new_vx = torch.where(p.grounded & moving & ~shield_in & ~p.busy, pad.sx * self.walk, torch.zeros_like(p.vx))
        p.ground_face = torch.where(p.grounded & moving & ~p.busy, (pad.sx > 0).long(), p.facing)
        act_ground = torch.where(moving, torch.where(pad.sx.abs() > 0.8, DASH, WALK), STANDING)
        act_ground = torch.where(p.busy, p.action, act_ground)
        act_ground = torch.where(pad.a_press & ~p.busy, JAB, act_ground)
        act_ground = torch.where(shield_in & ~p.busy, SHIELD, act_ground)
        p.do_jump = p.grounded & pad.jump_press & ~shield_in
        act_ground = torch.where(p.do_jump, JUMP_F, act_ground)
        p.new_action = torch.where(p.grounded, act_ground, p.new_action)
        p.vy = torch.where(p.do_jump, torch.full_like(p.vy, self.jump), p.vy)
        p.air = torch.where(p.do_jump, 1, p.air)
        p.jumps = torch.where(p.do_jump, p.max_jumps - 1, p.jumps)
        shield = torch.where(p.grounded & shield_in, p.shield - 0.14, torch.clamp(p.shield + 0.07, max=facts.FULL_SHIELD))
        p.shield = shield.clamp(0.0, facts.FULL_SHIELD)

    def _air_control(self, p: _Players, pad: _Pad) -> None:
        """Drift, gravity, fast fall, double jump, up-B and neutral air for the players in the air."""
        p.in_air = (p.air == 1) & ~p.frozen & ~p.dead & ~p.halo & ~p.do_jump
        air_jump = p.in_air & pad.jump_press & (p.jumps > 0) & (p.action != SPECIAL_FALL)
        p.up_b = p.in_air & pad.b_press & (pad.sy > 0.5) & (p.action != SPECIAL_FALL)
        vx_air = (p.vx * 0.98 + pad.sx * 0.08).clamp(-1.2, 1.2)
        p.new_vx = torch.where(p.in_air, vx_air, p.new_vx)
        vy_air = torch.clamp(p.vy - self.gravity, min=torch.where(pad.sy < -0.7, -3.0, -2.3))
        vy_air = torch.where(air_jump, torch.full_like(p.vy, self.jump * 0.9), vy_air)
        vy_air = torch.where(p.up_b, torch.full_like(p.vy, 3.6), vy_air)
        p.vy = torch.where(p.in_air, vy_air, p.vy)
        p.jumps = torch.where(air_jump, p.jumps - 1, p.jumps)
        p.aer = (p.action == NAIR) & (p.age < 15)
        act_air = torch.where(p.vy > 0, torch.where(p.action == JUMP_AIR_F, JUMP_AIR_F, JUMP_F), FALL)
        act_air = torch.where(air_jump, JUMP_AIR_F, act_air)
        act_air = torch.where(p.aer, NAIR, act_air)
        act_air = torch.where(pad.a_press & ~p.aer, NAIR, act_air)
        act_air = torch.where((p.action == SPECIAL_FALL) | p.up_b, SPECIAL_FALL, act_air)
        act_air = torch.where(p.hitstun > 0, DAMAGE_FLY, act_air)
        p.new_action = torch.where(p.in_air, act_air, p.new_action)
        p.hitstun = torch.where(p.frozen, p.hitstun, (p.hitstun - 1).clamp(min=0))

    def _land(self, p: _Players, pad: _Pad, stage: Tensor) -> None:
        """Land on the main stage or a platform (hold down to drop through one), or fall off an edge."""
        surf = self._stage_surfaces(stage)[:, None]  # (B, 1, P, 4)
        sl, sr, syy, sid = surf[..., 0], surf[..., 1], surf[..., 2], surf[..., 3]
        within = (p.nx[..., None] >= sl) & (p.nx[..., None] <= sr)
        crossing = (p.y[..., None] >= syy - 0.01) & (p.ny[..., None] <= syy) & ((p.vy + p.ky)[..., None] <= 0)
        platform = torch.arange(surf.shape[-2]) > 0
        drop = (pad.sy < -0.7)[..., None] & platform
        lands = within & crossing & ~drop & (p.air == 1)[..., None] & ~p.still[..., None]
        land_y = torch.where(lands, syy, torch.full_like(syy, -1e9)).amax(-1)
        best = torch.where(lands, syy, torch.full_like(syy, -1e9)).argmax(-1, keepdim=True)
        land_id = torch.gather(sid.expand(lands.shape), -1, best)[..., 0]
        landed = lands.any(-1)
        p.ny = torch.where(landed, land_y, p.ny)
        on_surface = (within & ((p.y[..., None] - syy).abs() < 0.5)).any(-1)
        fell = (p.air == 0) & ~on_surface & ~p.still
        p.air = torch.where(landed, 0, torch.where(fell, 1, p.air))
        p.vy = torch.where(landed | fell, torch.zeros_like(p.vy), p.vy)
        p.jumps = torch.where(landed, p.max_jumps, p.jumps)
        p.ground = torch.where(landed, land_id.long(), torch.where(p.air == 1, 255, p.ground))
        p.new_action = torch.where(landed, LANDING, torch.where(fell, FALL, p.new_action))
        p.kx = torch.where(landed, torch.zeros_like(p.kx), p.kx)
        p.ky = torch.where(landed, torch.zeros_like(p.ky), p.ky)
        p.new_action = torch.where((p.new_action == LANDING) & (p.action == LANDING) & (p.age >= 3), STANDING,
                                   p.new_action)
        p.new_action = torch.where(p.dead, p.action, p.new_action)

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



@dataclass
class _Pad:
    """What the toy reads from one frame's controllers: (B, 2) each, `raw` (B, 2, 17)."""

    raw: Tensor
    sx: Tensor
    sy: Tensor
    moving: Tensor
    jump_press: Tensor
    a_press: Tensor
    b_press: Tensor
    shield_in: Tensor


def _read_pad(game_state: dict[str, Tensor], controllers: Tensor) -> _Pad:
    """The sticks, and the buttons pressed this frame (held now, not on the frame before)."""
    from dreamland.schema.controller import BUTTON_BITS

    c = controllers.float()
    sx, sy = (c[..., 0] - 0.5) * 2, (c[..., 1] - 0.5) * 2
    trig = c[..., 4]
    btn = {b: c[..., i] > 0.5 for b, i in _BTN.items()}
    prev = game_state.get("controller_buttons")
    prev_mask = prev[..., 0].long() if prev is not None else torch.zeros_like(sx, dtype=torch.long)

    def held_before(b: str) -> Tensor:
        return (prev_mask & BUTTON_BITS[b]) != 0

    return _Pad(
        raw=c, sx=sx, sy=sy, moving=sx.abs() > 0.25,
        jump_press=(btn["X"] & ~held_before("X")) | (btn["Y"] & ~held_before("Y")),
        a_press=btn["A"] & ~held_before("A"),
        b_press=btn["B"] & ~held_before("B"),
        shield_in=btn["L"] | btn["R"] | (trig > 0.3),
    )


@dataclass
class _Players:
    """The players' fields the toy works on, (B, 2) each, from reading a frame to writing the next.
    The fields set by a phase of `PhysicsToyStepper.step` (not read from the frame) are marked."""

    x: Tensor
    y: Tensor
    vx: Tensor
    vy: Tensor
    kx: Tensor
    ky: Tensor
    hitlag: Tensor
    hitstun: Tensor
    shield: Tensor
    age: Tensor
    action: Tensor  # the frame's action; the next one is new_action
    new_action: Tensor
    facing: Tensor
    air: Tensor
    jumps: Tensor
    max_jumps: Tensor
    ground: Tensor
    exists: Tensor
    frozen: Tensor  # in hitlag
    dead: Tensor
    halo: Tensor
    fdir: Tensor  # +1 facing right, -1 left
    # set by the phases
    grounded: Tensor = field(init=False)
    busy: Tensor = field(init=False)
    do_jump: Tensor = field(init=False)
    new_vx: Tensor = field(init=False)
    ground_face: Tensor = field(init=False)
    in_air: Tensor = field(init=False)
    up_b: Tensor = field(init=False)
    aer: Tensor = field(init=False)
    still: Tensor = field(init=False)
    nx: Tensor = field(init=False)
    ny: Tensor = field(init=False)
    pct: Tensor = field(init=False)


def _read_players(g: dict[str, Tensor]) -> _Players:
    real, small, wide = g["player_real"], g["player_small"], g["player_wide"]
    action = wide[..., _W["action"]].long()
    facing = small[..., _S["facing"]].long()
    chars = small[..., _S["character"]].long()
    return _Players(
        x=real[..., _R["x"]], y=real[..., _R["y"]],
        vx=real[..., _R["vel_air_x"]], vy=real[..., _R["vel_y"]],
        kx=real[..., _R["vel_attack_x"]], ky=real[..., _R["vel_attack_y"]],
        hitlag=real[..., _R["hitlag"]], hitstun=real[..., _R["hitstun"]],
        shield=real[..., _R["shield"]], age=real[..., _R["state_age"]],
        action=action, new_action=action.clone(), facing=facing,
        air=small[..., _S["airborne"]].long(),
        jumps=small[..., _S["jumps"]].long(),
        max_jumps=torch.where((chars == facts.KIRBY_INTERNAL) | (chars == facts.JIGGLYPUFF_INTERNAL), 6, 2),
        ground=small[..., _S["ground"]].long(),
        exists=g["player_exists"].bool(),
        frozen=real[..., _R["hitlag"]] > 0,
        dead=(action <= 10),
        halo=(action == HALO_DESCENT) | (action == HALO_WAIT),
        fdir=torch.where(facing > 0, 1.0, -1.0),
    )


def _halo(p: _Players, pad: _Pad) -> None:
    """The respawn halo: stay put until an input (or two seconds), then fall."""
    any_input = pad.moving | (pad.sy.abs() > 0.25) | pad.jump_press | pad.a_press | pad.b_press | pad.shield_in
    leave = p.halo & (any_input | (p.age > 120))
    p.new_action = torch.where(p.halo & ~leave, torch.where(p.age > 20, HALO_WAIT, HALO_DESCENT), p.new_action)
    p.new_action = torch.where(leave, FALL, p.new_action)
    p.vy = torch.where(p.halo, torch.zeros_like(p.vy), p.vy)
    p.new_vx = torch.where(p.halo, torch.zeros_like(p.new_vx), p.new_vx)


def _integrate(p: _Players) -> None:
    """Move by the velocities (nothing moves in hitlag, dead players are the rules' business)."""
    p.still = p.frozen | p.dead | p.halo
    p.kx = torch.where(p.still, p.kx, p.kx * 0.93)
    p.ky = torch.where(p.still, p.ky, p.ky * 0.93 - 0.05 * (p.ky > 0))
    p.nx = torch.where(p.still, p.x, p.x + p.new_vx + p.kx)
    p.ny = torch.where(p.still | (p.air == 0), p.y, p.y + p.vy + p.ky)
    p.vy = torch.where(p.air == 0, torch.zeros_like(p.vy), p.vy)


def _attack(p: _Players, g: dict[str, Tensor]) -> None:
    """The third frame of a jab / nair hits an opponent in front: percent, knockback, hitlag and
    hitstun, or shield damage when the opponent shields."""
    real, small = g["player_real"], g["player_small"]
    hitting = ((p.new_action == JAB) | (p.new_action == NAIR)) & (p.new_action == p.action) & (p.age == 1) & ~p.frozen
    ox, oy = p.nx.flip(-1), p.ny.flip(-1)
    dx, dy = ox - p.nx, oy - p.ny
    o_exists = p.exists.flip(-1)
    o_hurt = small[..., _S["hurtbox"]].flip(-1).long()
    o_dead = p.dead.flip(-1) | p.halo.flip(-1)
    in_front = (dx * p.fdir >= -2) & (dx.abs() < 16) & (dy.abs() < 18)
    hit = hitting & in_front & o_exists & (o_hurt == 0) & ~o_dead  # hit[:, p]: p hits the other
    taken = hit.flip(-1)  # taken[:, q]: q is hit
    o_shield = (p.new_action == SHIELD)
    blocked = taken & o_shield
    damaged = taken & ~o_shield
    p.pct = real[..., _R["percent"]] + damaged.float() * 6.0
    p.shield = torch.where(blocked, (p.shield - 8).clamp(min=0), p.shield)
    dirn = p.fdir.flip(-1)  # direction of the attacker
    p.kx = torch.where(damaged, dirn * (1.5 + p.pct * 0.05), p.kx)
    p.ky = torch.where(damaged, 1.0 + p.pct * 0.035, p.ky)
    p.hitstun = torch.where(damaged, 10 + p.pct * 0.3, p.hitstun)
    p.air = torch.where(damaged & (p.ky > 1.2), 1, p.air)
    p.ground = torch.where(p.air == 1, 255, p.ground)
    p.new_action = torch.where(damaged, DAMAGE_FLY, p.new_action)
    p.hitlag = torch.where(hit | taken, torch.full_like(p.hitlag, 4.0), (p.hitlag - 1).clamp(min=0))
    combo = small[..., _S["facing"]].long()
    small[..., _S["last_attack_landed"]] = torch.where(hit, 2, small[..., _S["last_attack_landed"]].long()).to(small.dtype)
    small[..., _S["last_hit_by"]] = torch.where(damaged, torch.tensor([[1, 0]]).expand_as(combo), small[..., _S["last_hit_by"]].long()).to(small.dtype)


def _write_players(p: _Players, pad: _Pad, g: dict[str, Tensor], game_state: dict[str, Tensor]) -> None:
    """The state_age rule, then every field back into the frame; players that do not exist keep
    the frame's rows."""
    real, small, wide = g["player_real"], g["player_small"], g["player_wide"]
    restart = (pad.a_press & ~p.busy & p.grounded) | (pad.a_press & ~p.aer & p.in_air)  # a new attack
    age = torch.where((p.new_action == p.action) & ~restart, p.age + 1, torch.zeros_like(p.age))
    p.facing = torch.where(p.grounded, p.ground_face, p.facing)
    real[..., _R["x"]], real[..., _R["y"]] = p.nx, p.ny
    real[..., _R["vel_air_x"]] = torch.where(p.air == 1, p.new_vx, torch.zeros_like(p.new_vx))
    real[..., _R["vel_ground_x"]] = torch.where(p.air == 0, p.new_vx, torch.zeros_like(p.new_vx))
    real[..., _R["vel_y"]] = p.vy
    real[..., _R["vel_attack_x"]], real[..., _R["vel_attack_y"]] = p.kx, p.ky
    real[..., _R["hitlag"]], real[..., _R["hitstun"]] = p.hitlag, p.hitstun
    real[..., _R["shield"]], real[..., _R["state_age"]] = p.shield, age
    real[..., _R["percent"]] = p.pct.clamp(0, 999)
    wide[..., _W["action"]] = p.new_action.to(wide.dtype)
    for name, v in (("facing", p.facing), ("airborne", p.air), ("jumps", p.jumps), ("ground", p.ground)):
        small[..., _S[name]] = v.clamp(0, 255).to(small.dtype)
    keep = ~p.exists
    for key in ("player_real", "player_small", "player_wide"):
        g[key] = torch.where(keep[..., None], game_state[key], g[key])


def _nana_follows(g: dict[str, Tensor], game_state: dict[str, Tensor], facing: Tensor) -> None:
    """Nana copies Popo, a little behind him."""
    fe = g["follower_exists"].bool()
    if fe.any():
        for key in ("player_real", "player_small", "player_wide"):
            fkey = key.replace("player", "follower")
            follower = g[key].clone()
            if key == "player_small":
                follower[..., _S["character"]] = game_state[fkey][..., _S["character"]]
            g[fkey] = torch.where(fe[..., None], follower, g[fkey])
        g["follower_real"][..., _R["x"]] -= torch.where(facing > 0, 6.0, -6.0) * fe


def _record_inputs(g: dict[str, Tensor], c: Tensor) -> None:
    """The inputs that produced this frame, as the store keeps them."""
    from dreamland.data.encoding import decode_controller

    sticks, mask = decode_controller(c)
    g["controller_sticks"] = sticks.to(torch.float16)
    g["controller_buttons"] = mask[..., None].to(torch.int32)


__all__ = ["PhysicsToyStepper"]
