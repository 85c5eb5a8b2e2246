"""THE step function, and the window paths that share its decoding.

    step(model, model_state, game_state, controllers) -> (model_state, next_game_state)

* `game_state`: one frame per stream as store values (torch tensors, game units), the keys of a
  `data.windows` batch without the time axis: player_real (B, 2, F), player_small, player_wide,
  player_exists (B, 2), follower_* (same), item_real (B, S, F), item_small, item_exists (B, S),
  stage (B,); optionally controller_sticks/controller_buttons (the inputs that produced it),
  frame_id (B,) and anything else (carried unchanged: characters, game, ...).
* `controllers`: (B, 2, 17) encoded inputs of the frame to predict (libmelee's 0..1 sticks and
  trigger, then the 12 buttons as 0/1; `data.encoding.encode_controller` builds them).
* returns the new recurrent state and the next frame as store values with the same keys, its
  `controller_*` being the given controllers (in the store, a frame's controller is the input
  that produced it) and `frame_id` + 1.

Every caller uses it: self-forcing in training (`step_encoded`, the same function without the
store round trip), evaluation rollouts, live play and the agent environments (`Stepper`: no
gradients, fixed dtypes/strides, optionally torch.compile'd). Decoding, clamping and the
state_age rule live in `model/rules.py` only; `predict_window` applies the same rules to a
teacher-forced window.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.encoding import CHAR_REAL, ITEM_REAL, broadcast_per_game, decode, encode
from dreamland.model.config import COMPILE_MODES
from dreamland.model.heads import Base, LossConfig, part_losses, total_loss
from dreamland.model.rules import age_rule_window
from dreamland.model.world import ModelState, WorldModel

GameState = dict[str, Tensor]
Encoded = dict[str, Tensor]

STATE_KEYS = ("char_real", "char_cat", "char_bin", "char_exists", "item_real", "item_cat",
              "item_bin", "item_exists", "stage")

# The dtype every store key has after `decode` (and after `to_torch` for the same store arrays,
# except stage, int16 in a batch): `Stepper` normalises inputs to it so a compiled step sees one
# signature.
_STORE_DTYPES: dict[str, torch.dtype] = {"stage": torch.long, "controller_sticks": torch.float16,
                                         "controller_buttons": torch.int32,
                                         "player_exists": torch.uint8, "follower_exists": torch.uint8,
                                         "item_exists": torch.uint8, "present": torch.uint8}
for _g in layout.PLAYER_GROUPS:
    _dt = torch.int32 if _g.dtype == "uint16" else getattr(torch, _g.dtype)
    _STORE_DTYPES[f"player_{_g.name}"] = _STORE_DTYPES[f"follower_{_g.name}"] = _dt
for _g in layout.ITEM_GROUPS:
    _STORE_DTYPES[f"item_{_g.name}"] = torch.int32 if _g.dtype == "uint16" else getattr(torch, _g.dtype)


# ----------------------------------------------------------------------------- encoding helpers


def encode_state(game_state: GameState) -> Encoded:
    """Store values of frames (any leading shape) -> the encoded state (no controller)."""
    batch = dict(game_state)
    if "controller_sticks" not in batch:
        lead = batch["player_exists"].shape
        dev = batch["player_exists"].device
        batch["controller_sticks"] = torch.zeros(*lead, len(layout.CONTROLLER_GROUPS[0].fields), device=dev)
        batch["controller_buttons"] = torch.zeros(*lead, 1, dtype=torch.int32, device=dev)
    enc = encode(batch)
    enc.pop("controller")
    return enc


def decode_state(enc: Encoded, like: GameState | None = None, advance: bool = True) -> GameState:
    """Encoded frame (with its `controller`) -> store values, every tensor contiguous; keys of
    `like` that encoding does not cover are carried (frame_id + 1 when `advance`)."""
    out = {k: v.contiguous() for k, v in decode(enc).items()}
    if like is not None:
        for k, v in like.items():
            if k not in out or k == "stage":  # the stage is carried as given (its dtype too)
                out[k] = v + 1 if (k == "frame_id" and advance) else v
    return out


# ----------------------------------------------------------------------------- the step


def step_encoded(
    model: WorldModel, model_state: ModelState, enc: Encoded, controllers: Tensor,
    return_heads: bool = False,
):
    """The step on encoded frames (B, ...): what self-forcing calls (differentiable through the
    recurrent state and the continuous fields). With `return_heads`, also the raw head outputs,
    which the training loss scores."""
    out, new_state = model.step(model_state, enc, controllers)
    nxt = model.rules(enc, out, controllers)
    return (new_state, nxt, out) if return_heads else (new_state, nxt)


def step(
    model: WorldModel, model_state: ModelState, game_state: GameState, controllers: Tensor
) -> tuple[ModelState, GameState]:
    """One frame for every stream of the batch: see the module docstring."""
    enc = encode_state(game_state)
    new_state, nxt = step_encoded(model, model_state, enc, controllers)
    return new_state, _exact_keeps(decode_state(nxt, like=game_state), game_state, enc, nxt)


# encoded real column k of a character / item slot is column k of the store's "real" group
assert [(g, j) for g, j, _ in CHAR_REAL] == [("real", k) for k in range(len(CHAR_REAL))]
assert [(g, j) for g, j, _ in ITEM_REAL] == [("real", k) for k in range(len(ITEM_REAL))]


def _exact_keeps(out: GameState, game_state: GameState, enc: Encoded, nxt: Encoded) -> GameState:
    """Where the next encoded real value is the current one (a KEEP decision, or a rule that
    left it), return the input's store value bit for bit: value / scale * scale may differ from
    value in the last bit, and a kept percent must stay exactly what it was over any number of
    frames."""
    same = nxt["char_real"] == enc["char_real"]
    out["player_real"] = torch.where(same[..., :2, :], game_state["player_real"].to(out["player_real"].dtype), out["player_real"])
    out["follower_real"] = torch.where(same[..., 2:, :], game_state["follower_real"].to(out["follower_real"].dtype), out["follower_real"])
    same = nxt["item_real"] == enc["item_real"]
    out["item_real"] = torch.where(same, game_state["item_real"].to(out["item_real"].dtype), out["item_real"])
    return out


def normalize_state(game_state: GameState, device: torch.device | str | None = None) -> GameState:
    """Canonical dtypes (those `decode` returns), contiguous, on `device`: a numpy-batch frame and
    a stepped frame then look the same to a compiled step (no recompiles)."""
    out = {}
    for k in sorted(game_state):  # one key order: torch.compile guards on it
        v = game_state[k]
        if not isinstance(v, Tensor):
            v = torch.as_tensor(v)
        dt = _STORE_DTYPES.get(k)
        v = v.to(device=device if device is not None else v.device, dtype=dt if dt is not None else v.dtype)
        out[k] = canonical(v)
    return out


def canonical(v: Tensor) -> Tensor:
    """`v` with exactly the strides of a fresh contiguous tensor. (`.contiguous()` keeps odd
    strides on size-1 dims, e.g. a (1, 2, 13) slice of a (1, 4, 13) tensor, and torch.compile
    guards on strides.)"""
    shape = v.shape
    expected, acc = [], 1
    for n in reversed(shape):
        expected.append(acc)
        acc *= max(n, 1)
    if tuple(reversed(expected)) == v.stride():
        return v
    return torch.empty(shape, dtype=v.dtype, device=v.device).copy_(v)


CORE_KEYS = tuple(sorted(_STORE_DTYPES))  # what the compiled step reads and writes


def blank_state(batch: int, item_slots: int = 16, device=None) -> GameState:
    """An all-zero frame (no character, no item) with the canonical keys, dtypes and shapes."""
    shapes = {"stage": (batch,), "controller_sticks": (batch, 2, len(layout.CONTROLLER_GROUPS[0].fields)),
              "controller_buttons": (batch, 2, 1), "player_exists": (batch, 2),
              "follower_exists": (batch, 2), "item_exists": (batch, item_slots),
              "present": (batch, len(layout.PRESENT_FIELDS))}
    for g in layout.PLAYER_GROUPS:
        shapes[f"player_{g.name}"] = shapes[f"follower_{g.name}"] = (batch, 2, len(g.fields))
    for g in layout.ITEM_GROUPS:
        shapes[f"item_{g.name}"] = (batch, item_slots, len(g.fields))
    out = {k: torch.zeros(shapes[k], dtype=_STORE_DTYPES[k], device=device) for k in CORE_KEYS}
    out["present"].fill_(1)  # every field recorded (what the model predicts in play)
    return out


class _StepModule(torch.nn.Module):
    def __init__(self, model: WorldModel):
        super().__init__()
        self.model = model

    def forward(self, state: ModelState, game: GameState, controllers: Tensor):
        return step(self.model, state, game, controllers)


class Stepper:
    """`step` bound to a model, for rollouts, play and environments: no autograd graph is ever
    built (`torch.no_grad`), inputs are normalised to fixed keys, dtypes and contiguous layouts
    (keys beyond the game state, e.g. frame_id or characters, are carried around the compiled
    part), and the step can be compiled as one graph (encode, model, rules, decode):

    * `compile=False`: eager PyTorch;
    * `compile="aot"` (or True): `torch.export` + AOTInductor, one native library per batch size,
      built on first use (tens of seconds for the large preset): no Python or guard overhead per
      call, the fastest on a CPU;
    * `compile="aot-tuned"`: the same, built with inductor's max-autotune: each matrix product is
      timed at build time between ATen and inductor's own C++ GEMM kernels (on a CPU), and the
      faster one is kept. A longer build and, for the large preset in float16 at batch 1, about
      a third off the step (docs/model.md);
    * `compile="inductor"`: `torch.compile` (weights frozen into the graph, guards on the
      modules skipped).
    The weights become constants of a compiled step: build a new Stepper after changing them.
    A compiler failure falls back (aot-tuned -> aot -> inductor -> eager) and is recorded in
    `compile_error`.

        stepper = Stepper(model, compile=True)
        state = stepper.initial_state(batch)           # or seed(model, window)
        state, frame = stepper(state, frame, controllers)

    `dtype="float16"` steps a half-precision copy of the weights (the recurrent state, the SSM
    recurrence and the game state stay float32): on a CPU a batch-1 step is bound by reading
    the weights from memory, so this halves the time of the matrix products."""

    name = "model"
    context = None

    def __init__(
        self,
        model: WorldModel,
        compile: bool | str = False,
        dtype: torch.dtype | str | None = None,
    ):
        if dtype is not None and (getattr(torch, dtype) if isinstance(dtype, str) else dtype) != model.dtype:
            model = model.inference_copy(dtype)
        self.model = model.eval()
        mode = "aot" if compile is True else (compile or "eager")
        if mode not in COMPILE_MODES:
            choices = ", ".join(COMPILE_MODES[1:])
            raise ValueError(f"compile must be False, True or one of {choices}, got {compile!r}")
        self.mode = mode
        self.compile_error: str | None = None
        self._lock = threading.Lock()
        self._eager: Callable = lambda s, g, c: step(self.model, s, g, c)  # noqa: E731
        self._inductor: Callable | None = None
        self._backend = "inductor"  # tests trace with "eager" to check guards without codegen
        self._aot: dict[int, Callable] = {}
        self._tmp = None

    # ------------------------------------------------------------------ compiled variants

    def _fail(self, exc: Exception, fallback: str) -> None:
        first = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        self.compile_error = f"{self.mode}: {first}" if self.compile_error is None else self.compile_error
        self.mode = fallback

    def _function(self, batch: int) -> Callable:
        if self.mode in ("aot", "aot-tuned"):
            fn = self._aot.get(batch)
            if fn is None:
                try:
                    fn = self._aot[batch] = self._build_aot(batch, tuned=self.mode == "aot-tuned")
                except Exception as exc:  # noqa: BLE001 - any toolchain failure: fall back
                    self._fail(exc, "aot" if self.mode == "aot-tuned" else "inductor")
                    return self._function(batch)
            return fn
        if self.mode == "inductor":
            if self._inductor is None:
                try:
                    options = {"guard_filter_fn": torch.compiler.skip_guard_on_all_nn_modules_unsafe}
                    if self._backend == "inductor":
                        options["freezing"] = True
                    self._inductor = torch.compile(self._eager, dynamic=False, backend=self._backend,
                                                   options=options)
                except Exception as exc:  # noqa: BLE001
                    self._fail(exc, "eager")
                    return self._eager
            return self._inductor
        return self._eager

    def _build_aot(self, batch: int, tuned: bool = False) -> Callable:
        import tempfile
        from pathlib import Path

        dev = self.model.device
        example = (self.initial_state(batch), blank_state(batch, self.model.item_slots, dev),
                   torch.zeros(batch, 2, self.model.spec.n_controller, device=dev))
        with torch.no_grad():
            exported = torch.export.export(_StepModule(self.model), example, strict=False)
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="dreamland-step-")
            path = Path(self._tmp.name) / f"step_b{batch}.pt2"
            configs: dict[str, Any] = {"freezing": True}
            if tuned:  # timing tables on stderr for every product are for compiler developers
                configs.update(max_autotune=True, autotune_num_choices_displayed=0,
                               max_autotune_report_choices_stats=False)
                if dev.type == "cpu":  # inductor's C++ GEMM templates; on CUDA the default (Triton)
                    configs["max_autotune_gemm_backends"] = "CPP,ATEN"
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="TypedStorage is deprecated")  # inductor's own
                pkg = torch._inductor.aoti_compile_and_package(
                    exported, package_path=str(path), inductor_configs=configs
                )
            return torch._inductor.aoti_load_package(pkg)

    # ------------------------------------------------------------------ protocol

    def initial_state(self, batch: int) -> ModelState:
        return self.model.allocate_state(batch, device=self.model.device)

    def init(self, seed_window: GameState) -> ModelState:
        """The recurrent state after K real frames (B, K, ...) (see `seed`): the evaluation and
        play protocol. The first step then starts from frame K-1."""
        with torch.no_grad():
            state, _ = seed(self.model, {k: v.to(self.model.device) for k, v in seed_window.items()
                                         if k != "controller"})
        return state

    def step(self, model_state: ModelState, game_state: GameState, controllers: Tensor):
        return self(model_state, game_state, controllers)

    def __call__(self, model_state: ModelState, game_state: GameState, controllers: Tensor):
        dev = self.model.device
        batch = controllers.shape[0]
        core = {k: game_state[k] for k in CORE_KEYS if k in game_state}
        if "controller_sticks" not in core or "present" not in core:
            blank = blank_state(batch, self.model.item_slots, dev)
            for k in ("controller_sticks", "controller_buttons", "present"):
                core.setdefault(k, blank[k])
        g = normalize_state(core, dev)
        c = canonical(controllers.to(device=dev, dtype=torch.float32))
        model_state = tuple(canonical(s) for s in model_state)
        with self._lock, torch.no_grad():
            fn = self._function(batch)
            try:
                state, nxt = fn(model_state, g, c)
            except Exception as exc:  # noqa: BLE001
                if fn is self._eager:
                    raise
                state, nxt = self._eager(model_state, g, c)  # a bad input raises here too
                self._fail(exc, "eager")  # only the compiled step failed: stay eager
        nxt = dict(nxt)
        for k, v in game_state.items():
            if k not in nxt:  # carried around the compiled step
                nxt[k] = v + 1 if k == "frame_id" else v
            elif isinstance(v, Tensor) and nxt[k].dtype != v.dtype:  # the caller's dtypes back
                nxt[k] = nxt[k].to(v.dtype)
        return tuple(state), nxt


class ModelStepper:
    """The world model behind the stepper protocol that evaluation, play and the environments
    drive: `init(seed)` consumes K real frames (`seed`), `step(state, frame, controllers)`
    advances every stream one frame through `Stepper` (no autograd, fixed dtypes, optionally
    compiled). The first step starts from the frame `seed` returns (state_age set by its rule, as
    in training) rather than the raw one the caller passes."""

    name = "model"

    def __init__(self, model: WorldModel, context: int | None = None, compile: bool | str = False,
                 dtype=None):
        self.model = model.eval()
        self.context = context
        self._step = Stepper(self.model, compile=compile, dtype=dtype)

    @property
    def compile_error(self) -> str | None:
        """Why the step fell back from the compile mode asked for (None when it did not)."""
        return self._step.compile_error

    @torch.no_grad()
    def init(self, window: GameState) -> tuple[ModelState, GameState]:
        dev = self.model.device
        state, frame = seed(self.model, {k: v.to(dev) for k, v in window.items() if k != "controller"})
        return state, frame

    def step(self, model_state, game_state: GameState, controllers: Tensor):
        state, seeded = model_state
        state, nxt = self._step(state, seeded if seeded is not None else game_state, controllers)
        return (state, None), nxt


def load_stepper(path: str, device: str | torch.device = "cpu", compile: bool | str = False,
                 dtype=None) -> ModelStepper:
    """A checkpoint folder as a stepper; its context length is the one it was trained with (from
    the training config saved beside the weights), else 30. Raises CheckpointError (one line)."""
    from dreamland.model.checkpoint import load

    checkpoint = load(path, device)
    context = ((checkpoint.extra.get("train_config") or {}).get("data") or {}).get("context", 30)
    return ModelStepper(checkpoint.model, context=int(context), compile=compile, dtype=dtype)


# ----------------------------------------------------------------------------- windows


def prepare_window(enc: Encoded) -> tuple[Encoded, Tensor, Encoded]:
    """An encoded window of T = K+1 frames (`data.encoding.encode` of a `WindowSampler` batch) ->
    (inputs = frames 0..K-1, controllers of frames 1..K, targets = frames 1..K). state_age is
    rewritten by its rule first (see `rules.age_rule_window`), so training reads what play writes."""
    enc = dict(enc)
    enc["char_real"] = age_rule_window(enc["char_real"], enc["char_cat"], enc["char_exists"])
    enc = broadcast_per_game(enc)
    inputs = {k: enc[k][:, :-1] for k in _state_keys(enc)}
    targets = {k: enc[k][:, 1:] for k in _state_keys(enc)}
    return inputs, enc["controller"][:, 1:], targets


def window_loss(
    model: WorldModel, enc: Encoded, loss_config: LossConfig | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """Teacher-forced loss of a batch of encoded windows: (weighted total, per-field losses)."""
    inputs, controllers, targets = prepare_window(enc)
    out = model(inputs, controllers)
    return loss_from_heads(model, out, inputs, targets, loss_config)


def loss_from_heads(
    model: WorldModel, out: dict[str, Tensor], inputs: Encoded, targets: Encoded,
    loss_config: LossConfig | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-field losses (dict, keys `heads.loss_keys()`) and their weighted total for head outputs
    `out` predicting `targets` from `inputs` (any leading shape: a window or one step)."""
    cfg = loss_config or LossConfig()
    r = model.rules
    losses: dict[str, Tensor] = {}
    for part in (model.char_part, model.item_part):
        dunit = getattr(r, f"{part.name}_dunit")
        base = None
        if part.name == "char" and r.priors is not None:  # the rule that decodes is the rule scored
            value = r.priors.base(inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"])
            base = Base(value, r.priors.keep_tolerance(value))
        losses.update(part_losses(part, out[part.name], inputs, targets, dunit, r.jump_threshold, cfg, base))
    return total_loss(losses, cfg), losses


def predict_window(model: WorldModel, inputs: Encoded, controllers: Tensor) -> Encoded:
    """Teacher-forced predictions of frames 1..T from real frames 0..T-1 (encoded, (B, T, ...)),
    decoded by the same rules as `step`."""
    return decode_window(model, inputs, model(inputs, controllers), controllers)


def decode_window(model: WorldModel, inputs: Encoded, out: dict[str, Tensor], controllers: Tensor) -> Encoded:
    """The frames a window's head outputs `out` decode to (what `predict_window` returns), for a
    caller that already ran the model (validation scores and decodes one forward)."""
    return model.rules(broadcast_per_game(inputs), out, controllers)


def seed(model: WorldModel, window: GameState) -> tuple[ModelState, GameState]:
    """Start a rollout from K >= 1 real frames (store values, (B, K, ...)): runs the window
    forward over frames 0..K-2 with the inputs of frames 1..K-1 and returns (the recurrent state,
    frame K-1 as a game state). The next `step(state, frame, controllers of frame K)` predicts
    frame K. state_age of the returned frame follows the rule, as during training."""
    enc = encode(window)
    enc["char_real"] = age_rule_window(enc["char_real"], enc["char_cat"], enc["char_exists"])
    enc = broadcast_per_game(enc)
    K = enc["char_exists"].shape[1]
    B = enc["char_exists"].shape[0]
    if K > 1:
        inputs = {k: enc[k][:, :-1] for k in _state_keys(enc)}
        _, state = model(inputs, enc["controller"][:, 1:], return_state=True)
        state = tuple(s.contiguous() for s in state)
    else:
        state = model.allocate_state(B, device=enc["char_exists"].device)
    last = {k: enc[k][:, -1] for k in _state_keys(enc)}
    last["controller"] = enc["controller"][:, -1]
    return state, decode_state(last, like=frame_at(window, -1), advance=False)


_TIMELESS = ("stage", "characters", "game", "present")  # per-game keys of a window batch (no time axis)


def _state_keys(enc: Encoded) -> tuple[str, ...]:
    return STATE_KEYS + (("present",) if "present" in enc else ())


def first_frames(window: GameState, k: int) -> GameState:
    """Frames 0..k-1 of a window batch (store values, (B, T, ...)): a seed for `seed`."""
    return {key: (v if key in _TIMELESS else v[:, :k]) for key, v in window.items()}


def frame_at(window: GameState, t: int) -> GameState:
    """Frame t of a window batch (store values, (B, T, ...)) as a game state (B, ...)."""
    return {k: (v if k in _TIMELESS else v[:, t]) for k, v in window.items()}


__all__ = [
    "GameState",
    "ModelStepper",
    "Stepper",
    "decode_state",
    "decode_window",
    "encode_state",
    "first_frames",
    "frame_at",
    "load_stepper",
    "loss_from_heads",
    "normalize_state",
    "predict_window",
    "prepare_window",
    "seed",
    "step",
    "step_encoded",
    "window_loss",
]
