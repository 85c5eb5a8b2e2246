"""The game state during play: tensors in store units, and a readable view of one game.

A frame is a dict of torch tensors with a batch axis B (one row per game), exactly the keys of a
`data.windows` batch without the time axis (see docs/store.md): `player_real` (B, 2, F) float32,
`player_small` (B, 2, F) uint8, `player_wide` (B, 2, F) int32 (the store's uint16, widened as
`data.encoding.to_torch` does), `player_exists` (B, 2), the same for `follower_*`, `item_real`
(B, S, F), `item_small`, `item_exists` (B, S), `stage` (B,) external id, `characters` (B, 2)
internal ids, `frame_id` (B,) and the inputs that produced the frame (`controller_sticks`,
`controller_buttons`). The layout (keys, dtypes, shapes, columns) is `data.frame`'s.

`GameState` / `PlayerState` / `ItemState` are plain-Python views of one game of such a batch, with
`to_json()`. They carry every schema field by its schema name (`values`), plus derived facts
(action name, on_ground, shielding...) and the rules' facts (stocks, timer, game over).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.frame import DTYPES, TIMELESS, blank, item_column, player_column
from dreamland.data.encoding import encode_controller
from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.play import facts
from dreamland.play.look import POSES, looks, pose_of, stage_outline
from dreamland.schema import actions as A
from dreamland.schema import characters as C
from dreamland.schema import items as ITEMS
from dreamland.schema import stages as S

PR, PS, PW = layout.PLAYER_GROUPS
IR, IS = layout.ITEM_GROUPS
STICKS, BUTTONS = layout.CONTROLLER_GROUPS
N_CONTROLLER = len(STICKS.fields) + 12

def empty_frame(batch: int = 1, item_slots: int = MAX_ITEM_SLOTS) -> dict[str, Tensor]:
    """All zeros, nobody exists: every key of a frame but `present` (play predicts every field)."""
    return blank(batch, item_slots, keys=[k for k in DTYPES if k != "present"])


def set_player(frame: dict[str, Tensor], b: int, p: int, values: dict[str, float], follower: bool = False) -> None:
    """Write fields by schema name into game b, player p (in place)."""
    who = "follower" if follower else "player"
    for name, v in values.items():
        g, j = player_column(name)
        frame[f"{who}_{g}"][b, p, j] = v


def player_values(frame: dict[str, Tensor], name: str, follower: bool = False) -> Tensor:
    """(B, 2) values of one player field by name."""
    g, j = player_column(name)
    return frame[f"{'follower' if follower else 'player'}_{g}"][..., j]


def standing_player(stage: int, slot: int, character_internal: int, stocks: int = facts.STOCKS) -> dict[str, float]:
    """A player standing below spawn slot `slot` (0-based): 0%, full shield, all jumps, `stocks`."""
    x, y, facing, ground = facts.standing_spot(stage, slot)
    return {
        "character": character_internal, "action": int(A.Action.STANDING),
        "x": x, "y": y, "facing": 1 if facing > 0 else 0, "percent": 0.0, "shield": facts.FULL_SHIELD,
        "stocks": stocks, "state_age": 0.0, "jumps": facts.jumps(character_internal), "airborne": 0,
        "ground": ground, "hurtbox": 0, "l_cancel": 0, "last_attack_landed": 0,
        "last_hit_by": layout.PORT_NONE, "combo_count": 0,
    }


def starting_frame(stage: int, characters_internal: tuple[int, int], stocks: int = facts.STOCKS,
                   item_slots: int = MAX_ITEM_SLOTS) -> dict[str, Tensor]:
    """One game (B = 1) at its start without any replay: both players standing at the stage's two
    spawn points (see `play.facts`), facing each other, 0 %, `stocks` stocks, no items. Ice
    Climbers get Nana at Popo's spot (an approximation: the game puts her a few units behind)."""
    frame = empty_frame(1, item_slots)
    for p in (0, 1):
        ch = int(characters_internal[p])
        set_player(frame, 0, p, standing_player(stage, p, ch, stocks))
        frame["player_exists"][0, p] = 1
        if ch == C.POPO_INTERNAL:
            nana = standing_player(stage, p, C.NANA_INTERNAL, stocks)
            set_player(frame, 0, p, nana, follower=True)
            frame["follower_exists"][0, p] = 1
    frame["stage"][0] = int(stage)
    frame["characters"][0] = torch.tensor([int(c) for c in characters_internal])
    return frame


