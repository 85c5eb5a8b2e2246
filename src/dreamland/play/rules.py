"""Game rules applied on top of the world model's next frame: stocks, KOs, respawn, the timer.

The stepper (the world model) decides every field of the next frame. Then, for each game of the
batch, these rules decide what the model cannot be trusted with, and only that:

1. **Stocks** are the rules' count, written into the frame every frame (a stock change the model
   predicts is overwritten). A stock is lost when a player crosses a blast zone of
   `schema.stages.geometry(stage)`: left, right or bottom at any time; the top only while in a
   damage state (DAMAGE category of `schema.actions`, or hitstun > 0) as in the game, or 30 units
   above it in any state (the model's own rules let a character float up to there).
2. **KO**: the frame the player crosses, its action becomes DEAD_LEFT / DEAD_RIGHT / DEAD_DOWN /
   DEAD_UP by the side crossed; for `DEAD_FRAMES` (60) frames the player stays in that action at
   the crossing point, motionless; nothing the model predicts for it is kept.
3. **Respawn**: then, if stocks are left, the player appears at the stage's respawn point
   (`play.facts.RESPAWN`), in ON_HALO_DESCENT, 0 %, no velocity, full jumps, invulnerable, facing
   the centre. From there the model plays the halo (descent, wait, leaving it).
4. **Invulnerability**: the hurtbox is forced to invulnerable while the player is on the halo and
   for `INVULNERABLE_FRAMES` (120) frames after it leaves it.
5. **Game over** when a player loses its last stock (the other wins; both on the same frame: a
   draw), or when the timer (8 minutes) runs out: more stocks wins, then lower percent; a tie is a
   draw (the game's Sudden Death is not modelled). A finished game's frame no longer changes.
6. Ice Climbers' Nana crossing a blast zone just disappears (follower_exists = 0).

Everything else (positions, actions, percent, shield, decoding and clamping, state_age) is the
model's. All rules are batched torch ops over the games of a `BatchedCore`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.model.rules import TOP_SLACK  # one ceiling: the model lets a character rise to it, a KO starts above it
from dreamland.play import facts
from dreamland.data.frame import player_column
from dreamland.schema import actions as A
from dreamland.schema import stages as S

DEAD_DOWN, DEAD_LEFT, DEAD_RIGHT, DEAD_UP = 0, 1, 2, 3
HALO_DESCENT, HALO_WAIT = 12, 13
DAMAGE = int(A.ActionCategory.DAMAGE)


def _cols(names):
    return {n: player_column(n)[1] for n in names}


_R = _cols(layout.PLAYER_GROUPS[0].names)
_S = _cols(layout.PLAYER_GROUPS[1].names)
_W = _cols(layout.PLAYER_GROUPS[2].names)
_CATEGORY = torch.tensor([int(A.action_category(i)) for i in range(A.ACTION_VOCAB)], dtype=torch.long)


def stage_table(stage: Tensor) -> tuple[Tensor, Tensor]:
    """(B, 4) blast zones (left, right, top, bottom) and (B, 2, 2) respawn points of each game's
    stage. Stages without geometry get no blast zones (nobody is ever KO'd there)."""
    blasts, spawns = [], []
    for sid in stage.tolist():
        try:
            g = S.geometry(sid)
            blasts.append(list(g.blast_zones))
            spawns.append([list(p) for p in facts.RESPAWN[sid]])
        except KeyError:
            blasts.append([-1e9, 1e9, 1e9, -1e9])
            spawns.append([[0.0, 100.0], [0.0, 100.0]])
    return torch.tensor(blasts, dtype=torch.float32), torch.tensor(spawns, dtype=torch.float32)


@dataclass
class RulesState:
    """The rules' bookkeeping for B games."""

    stocks: Tensor  # (B, 2) long
    dead: Tensor  # (B, 2) long: frames left in the KO pause (0: alive)
    death_action: Tensor  # (B, 2) long
    death_pos: Tensor  # (B, 2, 2) float
    invulnerable: Tensor  # (B, 2) long: frames of invulnerability left after the halo
    frame: Tensor  # (B,) long: frames since the game started
    over: Tensor  # (B,) bool
    winner: Tensor  # (B,) long: -1 none / draw
    limit: Tensor  # (B,) long: frames of the timer (0: no timer)
    blast: Tensor  # (B, 4)
    respawn: Tensor  # (B, 2, 2)

    @classmethod
    def new(cls, stage: Tensor, stocks: Tensor, limit: int = facts.GAME_FRAMES) -> "RulesState":
        b = stage.shape[0]
        blast, respawn = stage_table(stage)
        return cls(
            stocks=stocks.long().clone(), dead=torch.zeros(b, 2, dtype=torch.long),
            death_action=torch.zeros(b, 2, dtype=torch.long), death_pos=torch.zeros(b, 2, 2),
            invulnerable=torch.zeros(b, 2, dtype=torch.long), frame=torch.zeros(b, dtype=torch.long),
            over=torch.zeros(b, dtype=torch.bool), winner=torch.full((b,), -1, dtype=torch.long),
            limit=torch.full((b,), int(limit), dtype=torch.long), blast=blast, respawn=respawn,
        )

    def replace_rows(self, rows: Tensor, other: "RulesState") -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name)[rows] = getattr(other, name).to(getattr(self, name).dtype)

    @property
    def timer_left(self) -> Tensor:
        return (self.limit - self.frame).clamp(min=0)


