"""The world model: encoded frame + next controllers -> Mamba-2 backbone -> heads for every slot.

    frame t (encoded, data.encoding) + controllers of frame t+1
      -> input encoder: per character slot  [reals, flags, exists, embeddings of every id] -> d_char
                        per item slot       [same]                                         -> d_item
                        concat(4 char slots, S item slots, 2 x 17 controller values, stage embedding)
                        -> linear -> d_model
      -> n_layers x (x + Mamba2(RMSNorm(x)))  -> RMSNorm
      -> heads: one MLP shared by the character slots, one by the item slots, each reading
         [backbone output, the slot's own input encoding + a slot-id embedding]
      -> flat per-slot logits/regressions (laid out by heads.Part) for frame t+1

`forward` runs a window (B, T) with the chunked scan (training, seeding); `step` runs one frame
(B,) from a carried state in constant time (play, rollouts, self-forcing). Both give the same
outputs (tests/model/test_world.py). The carried state is a flat tuple of contiguous tensors
(conv_state, ssm_state per layer; with `motion_rules`, then the characters' positions in the
frame before, `priors.positions`) whose shapes, dtypes and strides never change between steps.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from dreamland.data.encoding import SPEC, Spec, broadcast_per_game
from dreamland.data.layout import PRESENT_FIELDS
from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.model.config import ModelConfig
from dreamland.model.heads import Part, parts
from dreamland.model.lookup import ActionLookup
from dreamland.model.mamba2 import Mamba2, Mamba2Config
from dreamland.model.rules import Rules

ModelState = tuple[Tensor, ...]
N_CHAR_SLOTS = 4
_STICK_AXES = 4  # main x, main y, c x, c y: the first columns of an encoded controller
_FACING = [f.name for f in SPEC.char_bin].index("facing")


def controller_features(controllers: Tensor, char_bin: Tensor) -> Tensor:
    """The controllers as the model reads them: (..., 2, n) encoded values (sticks 0..1 with 0.5
    neutral, trigger, buttons 0/1), then how far each stick is from neutral, then the x deflection
    of each stick toward the way the player faces. Melee acts on those: a standing character
    dashes or turns when the stick leaves neutral either way, which of the two by the facing. From
    the raw values that takes an absolute value and a product, which a small model had not learned
    after 6,000 steps (on real stick presses, 0.056 for the game's next action with the stick
    pushed, 0.055 with it centred: benchmarks/controls_check.py, docs/default-model.md)."""
    deflection = controllers[..., :_STICK_AXES] * 2 - 1
    facing = char_bin[..., :2, _FACING].to(controllers.dtype) * 2 - 1  # the two leaders, -1 left / 1 right
    forward = deflection[..., 0::2] * facing.unsqueeze(-1)  # main x and c x
    return torch.cat([controllers, deflection.abs(), forward], dim=-1)


def n_controller_features(spec: Spec = SPEC) -> int:
    return spec.n_controller + _STICK_AXES + 2


class Block(nn.Module):
    """Pre-norm residual Mamba-2 block: x + mixer(norm(x)), then, when `d_intermediate` > 0,
    x + mlp(norm2(x)) (mamba_ssm's Block with an MLP; a per-frame computation, so it adds capacity
    without adding per-step state)."""

    def __init__(self, cfg: Mamba2Config, d_intermediate: int = 0):
        super().__init__()
        self.norm = nn.RMSNorm(cfg.d_model, eps=1e-5)
        self.mixer = Mamba2(cfg)
        if d_intermediate > 0:
            self.norm2 = nn.RMSNorm(cfg.d_model, eps=1e-5)
            self.mlp = nn.Sequential(nn.Linear(cfg.d_model, d_intermediate), nn.GELU(),
                                     nn.Linear(d_intermediate, cfg.d_model))
        else:
            self.norm2 = self.mlp = None

    def _mlp(self, x: Tensor) -> Tensor:
        return x if self.mlp is None else x + self.mlp(self.norm2(x))

    def forward(self, x: Tensor, state=None, return_state: bool = False):
        if return_state:
            y, new_state = self.mixer(self.norm(x), inference_state=state, return_state=True)
            return self._mlp(x + y), new_state
        return self._mlp(x + self.mixer(self.norm(x), inference_state=state))

    def step(self, x: Tensor, state, donate: bool = False):
        y, new_state = self.mixer.step(self.norm(x), state, donate)
        return self._mlp(x + y), new_state


class SlotEncoder(nn.Module):
    """One slot's encoded fields -> a feature vector; shared by the slots of a part."""

    def __init__(self, part: Part, emb_dim: int, d_out: int):
        super().__init__()
        self.part = part
        self.emb = nn.Embedding(part.vocab_total, emb_dim)
        self.register_buffer("offsets", torch.tensor(part.cat_offsets, dtype=torch.long), persistent=False)
        d_in = len(part.real) + len(part.bin) + 1 + len(part.cat) * emb_dim
        self.proj = nn.Linear(d_in, d_out)

    def forward(self, enc: dict[str, Tensor]) -> Tensor:
        p = self.part.name
        ids = enc[f"{p}_cat"] + self.offsets  # (..., S, n_cat)
        dt = self.proj.weight.dtype
        feats = torch.cat(
            [
                enc[f"{p}_real"].to(dt),
                enc[f"{p}_bin"].to(dt),
                enc[f"{p}_exists"].unsqueeze(-1).to(dt),
                self.emb(ids).flatten(-2),
            ],
            dim=-1,
        )
        return F.gelu(self.proj(feats))