def neutral_controllers(batch: int) -> Tensor:
    """(B, 2, 17) encoded neutral controllers (sticks 0.5, trigger 0, no button)."""
    sticks = torch.zeros(batch, 2, len(STICKS.fields))
    return encode_controller(sticks, torch.zeros(batch, 2, dtype=torch.long))


def seed_from_frames(frames: dict[str, Tensor], controllers: Tensor | None = None) -> dict[str, Tensor]:
    """Frames (B, K, ...) -> a stepper seed: the same dict (a `data.windows` batch layout), with
    `controller_sticks`/`controller_buttons` filled from encoded `controllers` (B, K, 2, 17) when
    given (the input that produced each frame)."""
    seed = dict(frames)
    if controllers is not None:
        from dreamland.data.encoding import decode_controller

        sticks, mask = decode_controller(controllers)
        seed["controller_sticks"] = sticks.to(torch.float16)
        seed["controller_buttons"] = mask[..., None].to(torch.int32)
    return seed


def repeat_as_seed(one: dict[str, Tensor], k: int) -> dict[str, Tensor]:
    """A one-frame state (B, ...) repeated into a K-frame seed (B, K, ...) of a player standing
    still: state_age counts up over the K frames as the rule would have it."""
    seed = {}
    for key, v in one.items():
        seed[key] = v if key in TIMELESS else v.unsqueeze(1).repeat_interleave(k, dim=1).clone()
    g, j = player_column("state_age")
    ages = torch.arange(k, dtype=torch.float32) - (k - 1)
    for who in ("player", "follower"):
        base = seed[f"{who}_{g}"][:, :, :, j]  # (B, K, 2)
        seed[f"{who}_{g}"][:, :, :, j] = (base + ages[None, :, None]).clamp(min=0)
    seed["frame_id"] = one["frame_id"][:, None] + torch.arange(-(k - 1), 1, dtype=torch.int32)[None]
    return seed


# ---------------------------------------------------------------------------------------------
# Readable views


def _name_of_action(action: int, character: int) -> str:
    # a state here may come from the model, whose vocabulary has 399 stand for every id >= 399:
    # naming it after the character would call it Kirby's MARIO_FIREBALL_GROUND (his real 399)
    if action == A.UNKNOWN_ACTION:
        return A.action_name(action)
    return A.action_name(action, character)


class _FieldView:
    """Every schema field of a player or item readable as an attribute (`p.percent`, `i.x`)."""

    values: dict[str, float]

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    @property
    def position(self) -> tuple[float, float]:
        return (self.values["x"], self.values["y"])


@dataclass
class PlayerState(_FieldView):
    """One player (or Ice Climbers' Nana) of one game, every schema field by name in `values`."""

    index: int
    exists: bool
    values: dict[str, float]
    invulnerable_rule: bool = False  # the rules' respawn invulnerability is running
    dead: bool = False  # KO'd, waiting to respawn (rules)
    follower: "PlayerState | None" = None

    # the usual names of libmelee's PlayerState (and `position`, from _FieldView)

    @property
    def action_id(self) -> int:
        return int(self.values["action"])

    @property
    def action_name(self) -> str:
        return _name_of_action(self.action_id, int(self.values["character"]))

    @property
    def character_name(self) -> str:
        return C.name_of_internal(int(self.values["character"]))

    @property
    def pose(self) -> str:
        """How the page draws the body (`play.look.pose_of`)."""
        return pose_of(self.action_id, not self.on_ground, self.dead)

    @property
    def facing_right(self) -> bool:
        return bool(self.values["facing"])

    @property
    def on_ground(self) -> bool:
        return not bool(self.values["airborne"])

    @property
    def shielding(self) -> bool:
        return bool(A.is_shielding(self.action_id))

    @property
    def in_hitlag(self) -> bool:
        return self.values["hitlag"] > 0

    @property
    def invulnerable(self) -> bool:
        return self.invulnerable_rule or int(self.values["hurtbox"]) != 0

    @property
    def speed(self) -> dict[str, float]:
        return {k: self.values[k] for k in ("vel_air_x", "vel_y", "vel_attack_x", "vel_attack_y", "vel_ground_x")
                if k in self.values}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "exists": self.exists}
        out.update({k: _clean(v) for k, v in self.values.items()})
        out.update(
            action_name=self.action_name, character_name=self.character_name,
            on_ground=self.on_ground, shielding=self.shielding, in_hitlag=self.in_hitlag,
            invulnerable=self.invulnerable, dead=self.dead, pose=self.pose,
        )
        if self.follower is not None:
            out["follower"] = self.follower.to_json()
        return out