@dataclass
class Events:
    """What the rules did on the last frame, per game: (B, 2) / (B,) bool."""

    ko: Tensor
    respawn: Tensor
    game_over: Tensor

    def lists(self, rows: Tensor | slice) -> list[list[dict]]:
        """The events of games `rows`, one list per game (converted in one pass)."""
        out = []
        for ko, respawn, over in zip(self.ko[rows].tolist(), self.respawn[rows].tolist(),
                                     self.game_over[rows].tolist()):
            game: list[dict] = []
            for p in (0, 1):
                if ko[p]:
                    game.append({"type": "ko", "player": p})
                if respawn[p]:
                    game.append({"type": "respawn", "player": p})
            if over:
                game.append({"type": "game_over"})
            out.append(game)
        return out


def apply(rules: RulesState, prev: dict[str, Tensor], nxt: dict[str, Tensor]) -> tuple[dict[str, Tensor], Events]:
    """The rules on one frame of every game: `nxt` is what the stepper returned from `prev`.
    Returns the frame to show and to feed back (a new dict; `nxt` is not modified)."""
    out = _writable_frame(prev, nxt)
    active = ~rules.over  # (B,)
    exists = out["player_exists"].bool()
    # The numbers are the rules of the module docstring; each step reads what the previous wrote.
    ko = _knock_out(rules, out, exists, active)  # 1-2
    respawning, still_dead = _count_down_pause(rules, active)
    if bool(still_dead.any()):
        _hold_dead(rules, out, still_dead)
    if bool(respawning.any()):
        _respawn(rules, out, respawning)  # 3
    _invulnerability(rules, prev, out, exists, active, ko, respawning)  # 4
    small = out["player_small"]
    # stocks are the rules'
    small[..., _S["stocks"]] = torch.where(exists, rules.stocks, small[..., _S["stocks"]].long()).to(small.dtype)
    _nana_off_blast_zone(rules, out)  # 6
    ends = _timer_and_game_over(rules, out, exists, active)  # 5
    if bool((~active).any()):
        _freeze_finished(prev, out, ~active)
    return out, Events(ko=ko, respawn=respawning, game_over=ends)


def _writable_frame(prev: dict[str, Tensor], nxt: dict[str, Tensor]) -> dict[str, Tensor]:
    """`nxt` with the keys it lacks carried from `prev`, and copies of the tensors the rules write."""
    out = dict(nxt)
    for k, v in prev.items():  # keys the stepper did not return are carried
        out.setdefault(k, v)
    for k in ("player_real", "player_small", "player_wide", "follower_real", "follower_small",
              "follower_wide", "player_exists", "follower_exists"):
        out[k] = out[k].clone()
    return out


