"""The rules layer: head outputs + the current frame -> the next frame, as a consistent game state.

This is the only code in dreamland that turns predictions into a state (every caller goes through
`model.step.step`, `step_encoded` or `predict_window`, which all call `Rules.forward`). It works
on encoded tensors (data.encoding) of any leading shape, so one implementation serves the window
(teacher-forced) path and the frame-by-frame path.

What decides each field of the next frame:

* PREDICTED fields: the heads (model/heads.py). Continuous fields by their mode (keep / zero /
  set -> value head / delta -> base + delta head x delta unit, where the base is the current
  value or, with `rule_priors`, what the game's own rule makes of it: model/priors.py);
  categorical by argmax; binary flags and the `exists` flags of followers and items by
  logit > 0 (the leaders' is carried). Every decision is calibrated first: the loss weighs the
  frames where a value changes `event_weight` times, which multiplies the odds of every change
  by that factor, so decoding divides them back out (a value changes only when a change is
  likelier than keeping it).
* Fields the game never recorded (a window's `present` flags, older replay versions) stay 0, as
  the store keeps them.
* CONSTANT fields (character; the stage; the controllers that were given): carried. A follower
  slot that (re)appears takes Nana when its leader is Popo (absent slots are stored as zeros, so
  their character cannot be carried through an absence).
* RULE fields: `state_age` = previous + 1 while the character exists and its action is
  unchanged, else 0: the model's clock. A stepper started from real frames reports the game's
  own counter beside it (`game_age_offset`, `model.stepper.ModelStepper`).
* Then the game's constraints, in this order (documented in docs/model.md):
  1. the action decides the airborne flag: an airborne-only action sets airborne = 1, a
     grounded-only action sets 0 (the action head is the richest prediction and the game derives
     the flag from the action; in the replays the two disagree on < 0.06% of frames);
  2. stocks never rise, fall by at most one per frame and only on a frame whose action is a
     death (DEAD_*), exactly as in every stock change of the replays;
  3. percent never falls, except to 0 on entering the respawn platform (the only percent
     decrease in the replays);
  4. character positions stay inside the stage's blast zones (left, right, bottom; top + 30 units,
     because the game KOs off the top only characters in a damage state and others float up to
     ~21 units above it) unless the next action is a death; a living, free (not grabbed,
     thrown or captured: the game places those, a thrown one may be in the floor) character over the main
     floor of a legal stage (within `FLOOR_SPAN` of its half width: the edges are ledges) does not
     pass from above the floor to more than `FLOOR_DIP` below it (the floor is solid; real
     landings dip a few units for a frame or two, then stand on it): such a fall is a landing,
     and y is the floor's;
  5. last_attack_landed keeps its value except on a frame where a hit lands (some character's
     percent rises) or becomes 0 with a new action (a respawn): the game writes it then only; the
     ground a character last stood on keeps its value through a frame airborne on both sides in
     the same action (it is written on touching ground);
  6. schema bounds (percent 0..999, shield 0..60, hitlag >= 0, state_age >= -1) and integer
     storage types (combo_count, item damage: rounded, within the type's range);
  7. slots whose `exists` flag is off are all zeros (as the store keeps them).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from dreamland.data.encoding import REAL_CLIP, SPEC, Spec, broadcast_per_game
from dreamland.model.config import ModelConfig
from dreamland.model.heads import KEEP, SET, ZERO, HeadView, Part, delta_units, parts, split
from dreamland.model.priors import CharPriors
from dreamland.schema import Field, Role
from dreamland.schema import actions as A
from dreamland.schema.characters import NANA_INTERNAL, POPO_INTERNAL
from dreamland.schema.stages import LEGAL_STAGES_EXTERNAL, geometry

N_SLOTS = {"char": 4}  # leader 0, leader 1, follower 0, follower 1 (data.encoding)
TOP_SLACK = 30.0  # game units a character may be above the top blast zone without a KO
NO_BOUND = 1e4  # game units: no geometry known for the stage
FLOOR_DIP = 10.0  # game units below the main floor a living character above it never reaches
FLOOR_SPAN = 0.9  # share of the main floor's half width over which the floor rule holds
FLOOR_TOP = 1e-4  # y of a character standing on the middle of a legal stage's main floor


def _state_age(cur_age: Tensor, scale: float, same_action: Tensor) -> Tensor:
    """The state_age rule in encoded units: +1 frame while the action is unchanged, else 0."""
    return torch.where(same_action, (cur_age * scale + 1.0) / scale, torch.zeros_like(cur_age))


RULES = {"state_age"}  # every RULE field of the schema must be handled here (checked below)


def age_rule_window(char_real: Tensor, char_cat: Tensor, char_exists: Tensor) -> Tensor:
    """Rewrite state_age over a window (..., T, 4, F) so that it follows the rule from the first
    frame on: the model then reads during training exactly what the rule writes during play.
    (The game's own counter is an animation frame that also stalls in hitlag and runs at other
    rates: it matches the rule on ~76% of frames.) Same rule as `Rules.forward`: +1 while the
    character exists and its action is unchanged, else 0; 0 in slots that do not exist."""
    p = parts()[0]
    j = _col(p.real, "state_age")
    a = _col(p.cat, "action")
    scale = p.real[j].scale
    act = char_cat[..., a]  # (..., T, 4)
    on = char_exists > 0.5
    t_dim = act.dim() - 2
    T = act.shape[t_dim]
    idx = torch.arange(T, device=act.device).view((T, 1))
    reset = ~on
    reset.narrow(t_dim, 1, T - 1).logical_or_(
        (act.narrow(t_dim, 1, T - 1) != act.narrow(t_dim, 0, T - 1)) | ~on.narrow(t_dim, 0, T - 1)
    )
    reset.narrow(t_dim, 0, 1).copy_(~on.narrow(t_dim, 0, 1))
    marker = torch.where(reset, idx, torch.full_like(idx, -1))
    last = torch.cummax(marker, dim=t_dim).values
    age0 = char_real[..., j].narrow(t_dim, 0, 1) * scale
    age = torch.where(last >= 0, (idx - last).to(char_real.dtype), age0 + idx.to(char_real.dtype)) / scale
    lo, hi = p.real[j].bounds or (-np.inf, np.inf)
    age = age.clamp(lo / scale, hi / scale) * on.to(age.dtype)
    out = char_real.clone()
    out[..., j] = age
    return out


def game_age_offset(offset: Tensor, continued: Tensor, stalled: Tensor) -> Tensor:
    """One frame of the game's own state_age counter, kept as an offset from the model's clock.

    The model reads and writes "frames since the action began" (the rule above, `age_rule_window`),
    while a replay's counter is the action's animation frame: it stands still from a frame in
    hitlag to the next frame in hitlag (the animation is frozen; docs/model.md measures it) and
    restarts with a new action. Both count +1 a frame and restart together, so the game's counter
    is the clock plus a per-slot offset (the seed's counter minus the seed's clock) that loses one
    frame in each frame of hitlag and is 0 from the first new action on. Game units, any shape."""
    return torch.where(continued, offset - stalled.to(offset.dtype), torch.zeros_like(offset))


def _col(fs: tuple[Field, ...], name: str) -> int:
    for j, f in enumerate(fs):
        if f.name == name:
            return j
    raise KeyError(f"the rules layer needs field {name!r}, which the schema no longer has")


def _bounds(f: Field) -> tuple[float, float, bool]:
    """(lo, hi, integral) in game units for a real field: schema bounds, integer storage range."""
    lo, hi = -REAL_CLIP * f.scale, REAL_CLIP * f.scale
    integral = f.dtype.startswith(("int", "uint"))
    if integral:
        info = np.iinfo(np.dtype(f.dtype))
        lo, hi = max(lo, float(info.min)), min(hi, float(info.max))
    if f.bounds is not None:
        lo, hi = max(lo, f.bounds[0]), min(hi, f.bounds[1])
    return lo, hi, integral


class Rules(nn.Module):
    """Head outputs -> next encoded state. Holds only derived constants (non-persistent buffers)."""

    def __init__(self, config: ModelConfig, spec: Spec = SPEC):
        super().__init__()
        self.char_part, self.item_part = parts(spec)
        self.jump_threshold = float(config.jump_threshold)
        self.log_event_weight = math.log(config.event_weight)
        for part in (self.char_part, self.item_part):
            for group in ("real", "cat", "bin"):
                for f in getattr(part, group):
                    if f.role is Role.RULE and f.name not in RULES:
                        raise ValueError(f"field {f.name} has role 'rule' but no rule is implemented")
            p = part.name
            if part.exists_slots is not None:
                slots = N_SLOTS[p] if p in N_SLOTS else max(part.exists_slots) + 1
                carried = torch.ones(slots, dtype=torch.bool)
                carried[list(part.exists_slots)] = False
                self.register_buffer(f"{p}_exists_carried", carried, persistent=False)
            du = delta_units(part, config.delta_fraction, config.delta_scale)
            self.register_buffer(f"{p}_dunit", torch.tensor(du, dtype=torch.float32), persistent=False)
            self.register_buffer(
                f"{p}_pred_idx", torch.tensor(part.real_pred, dtype=torch.long), persistent=False
            )
            b = [_bounds(f) for f in part.real]
            self.register_buffer(f"{p}_lo", torch.tensor([lo / f.scale for (lo, _, _), f in zip(b, part.real)]),
                                 persistent=False)
            self.register_buffer(f"{p}_hi", torch.tensor([hi / f.scale for (_, hi, _), f in zip(b, part.real)]),
                                 persistent=False)
            self.register_buffer(f"{p}_int", torch.tensor([i for _, _, i in b], dtype=torch.bool),
                                 persistent=False)
            self.register_buffer(f"{p}_scale", torch.tensor([f.scale for f in part.real], dtype=torch.float32),
                                 persistent=False)
        c = self.char_part
        self.priors = (CharPriors(c.real, c.cat, c.bin, c.real_pred, config.velocity_rules, config.motion_rules,
                                  config.hitlag_rules, config.motion_carries)
                       if config.rule_priors else None)
        self.c_x, self.c_y = _col(c.real, "x"), _col(c.real, "y")
        self.c_percent, self.c_age = _col(c.real, "percent"), _col(c.real, "state_age")
        self.c_action, self.c_stocks = _col(c.cat, "action"), _col(c.cat, "stocks")
        self.c_airborne = _col(c.bin, "airborne")
        self.c_landed, self.c_ground = _col(c.cat, "last_attack_landed"), _col(c.cat, "ground")
        self.c_character = _col(c.cat, "character")
        self.scale_x, self.scale_y = c.real[self.c_x].scale, c.real[self.c_y].scale
        self.scale_age = c.real[self.c_age].scale
        vocab = int(c.cat[self.c_action].vocab)
        ids = np.arange(vocab)
        for name, fn in (("dead", A.is_dead), ("respawn", A.is_respawning), ("held", A.is_held),
                         ("air_only", A.is_airborne_only), ("ground_only", A.is_grounded_only)):
            self.register_buffer(f"is_{name}", torch.from_numpy(np.asarray(fn(ids), bool)), persistent=False)
        blast = torch.tensor([[-NO_BOUND, NO_BOUND, -NO_BOUND, NO_BOUND]] * spec.stage_vocab)
        for sid in LEGAL_STAGES_EXTERNAL:
            if sid < spec.stage_vocab:
                g = geometry(sid)
                blast[sid] = torch.tensor([g.blast_left, g.blast_right, g.blast_bottom, g.blast_top + TOP_SLACK])
        self.register_buffer("blast", blast, persistent=False)  # game units: left, right, bottom, top
        span = torch.full((spec.stage_vocab,), -1.0)  # no floor rule: |x| is never below -1
        for sid in LEGAL_STAGES_EXTERNAL:
            if sid < spec.stage_vocab:
                span[sid] = FLOOR_SPAN * geometry(sid).ground_x
        self.register_buffer("floor_span", span / self.scale_x, persistent=False)  # encoded x

    def _floor(self, x: Tensor, y: Tensor, cur: dict[str, Tensor], alive: Tensor) -> Tensor:
        """y held on the main floor where a living character would fall through it (encoded)."""
        lowest = -FLOOR_DIP / self.scale_y
        over = x.abs() <= self.floor_span[cur["stage"]].unsqueeze(-1)
        through = alive & over & (cur["char_real"][..., self.c_y] >= lowest) & (y < lowest)
        return torch.where(through, torch.full_like(y, FLOOR_TOP / self.scale_y), y)

    # ------------------------------------------------------------------ per part

    def _real(self, part: Part, h: HeadView, real_cur: Tensor, base: Tensor) -> Tensor:
        """The predicted real columns decoded from their modes around `base`, written into the
        current values (the others carried)."""
        p = part.name
        mode = self._calibrated_mode(h.mode).argmax(-1)
        moved = base + h.delta * getattr(self, f"{p}_dunit")
        new = torch.where(
            mode == KEEP,
            base,
            torch.where(mode == ZERO, torch.zeros_like(base), torch.where(mode == SET, h.value, moved)),
        )
        real = real_cur.index_copy(-1, getattr(self, f"{p}_pred_idx"), new)
        # integer storage types: round (straight-through, so self-forcing still gets a gradient)
        scale = getattr(self, f"{p}_scale")
        rounded = torch.round(real * scale) / scale
        return torch.where(getattr(self, f"{p}_int"), real + (rounded - real).detach(), real)

    # Calibration: the loss weighs every frame whose value changes `event_weight` times, which
    # multiplies the predicted odds of each change by that factor; here they are divided back out
    # (log odds minus log w for every outcome but "stays as it is").

    def _calibrated_mode(self, logits: Tensor) -> Tensor:
        if not self.log_event_weight:
            return logits
        return torch.cat([logits[..., :1], logits[..., 1:] - self.log_event_weight], -1)

    def _calibrated_cat(self, logits: Tensor, current: Tensor) -> Tensor:
        if not self.log_event_weight:
            return logits
        idx = current.long().unsqueeze(-1).clamp(0, logits.shape[-1] - 1)
        return (logits - self.log_event_weight).scatter(-1, idx, logits.gather(-1, idx))

    def _calibrated_flag(self, logit: Tensor, current: Tensor) -> Tensor:
        return logit + self.log_event_weight * (2 * (current > 0.5).to(logit.dtype) - 1)

    def item_exists(self, logit: Tensor, current: Tensor) -> Tensor:
        """Whether each item slot exists in the next frame, from its exists logit (as decoded)."""
        return self._calibrated_flag(logit.float(), current) > 0

    def _part(self, part: Part, cur: dict[str, Tensor], h: HeadView) -> dict[str, Tensor]:
        """Heads -> next values of one part, before the game rules (continuous fields around
        their current values)."""
        p = part.name
        real_cur = cur[f"{p}_real"]
        real = self._real(part, h, real_cur, real_cur.index_select(-1, getattr(self, f"{p}_pred_idx")))
        cats = list(cur[f"{p}_cat"].unbind(-1))
        for k, j in enumerate(part.cat_pred):
            cats[j] = self._calibrated_cat(h.cat[k], cats[j]).argmax(-1)
        bins = list(cur[f"{p}_bin"].unbind(-1))
        for k, j in enumerate(part.bin_pred):
            bins[j] = (self._calibrated_flag(h.bin[..., k], bins[j]) > 0).to(bins[j].dtype)
        ex_cur = cur[f"{p}_exists"]
        exists = (self._calibrated_flag(h.exists, ex_cur) > 0).to(ex_cur.dtype)  # items: `item_exists`
        if part.exists_slots is not None:  # the other slots' existence is carried
            exists = torch.where(getattr(self, f"{p}_exists_carried"), ex_cur, exists)
        return {"real": real, "cat": cats, "bin": bins, "exists": exists}

    def _drop_absent(self, ch: dict, present: Tensor | None) -> None:
        """Fields the game never recorded stay 0, as the store keeps them (in place)."""
        if present is None:
            return
        c = self.char_part
        present = present.unsqueeze(-2)  # (..., 1, n): every character slot of the game
        n_real, n_cat = len(c.real), len(c.cat)
        ch["real"] = ch["real"] * present[..., :n_real].to(ch["real"].dtype)
        for j in range(n_cat):
            ch["cat"][j] = ch["cat"][j] * present[..., n_real + j].to(ch["cat"][j].dtype)
        for j in range(len(c.bin)):
            ch["bin"][j] = ch["bin"][j] * present[..., n_real + n_cat + j].to(ch["bin"][j].dtype)

    def _ruled(self, ch: dict, cur: dict[str, Tensor], h: HeadView, present: Tensor | None,
               motion: Tensor | None) -> None:
        """The character reals decoded again around the game's rules (model/priors.py), from the
        next frame's decoded fields that the rules read (in place). Each pass settles one more
        link of the rules' chain (hitlag -> velocities -> positions)."""
        nxt_bin = torch.stack(ch["bin"], -1)
        for _ in range(self.priors.depth):
            base = self.priors.base(cur["char_real"], cur["char_cat"], ch["real"], nxt_bin, motion, present)
            ch["real"] = self._real(self.char_part, h, cur["char_real"], base)
            self._drop_absent(ch, present)

    @staticmethod
    def _landed(landed: Tensor, landed_cur: Tensor, damaged: Tensor, new_action: Tensor) -> Tensor:
        """last_attack_landed: the game writes it when a hit lands, and a hit always deals damage:
        it changes where some character of the game is `damaged` (its percent rises on the next
        frame), or becomes 0 with a new action (a respawn)."""
        opens = damaged.any(-1, keepdim=True) | (new_action & (landed == 0))
        return torch.where(opens, landed, landed_cur.to(landed.dtype))

    # ------------------------------------------------------------------ the whole frame

    def forward(self, cur: dict[str, Tensor], out: dict[str, Tensor], controllers: Tensor,
                motion: Tensor | None = None) -> dict[str, Tensor]:
        """`cur`: encoded frame t (any leading shape; `stage` with that shape or (B,)); `out`: the
        heads for frame t+1; `controllers`: the inputs of frame t+1; `motion`: the characters'
        displacement into frame t (`WorldModel.motion`, with `motion_rules`). Returns encoded
        frame t+1."""
        cur = broadcast_per_game(cur)
        h_char = split(self.char_part, out["char"].float())
        ch = self._part(self.char_part, cur, h_char)
        it = self._part(self.item_part, cur, split(self.item_part, out["item"].float()))

        # --- game rules on the character slots
        cc = cur["char_cat"]
        act_n, act_c = ch["cat"][self.c_action], cc[..., self.c_action]
        dead, respawn = self.is_dead[act_n], self.is_respawn[act_n]
        air = ch["bin"][self.c_airborne]
        ch["bin"][self.c_airborne] = torch.where(
            self.is_air_only[act_n], torch.ones_like(air), torch.where(self.is_ground_only[act_n], torch.zeros_like(air), air)
        )
        # a follower that (re)appears gets its character from its leader (Nana follows Popo): the
        # store zeroes absent slots, so the constant cannot be carried through an absence
        char = ch["cat"][self.c_character]
        lead = char[..., :2]
        nana = torch.where(lead == POPO_INTERNAL, torch.full_like(lead, NANA_INTERNAL), char[..., 2:])
        ch["cat"][self.c_character] = torch.cat([lead, torch.where(cur["char_exists"][..., 2:] > 0.5, char[..., 2:], nana)], -1)
        s_c, s_p = cc[..., self.c_stocks], ch["cat"][self.c_stocks]
        ch["cat"][self.c_stocks] = torch.where(dead, torch.maximum(torch.minimum(s_p, s_c), (s_c - 1).clamp_min(0)), s_c)
        present = cur.get("present")
        self._drop_absent(ch, present)
        if self.priors is not None:
            self._ruled(ch, cur, h_char, present, motion)

        cols = list(ch["real"].unbind(-1))
        p_c = cur["char_real"][..., self.c_percent]
        p_n = cols[self.c_percent]
        cols[self.c_percent] = torch.where(p_n < p_c, torch.where(respawn, torch.zeros_like(p_n), p_c), p_n)
        zone = self.blast[cur["stage"]].unsqueeze(-2)  # (..., 1, 4) game units
        x, y = cols[self.c_x], cols[self.c_y]
        cols[self.c_x] = torch.where(dead, x, torch.clamp(x, zone[..., 0] / self.scale_x, zone[..., 1] / self.scale_x))
        cols[self.c_y] = torch.where(dead, y, torch.clamp(y, zone[..., 2] / self.scale_y, zone[..., 3] / self.scale_y))
        cols[self.c_y] = self._floor(cols[self.c_x], cols[self.c_y], cur, ~dead & ~self.is_held[act_n])
        age_c = cur["char_real"][..., self.c_age]
        cols[self.c_age] = _state_age(age_c, self.scale_age, (act_n == act_c) & (cur["char_exists"] > 0.5))
        ch["real"] = torch.stack(cols, -1)
        damaged = cols[self.c_percent] * (ch["exists"] > 0.5).to(p_n.dtype) > p_c
        ch["cat"][self.c_landed] = self._landed(ch["cat"][self.c_landed], cc[..., self.c_landed], damaged,
                                                act_n != act_c)
        in_air = (ch["bin"][self.c_airborne] > 0.5) & (cur["char_bin"][..., self.c_airborne] > 0.5)
        ground = ch["cat"][self.c_ground]  # written on touching ground only
        ch["cat"][self.c_ground] = torch.where(in_air & (act_n == act_c), cc[..., self.c_ground].to(ground.dtype),
                                               ground)

        nxt: dict[str, Tensor] = {}
        for part, d in ((self.char_part, ch), (self.item_part, it)):
            p = part.name
            ex = d["exists"]
            on = ex > 0.5
            real = torch.clamp(d["real"], getattr(self, f"{p}_lo"), getattr(self, f"{p}_hi"))
            nxt[f"{p}_real"] = real * on.unsqueeze(-1).to(real.dtype)
            nxt[f"{p}_cat"] = torch.stack(d["cat"], -1) * on.unsqueeze(-1).long()
            b = torch.stack(d["bin"], -1)
            nxt[f"{p}_bin"] = b * on.unsqueeze(-1).to(b.dtype)
            nxt[f"{p}_exists"] = ex
        nxt["controller"] = controllers.to(cur["char_real"].dtype)
        nxt["stage"] = cur["stage"]
        if present is not None:
            nxt["present"] = present
        return nxt


__all__ = ["FLOOR_DIP", "FLOOR_SPAN", "RULES", "Rules", "TOP_SLACK", "age_rule_window", "game_age_offset"]