@dataclass
class ItemState(_FieldView):
    slot: int
    values: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"slot": self.slot}
        out.update({k: _clean(v) for k, v in self.values.items()})
        return out


@dataclass
class GameState:
    """One game at one frame: players, items, and the rules' bookkeeping."""

    frame: int  # frames since the game (re)started
    stage: int  # external id
    players: list[PlayerState]
    items: list[ItemState]
    timer_frames_left: int
    game_over: bool = False
    winner: int | None = None  # player index, None while playing or on a draw
    events: list[dict[str, Any]] = field(default_factory=list)  # this frame's rule events

    @property
    def stage_name(self) -> str:
        return S.stage_name(self.stage)

    @property
    def player1(self) -> PlayerState:
        return self.players[0]

    @property
    def player2(self) -> PlayerState:
        return self.players[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "frame": self.frame, "stage": self.stage, "stage_name": self.stage_name,
            "timer_frames_left": self.timer_frames_left, "game_over": self.game_over,
            "winner": self.winner, "events": self.events,
            "players": [p.to_json() for p in self.players],
            "items": [i.to_json() for i in self.items],
        }


def _clean(v: float) -> float | int:
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return 0.0
        if v.is_integer():
            return int(v)
        return round(v, 4)
    return v


_PLAYER_NAMES = [(g.name, g.names) for g in layout.PLAYER_GROUPS]
_ITEM_NAMES = [(g.name, g.names) for g in layout.ITEM_GROUPS]


def _player(frame_rows: dict[str, list], who: str, p: int) -> tuple[bool, dict[str, float]]:
    values: dict[str, float] = {}
    for g, names in _PLAYER_NAMES:
        row = frame_rows[f"{who}_{g}"][p]
        values.update(zip(names, (float(v) for v in row)))
    return bool(frame_rows[f"{who}_exists"][p]), values


_VIEW_KEYS = {f"{w}_{g}" for w in ("player", "follower") for g, _ in _PLAYER_NAMES} | {
    "player_exists", "follower_exists", "stage", "item_exists"} | {f"item_{g}" for g, _ in _ITEM_NAMES}


def game_state_view(frame: dict[str, Tensor], b: int, *, frame_number: int = 0,
                    timer_frames_left: int = facts.GAME_FRAMES, game_over: bool = False,
                    winner: int | None = None, events: list | None = None,
                    invulnerable: tuple[bool, bool] = (False, False),
                    dead: tuple[bool, bool] = (False, False)) -> GameState:
    """The `GameState` of game b of a batched frame."""
    one = {k: v[b : b + 1] for k, v in frame.items() if k in _VIEW_KEYS}
    return game_state_views(one, frame_numbers=[frame_number], timer_frames_left=[timer_frames_left],
                            game_over=[game_over], winner=[winner], events=[events or []],
                            invulnerable=[invulnerable], dead=[dead])[0]


