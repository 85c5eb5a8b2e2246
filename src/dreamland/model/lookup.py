"""The counted action table as the starting point of the leaders' action head.

Counting beats learning on the next action at the budgets this project trains with (the lookup
baseline, docs/experiments.md): for a (character, action, frames since it began, input class)
the most common next action over the training games (data/action_table.py) is right more often
than a small model after thousands of steps. With `ModelConfig.action_lookup` the model starts
from that answer and learns the correction: the action logits of the two leaders get a bonus on
the table's action, a learned number per (what the table knew, whether its answer is a change,
how often that answer followed the key when counted). At initialisation the bonus makes the
table's action as likely as its share says, so an untrained model already predicts what the
lookup baseline predicts; the heads then learn where the table is wrong.

The table is part of the weights (persistent buffers, sized by `ModelConfig.lookup_keys` and
`lookup_back_keys`, filled by training from its training games: `fill`), so a checkpoint plays
the same anywhere. The bonus is a function of the current frame and the next controllers only,
so the window and the step paths add the same numbers (tests/model/test_lookup.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dreamland.data.action_table import MAX_AGE, ActionTable, input_class, key, lookup
from dreamland.model.heads import Part

N_SHARE_BINS = 8
EXACT, BACK_OFF, UNKNOWN = 0, 1, 2  # what the table knew: the full key, the key without input, nothing
N_LEADERS = 2


def _col(fields, name: str) -> int:
    return [f.name for f in fields].index(name)


def _initial_bonus(vocab: int) -> Tensor:
    """(3 kinds, 2 = stays / changes, N_SHARE_BINS): with the heads' own logits equal, the bonus
    gives the table's action the probability of its share bin's middle (the rest spread evenly
    over the other actions). Where the table knew nothing its answer is "the action stays", the
    lookup baseline's, with the most confident bin."""
    mid = (torch.arange(N_SHARE_BINS, dtype=torch.float32) + 0.5) / N_SHARE_BINS
    odds = torch.log(mid / (1 - mid)) + math.log(vocab - 1)
    return odds.expand(3, 2, N_SHARE_BINS).clone()


class ActionLookup(nn.Module):
    """Encoded frame + next controllers -> an additive bonus on a character part's head outputs."""

    def __init__(self, part: Part, n_keys: int, n_back: int, d_slot: int = 0):
        super().__init__()
        cat = part.cat
        self.action = _col(cat, "action")
        self.character = _col(cat, "character")
        self.age = _col(part.real, "state_age")
        self.age_scale = part.real[self.age].scale
        self.top = int(cat[self.action].vocab) - 1
        self.offset = part.o_cat[part.cat_pred.index(self.action)][0]
        for name, n, dtype in (("keys", n_keys, torch.int64), ("actions", n_keys, torch.int16),
                               ("shares", n_keys, torch.uint8), ("back_keys", n_back, torch.int64),
                               ("back_actions", n_back, torch.int16), ("back_shares", n_back, torch.uint8)):
            self.register_buffer(name, torch.zeros(n, dtype=dtype))
        self.bonus = nn.Parameter(_initial_bonus(self.top + 1))
        # With `d_slot`, the heads also read the proposal (ModelConfig.lookup_to_heads): the
        # velocity and flag heads then know which action the bonus will most likely pick.
        self.proposed = nn.Embedding(self.top + 1, d_slot) if d_slot else None
        self.known = nn.Embedding(3, d_slot) if d_slot else None
        for emb in (self.proposed, self.known):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.02)

    @torch.no_grad()
    def fill(self, table: ActionTable) -> None:
        """Copy a counted table in (its sizes must be the config's: `ModelConfig.lookup_keys`)."""
        if (len(table.keys), len(table.back_keys)) != (len(self.keys), len(self.back_keys)):
            raise ValueError(f"the table has {len(table.keys)} / {len(table.back_keys)} keys, the model "
                             f"was built for {len(self.keys)} / {len(self.back_keys)}")
        if len(table.actions) and int(torch.cat([table.actions, table.back_actions]).max()) > self.top:
            raise ValueError(f"the table holds action ids above the model's vocabulary ({self.top})")
        for name in ("keys", "actions", "shares", "back_keys", "back_actions", "back_shares"):
            v = getattr(table, name)
            if name.endswith("shares"):  # a share in (0, 1] stored in 255ths
                v = (v.float() * 255).round()
            getattr(self, name).copy_(v.to(getattr(self, name).dtype))

    def proposal(self, enc: dict[str, Tensor], controllers: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The table's answer for the two leaders: (next action, kind, share bin), each (..., 2)."""
        cat = enc["char_cat"][..., :N_LEADERS, :].long()
        action, char = cat[..., self.action], cat[..., self.character]
        age = (enc["char_real"][..., :N_LEADERS, self.age].float() * self.age_scale).round().long()
        cls = input_class(controllers.float())
        age = age.clamp(0, MAX_AGE)
        found_back, i_back = lookup(self.back_keys, key(char, action, age))
        found, i = lookup(self.keys, key(char, action, age, cls))
        back = torch.where(found_back, self.back_actions[i_back].long(), action)
        nxt = torch.where(found, self.actions[i].long(), back)
        back_share = torch.where(found_back, self.back_shares[i_back].long(), 255)
        share = torch.where(found, self.shares[i].long(), back_share)
        kind = torch.where(found, EXACT, torch.where(found_back, BACK_OFF, UNKNOWN))
        return nxt, kind, (share * N_SHARE_BINS // 256).clamp(max=N_SHARE_BINS - 1)

    def slot_features(self, proposal: tuple[Tensor, Tensor, Tensor], like: Tensor) -> Tensor:
        """(..., 4, d_slot) the proposal as the leaders' slots add it (followers: 0), like `like`."""
        nxt, kind, _ = proposal
        leaders = (self.proposed(nxt) + self.known(kind)).to(like.dtype)
        return F.pad(leaders, (0, 0, 0, like.shape[-2] - N_LEADERS))

    def forward(self, enc: dict[str, Tensor], controllers: Tensor, like: Tensor,
                proposal: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
        """(..., 4, n_out) bonus, shaped and typed like the part's head output `like`: nonzero only
        at the table's action of each leader."""
        nxt, kind, share = self.proposal(enc, controllers) if proposal is None else proposal
        changes = (nxt != enc["char_cat"][..., :N_LEADERS, self.action].long()).long()
        value = self.bonus[kind, changes, share].to(like.dtype)
        leaders = like.new_zeros(like.shape[:-2] + (N_LEADERS, like.shape[-1]))
        leaders = leaders.scatter(-1, (self.offset + nxt).unsqueeze(-1), value.unsqueeze(-1))
        return F.pad(leaders, (0, 0, 0, like.shape[-2] - N_LEADERS))


__all__ = ["ActionLookup", "BACK_OFF", "EXACT", "N_SHARE_BINS", "UNKNOWN"]