def _knock_out(rules: RulesState, out: dict[str, Tensor], exists: Tensor, active: Tensor) -> Tensor:
    """Players who cross a blast zone this frame lose a stock and start the KO pause; returns
    them (B, 2)."""
    real, wide = out["player_real"], out["player_wide"]
    x, y = real[..., _R["x"]], real[..., _R["y"]]
    action = wide[..., _W["action"]].long()
    left, right, top, bottom = (rules.blast[:, i : i + 1] for i in range(4))
    damaged = (_CATEGORY[action.clamp(0, A.ACTION_VOCAB - 1)] == DAMAGE) | (real[..., _R["hitstun"]] > 0)
    out_l, out_r, out_b = x < left, x > right, y < bottom
    out_t = ((y > top) & damaged) | (y > top + TOP_SLACK)
    crossed = out_l | out_r | out_b | out_t
    alive = (rules.dead == 0) & exists & active[:, None]
    ko = alive & crossed
    death = torch.where(out_l, DEAD_LEFT, torch.where(out_r, DEAD_RIGHT, torch.where(out_b, DEAD_DOWN, DEAD_UP)))
    rules.stocks = torch.where(ko, (rules.stocks - 1).clamp(min=0), rules.stocks)
    rules.death_action = torch.where(ko, death, rules.death_action)
    rules.death_pos = torch.where(ko[..., None], torch.stack([x, y], -1), rules.death_pos)
    rules.dead = torch.where(ko, facts.DEAD_FRAMES + 1, rules.dead)
    return ko


def _count_down_pause(rules: RulesState, active: Tensor) -> tuple[Tensor, Tensor]:
    """One frame of the KO pause: (respawning, still_dead), both (B, 2)."""
    pausing = rules.dead > 0
    rules.dead = torch.where(pausing & active[:, None], rules.dead - 1, rules.dead)
    respawning = pausing & (rules.dead == 0) & (rules.stocks > 0)
    return respawning, pausing & ~respawning


def _hold_dead(rules: RulesState, out: dict[str, Tensor], m: Tensor) -> None:
    """Players `m` in the KO pause stay at the crossing point, motionless, in their death action."""
    real, small, wide = out["player_real"], out["player_small"], out["player_wide"]
    real[..., _R["x"]] = torch.where(m, rules.death_pos[..., 0], real[..., _R["x"]])
    real[..., _R["y"]] = torch.where(m, rules.death_pos[..., 1], real[..., _R["y"]])
    for name in ("vel_air_x", "vel_y", "vel_attack_x", "vel_attack_y", "vel_ground_x", "hitlag", "hitstun"):
        real[..., _R[name]] = torch.where(m, torch.zeros_like(real[..., _R[name]]), real[..., _R[name]])
    wide[..., _W["action"]] = torch.where(m, rules.death_action.to(wide.dtype), wide[..., _W["action"]])
    small[..., _S["airborne"]] = torch.where(m, 1, small[..., _S["airborne"]].long()).to(small.dtype)
    small[..., _S["ground"]] = torch.where(m, layout.GROUND_NONE, small[..., _S["ground"]].long()).to(small.dtype)


def _respawn(rules: RulesState, out: dict[str, Tensor], m: Tensor) -> None:
    """Players `m` appear on the halo at the respawn point, fresh (Nana with Popo)."""
    real, small, wide = out["player_real"], out["player_small"], out["player_wide"]
    rx, ry = rules.respawn[..., 0], rules.respawn[..., 1]
    zero = {"percent", "vel_air_x", "vel_y", "vel_attack_x", "vel_attack_y", "vel_ground_x",
            "hitlag", "hitstun", "state_age", "combo_count"}
    for name in zero:
        real[..., _R[name]] = torch.where(m, torch.zeros_like(real[..., _R[name]]), real[..., _R[name]])
    real[..., _R["x"]] = torch.where(m, rx, real[..., _R["x"]])
    real[..., _R["y"]] = torch.where(m, ry, real[..., _R["y"]])
    real[..., _R["shield"]] = torch.where(m, torch.full_like(rx, facts.FULL_SHIELD), real[..., _R["shield"]])
    wide[..., _W["action"]] = torch.where(m, HALO_DESCENT, wide[..., _W["action"]].long()).to(wide.dtype)
    chars = small[..., _S["character"]].long()
    jumps = torch.where((chars == facts.KIRBY_INTERNAL) | (chars == facts.JIGGLYPUFF_INTERNAL), 6, 2)
    sets = {"jumps": jumps, "airborne": torch.ones_like(jumps), "ground": torch.full_like(jumps, layout.GROUND_NONE),
            "facing": (rx <= 0).long(),
            "last_hit_by": torch.full_like(jumps, layout.PORT_NONE), "l_cancel": torch.zeros_like(jumps)}
    for name, v in sets.items():
        small[..., _S[name]] = torch.where(m, v, small[..., _S[name]].long()).to(small.dtype)
    for k in ("follower_real", "follower_small", "follower_wide"):
        src = out[k.replace("follower", "player")]
        keep_char = out[k][..., _S["character"]].clone() if k == "follower_small" else None
        has_nana = (small[..., _S["character"]].long() == 10) & m  # Popo: Nana comes back with him
        out[k] = torch.where(has_nana[..., None], src, out[k])
        if keep_char is not None:
            out[k][..., _S["character"]] = torch.where(has_nana, 11, keep_char.long()).to(out[k].dtype)
    has_nana = (small[..., _S["character"]].long() == 10) & m
    out["follower_exists"] = torch.where(has_nana, 1, out["follower_exists"].long()).to(torch.uint8)