def game_state_views(frame: dict[str, Tensor], *, frame_numbers: list[int], timer_frames_left: list[int],
                     game_over: list[bool], winner: list[int | None], events: list[list],
                     invulnerable: list, dead: list) -> list[GameState]:
    """The `GameState` of every game of a batched frame (the per-game arguments are lists). Each
    tensor is converted to Python once for the whole batch: a vector env's bots read every game's
    state every frame, and one small conversion per field and game costs more than the model."""
    rows = {k: frame[k].tolist() for k in _VIEW_KEYS if not k.startswith("item_") and k != "stage"}
    items: list[list[ItemState]] = [[] for _ in range(len(frame_numbers))]
    live = torch.nonzero(frame["item_exists"], as_tuple=False)
    if len(live):
        parts = {g: frame[f"item_{g}"][live[:, 0], live[:, 1]].tolist() for g, _ in _ITEM_NAMES}
        for k, (b, slot) in enumerate(live.tolist()):
            values: dict[str, float] = {}
            for g, names in _ITEM_NAMES:
                values.update(zip(names, (float(v) for v in parts[g][k])))
            items[b].append(ItemState(slot, values))
    stages = frame["stage"].reshape(-1).tolist()
    out = []
    for b, game_items in enumerate(items):
        game_rows = {k: v[b] for k, v in rows.items()}
        players = []
        for p in (0, 1):
            exists, values = _player(game_rows, "player", p)
            ps = PlayerState(p, exists, values, invulnerable_rule=bool(invulnerable[b][p]), dead=bool(dead[b][p]))
            if game_rows["follower_exists"][p]:
                fe, fv = _player(game_rows, "follower", p)
                ps.follower = PlayerState(p, fe, fv)
            players.append(ps)
        out.append(GameState(
            frame=frame_numbers[b], stage=int(stages[b]), players=players,
            items=game_items, timer_frames_left=timer_frames_left[b], game_over=game_over[b],
            winner=winner[b], events=list(events[b]),
        ))
    return out


def schema_json() -> dict[str, Any]:
    """Field names and facts a client needs (served at /api/schema): nothing is hard-coded there."""
    def fields_of(groups):
        return [{"name": f.name, "kind": f.kind.value, "doc": f.doc, "group": g.name}
                for g in groups for f in g.fields]

    stages = []
    for sid in sorted(S.LEGAL_STAGES_EXTERNAL):
        g = S.geometry(sid)
        stages.append({
            "id": sid, "name": g.name,
            "blast_zones": {"left": g.blast_left, "right": g.blast_right, "top": g.blast_top,
                            "bottom": g.blast_bottom},
            "ground_x": g.ground_x, "ground_y": g.ground_y, "ledge_x": g.ledge_x,
            "platforms": [{"left": p.left, "right": p.right, "y": p.y, "moves": p.moves} for p in g.platforms],
            "spawns": [{"x": s.x, "y": s.y, "facing": s.facing} for s in g.spawns],
            "respawn": [list(xy) for xy in facts.RESPAWN[sid]],
            "outline": stage_outline(sid), "symmetric": g.symmetric, "notes": g.notes,
        })
    chars = [{"id": c.external_id, "internal_id": c.internal_id, "name": C.name_of_external(c.external_id),
              "height": c.height, "width": c.width}
             for c in C.CHARACTERS if c.playable and c.internal_id != C.NANA_INTERNAL]
    chars.sort(key=lambda c: c["name"])
    sizes = {c.internal_id: {"height": c.height, "width": c.width, "name": c.name} for c in C.CHARACTERS}
    return {
        "player_fields": fields_of(layout.PLAYER_GROUPS),
        "derived_player_fields": ["action_name", "character_name", "on_ground", "shielding",
                                  "in_hitlag", "invulnerable", "dead", "pose"],
        "item_fields": fields_of(layout.ITEM_GROUPS),
        "draw": {"x": "x", "y": "y", "facing": "facing", "percent": "percent", "stocks": "stocks",
                 "shield": "shield", "hitlag": "hitlag", "action_name": "action_name",
                 "character": "character", "shielding": "shielding", "invulnerable": "invulnerable",
                 "dead": "dead", "item_type": "type"},
        "stages": stages,
        "characters": chars,
        "character_sizes": {str(k): v for k, v in sizes.items()},
        "actions": [A.action_name(i) for i in range(A.NUM_COMMON_ACTIONS)],
        # item type id -> name and drawing kind (schema.items); an id not here is drawn as "unknown"
        "items": {str(i): {"name": t.name, "kind": t.kind} for i, t in ITEMS.ITEM_TYPES.items()},
        "item_kinds": list(ITEMS.KINDS),
        "looks": looks(), "poses": list(POSES),
        "shield_max": facts.FULL_SHIELD,
        "frames_per_second": 60,
        "game_frames": facts.GAME_FRAMES,
    }