class SlotHead(nn.Module):
    """MLP over [h, slot encoding + slot embedding] -> the part's flat per-slot outputs.

    The first layer is split into W_h h + W_s s so that W_h h is computed once per frame rather
    than once per slot (same function as a linear layer on the concatenation)."""

    def __init__(self, d_model: int, d_slot: int, n_slots: int, d_hidden: int, layers: int, n_out: int):
        super().__init__()
        self.slot_emb = nn.Embedding(n_slots, d_slot)
        width = d_hidden if layers > 0 else n_out
        self.from_h = nn.Linear(d_model, width)
        self.from_slot = nn.Linear(d_slot, width, bias=False)
        self.hidden = nn.ModuleList(nn.Linear(d_hidden, d_hidden) for _ in range(max(0, layers - 1)))
        self.out = nn.Linear(d_hidden, n_out) if layers > 0 else None

    def features(self, h: Tensor, slots: Tensor) -> Tensor:
        """What the output layer reads (..., S, d_hidden); the outputs themselves without one."""
        x = self.from_h(h).unsqueeze(-2) + self.from_slot(slots + self.slot_emb.weight)
        if self.out is None:
            return x
        x = F.gelu(x)
        for layer in self.hidden:
            x = F.gelu(layer(x))
        return x

    def forward(self, h: Tensor, slots: Tensor) -> Tensor:
        x = self.features(h, slots)
        return x if self.out is None else self.out(x)

    def where_first(self, h: Tensor, slots: Tensor, keep: Callable[[Tensor], Tensor]) -> Tensor:
        """`forward`'s outputs where `keep(first output)` (a bool (..., S)) holds; elsewhere only
        the first output, the rest 0. An item slot that will not exist is all zeros whatever its
        other outputs say, and most of a frame's item slots are empty."""
        x = self.features(h, slots)
        if self.out is None:
            return x
        first = F.linear(x, self.out.weight[:1], self.out.bias[:1])
        rows = keep(first[..., 0]).flatten().nonzero().squeeze(1)
        out = torch.zeros(*x.shape[:-1], self.out.out_features, dtype=x.dtype, device=x.device)
        flat = out.view(-1, out.shape[-1])
        flat[:, :1] = first.reshape(-1, 1)
        flat.index_copy_(0, rows, self.out(x.reshape(-1, x.shape[-1]).index_select(0, rows)))
        return out