def _invulnerability(rules: RulesState, prev: dict[str, Tensor], out: dict[str, Tensor], exists: Tensor,
                     active: Tensor, ko: Tensor, respawning: Tensor) -> None:
    """The hurtbox is invulnerable on the halo, INVULNERABLE_FRAMES after leaving it, and while dead."""
    small, wide = out["player_small"], out["player_wide"]
    act = wide[..., _W["action"]].long()
    on_halo = (act == HALO_DESCENT) | (act == HALO_WAIT)
    prev_act = prev["player_wide"][..., _W["action"]].long()
    was_halo = (prev_act == HALO_DESCENT) | (prev_act == HALO_WAIT)
    left_halo = was_halo & ~on_halo & ~respawning
    rules.invulnerable = torch.where(left_halo, facts.INVULNERABLE_FRAMES,
                                     (rules.invulnerable - active[:, None].long()).clamp(min=0))
    rules.invulnerable = torch.where(ko, 0, rules.invulnerable)
    inv = (on_halo | (rules.invulnerable > 0) | rules.dead.gt(0)) & exists
    small[..., _S["hurtbox"]] = torch.where(inv, 1, small[..., _S["hurtbox"]].long()).to(small.dtype)


def _nana_off_blast_zone(rules: RulesState, out: dict[str, Tensor]) -> None:
    """A follower past a blast zone disappears."""
    left, right, top, bottom = (rules.blast[:, i : i + 1] for i in range(4))
    fr = out["follower_real"]
    fx, fy = fr[..., _R["x"]], fr[..., _R["y"]]
    f_out = ((fx < left) | (fx > right) | (fy < bottom) | (fy > top + TOP_SLACK)) & out["follower_exists"].bool()
    if bool(f_out.any()):
        for k in ("follower_real", "follower_small", "follower_wide"):
            out[k] = torch.where(f_out[..., None], torch.zeros_like(out[k]), out[k])
        out["follower_exists"] = torch.where(f_out, 0, out["follower_exists"].long()).to(torch.uint8)


def _timer_and_game_over(rules: RulesState, out: dict[str, Tensor], exists: Tensor, active: Tensor) -> Tensor:
    """Advance the timer; games that end this frame get their winner. Returns them (B,)."""
    rules.frame = torch.where(active, rules.frame + 1, rules.frame)
    out_of_stocks = (rules.stocks == 0) & exists
    lost = out_of_stocks.any(-1)
    time_up = (rules.limit > 0) & (rules.frame >= rules.limit)
    ends = active & (lost | time_up)
    if bool(ends.any()):
        pct = out["player_real"][..., _R["percent"]]
        by_stocks = torch.where(rules.stocks[:, 0] > rules.stocks[:, 1], 0,
                                torch.where(rules.stocks[:, 1] > rules.stocks[:, 0], 1, -1))
        by_pct = torch.where(pct[:, 0] < pct[:, 1], 0, torch.where(pct[:, 1] < pct[:, 0], 1, -1))
        on_time = torch.where(by_stocks >= 0, by_stocks, by_pct)
        on_ko = torch.where(out_of_stocks.all(-1), -1, torch.where(out_of_stocks[:, 0], 1, 0))
        win = torch.where(lost, on_ko, on_time)
        rules.winner = torch.where(ends, win, rules.winner)
        rules.over = rules.over | ends
    return ends


def _freeze_finished(prev: dict[str, Tensor], out: dict[str, Tensor], frozen: Tensor) -> None:
    """A finished game (`frozen`, (B,)) no longer changes: its rows of `out` are `prev`'s."""
    b = out["player_real"].shape[0]
    for k, v in out.items():
        if k in prev and isinstance(v, Tensor) and v.shape[:1] == (b,) and prev[k].shape == v.shape:
            shape = (b,) + (1,) * (v.dim() - 1)
            out[k] = torch.where(frozen.reshape(shape), prev[k], v)