class WorldModel(nn.Module):
    """The world model. `config` fixes the shapes; field sizes come from `spec` (the schema)."""

    def __init__(self, config: ModelConfig, spec: Spec = SPEC):
        super().__init__()
        if spec.schema != SPEC.schema:
            raise ValueError("the model must be built from the current schema's encoding spec")
        self.config = config
        self.spec = spec
        self.char_part, self.item_part = parts(spec)
        c = config
        if c.item_slots > MAX_ITEM_SLOTS:
            raise ValueError(f"item_slots must be at most {MAX_ITEM_SLOTS}, got {c.item_slots}")
        self.item_slots = c.item_slots
        self.mamba_config = Mamba2Config.of(c.mamba, c.d_model)
        # input encoder
        self.char_enc = SlotEncoder(self.char_part, c.emb_char, c.d_char)
        self.item_enc = SlotEncoder(self.item_part, c.emb_item, c.d_item)
        self.stage_emb = nn.Embedding(spec.stage_vocab, c.emb_stage)
        d_frame = N_CHAR_SLOTS * c.d_char + self.item_slots * c.d_item + 2 * n_controller_features(spec) + c.emb_stage
        self.n_absent = len(PRESENT_FIELDS) if c.absent_inputs else 0
        d_frame += self.n_absent
        self.frame_in = nn.Linear(d_frame, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        # backbone
        self.layers = nn.ModuleList(Block(self.mamba_config, c.d_intermediate) for _ in range(c.n_layers))
        self.norm_f = nn.RMSNorm(c.d_model, eps=1e-5)
        # heads
        self.char_head = SlotHead(c.d_model, c.d_char, N_CHAR_SLOTS, c.d_head_char, c.head_layers,
                                  self.char_part.n_out)
        self.item_head = SlotHead(c.d_model, c.d_item, self.item_slots, c.d_head_item, c.head_layers,
                                  self.item_part.n_out)
        self.lookup = (ActionLookup(self.char_part, c.lookup_keys, c.lookup_back_keys,
                                    c.d_char if c.lookup_to_heads else 0) if c.action_lookup else None)
        self.rules = Rules(config, spec)

    # ------------------------------------------------------------------ pieces

    def encode_inputs(self, enc: dict[str, Tensor], controllers: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(frame vectors (..., d_model), char slot encodings (..., 4, d_char), item slot encodings
        (..., S, d_item)). `enc['stage']` has the leading shape of the other fields."""
        char = self.char_enc(enc)
        item = self.item_enc(enc)
        pieces = [char.flatten(-2), item.flatten(-2),
                  controller_features(controllers.to(char.dtype), enc["char_bin"]).flatten(-2),
                  self.stage_emb(enc["stage"])]
        if self.n_absent:
            pieces.append(self._absent(enc, char))
        return self.drop(self.frame_in(torch.cat(pieces, dim=-1))), char, item

    def _absent(self, enc: dict[str, Tensor], like: Tensor) -> Tensor:
        """1 for each character field the game never recorded (a zero there is not a value)."""
        present = enc.get("present")
        lead = like.shape[:-2]
        if present is None:  # play and hand-made states: everything recorded
            return torch.zeros(*lead, self.n_absent, dtype=like.dtype, device=like.device)
        return (1 - present.to(like.dtype)).expand(*lead, self.n_absent)

    def heads(self, h: Tensor, char: Tensor, item: Tensor, enc: dict[str, Tensor], controllers: Tensor,
              decode_only: bool = False) -> dict[str, Tensor]:
        """The heads' outputs for the next frame (the action table's bonus added, with a lookup).
        `decode_only`: the outputs are decoded, not scored, so on a CPU an item slot that will not
        exist gets only its exists logit (`SlotHead.where_first`); the decoded frame is the same."""
        if decode_only and h.device.type == "cpu":  # on a GPU the full product is cheap, finding the rows syncs
            items = self.item_head.where_first(h, item, lambda logit: self.rules.item_exists(logit, enc["item_exists"]))
        else:
            items = self.item_head(h, item)
        if self.lookup is None:
            return {"char": self.char_head(h, char), "item": items}
        proposal = self.lookup.proposal(enc, controllers)
        if self.lookup.proposed is not None:
            char = char + self.lookup.slot_features(proposal, char)
        out = self.char_head(h, char)
        out = out + self.lookup(enc, controllers, out, proposal)
        return {"char": out, "item": items}

    # ------------------------------------------------------------------ window / step

    def forward(
        self,
        enc: dict[str, Tensor],
        controllers: Tensor,
        state: ModelState | None = None,
        return_state: bool = False,
    ):
        """A window: `enc` fields shaped (B, T, ...) with `stage` (B, T) or (B,), `controllers`
        (B, T, 2, n_controller) = the inputs of frames 1..T. Returns the heads for frames 1..T
        (`{"char": (B, T, 4, n), "item": (B, T, S, n)}`), and the state after the window when
        `return_state` (continue it with `step` or another `forward`)."""
        enc = broadcast_per_game(enc)
        x, char, item = self.encode_inputs(enc, controllers)
        new_state: list[Tensor] = []
        for i, layer in enumerate(self.layers):
            s = None if state is None else (state[2 * i], state[2 * i + 1])
            if return_state:
                x, (conv, ssm) = layer(x, s, return_state=True)
                new_state += [conv, ssm]
            else:
                x = layer(x, s)
        out = self.heads(self.norm_f(x), char, item, enc, controllers)
        if return_state and self.config.motion_rules:
            new_state.append(self.rules.priors.positions(enc["char_real"][:, -1], enc["char_exists"][:, -1]))
        return (out, tuple(new_state)) if return_state else out

    def step(self, state: ModelState, enc: dict[str, Tensor], controllers: Tensor, donate: bool = False,
             decode_only: bool = False):
        """One frame per stream: `enc` fields (B, ...), `stage` (B,), `controllers` (B, 2, n).
        Returns (heads `{"char": (B, 4, n), "item": (B, S, n)}`, new state). `donate`: the
        state may be updated in place (`Mamba2.step`); do not use it again. `decode_only`: as
        for `heads`."""
        x, char, item = self.encode_inputs(enc, controllers)
        new_state: list[Tensor] = []
        for i, layer in enumerate(self.layers):
            x, (conv, ssm) = layer.step(x, (state[2 * i], state[2 * i + 1]), donate)
            new_state += [conv, ssm]
        if self.config.motion_rules:
            now = self.rules.priors.positions(enc["char_real"], enc["char_exists"])
            new_state.append(state[-1].copy_(now) if donate else now)
        return self.heads(self.norm_f(x), char, item, enc, controllers, decode_only), tuple(new_state)

    def motion(self, state: ModelState, enc: dict[str, Tensor]) -> Tensor | None:
        """(B, 4, 2) encoded displacement of each character into the frame `enc` (from the
        positions `state` kept of the frame before), which `rules` reads with `motion_rules`;
        None without. Read it before `step` consumes the state."""
        if not self.config.motion_rules:
            return None
        return self.rules.priors.motion_since(state[-1], enc["char_real"], enc["char_exists"])

    def window_motion(self, enc: dict[str, Tensor]) -> Tensor | None:
        """`motion` for every frame of windows (B, T, ...), from the frames themselves."""
        if not self.config.motion_rules:
            return None
        return self.rules.priors.window_motion(enc["char_real"], enc["char_exists"])

    def allocate_state(self, batch: int, device=None, dtype: torch.dtype = torch.float32) -> ModelState:
        """Zero state ("no history") for `batch` streams: contiguous float32 tensors by default
        (the carried state stays float32 even when the weights are half precision)."""
        out: list[Tensor] = []
        for layer in self.layers:
            conv, ssm = layer.mixer.allocate_state(batch, device=device, dtype=dtype)
            out += [conv, ssm]
        if self.config.motion_rules:  # no frame before: every slot absent, so no motion yet
            out.append(torch.zeros(batch, N_CHAR_SLOTS, 3, device=device, dtype=dtype))
        return tuple(out)

    @property
    def device(self) -> torch.device:
        return self.frame_in.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.frame_in.weight.dtype

    def inference_copy(self, dtype: torch.dtype | str) -> "WorldModel":
        """A copy for inference with its weights in `dtype` (e.g. float16: half the bytes a
        batch-1 step reads, which is what bounds its latency on a CPU). The rules layer's
        constants, the SSM's D, the carried state and the game state stay float32; the SSM
        recurrence itself is computed in float32 (see mamba2.py)."""
        import copy

        dt = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        model = copy.deepcopy(self).eval()
        for name, child in model.named_children():
            if name not in ("rules", "lookup"):
                child.to(dt)
        for layer in model.layers:
            layer.mixer.D.data = layer.mixer.D.data.float()
        for p in model.parameters():
            p.requires_grad_(False)
        return model


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["Block", "ModelState", "SlotEncoder", "SlotHead", "WorldModel", "count_parameters"]
