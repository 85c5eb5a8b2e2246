"""The one step bound to a model for rollouts, play and the environments (`ModelStepper`, the
world model behind `steppers.protocol`), and its compiled variants (`CompiledStep`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.frame import STEP_KEYS, blank, canonical, frame_at, normalize
from dreamland.model.checkpoint import load
from dreamland.model.config import COMPILE_MODES
from dreamland.model.rules import game_age_offset
from dreamland.model.step import GameState, seed, step
from dreamland.model.world import ModelState, WorldModel


def step_cache() -> Path:
    """The folder of compiled steps: $DREAMLAND_CACHE, else $XDG_CACHE_HOME/dreamland (default
    ~/.cache/dreamland), subfolder `steps`."""
    root = os.environ.get("DREAMLAND_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "dreamland")
    return Path(root).expanduser() / "steps"


def compiled_step_key(model: WorldModel, batch: int, configs: dict[str, Any]) -> str:
    """A name for one native step: everything it was built from (the weights and buffers, the
    config, dreamland's source, torch's version, the device, the batch, the build options), so a
    changed model or code never loads an old step."""
    import dreamland

    h = hashlib.sha256()
    h.update(repr((torch.__version__, str(model.device), str(model.dtype), batch, sorted(configs.items()),
                   model.config)).encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    for source in sorted(Path(dreamland.__file__).parent.rglob("*.py")):
        h.update(source.read_bytes())
    return h.hexdigest()[:32]


class _StepModule(torch.nn.Module):
    def __init__(self, model: WorldModel):
        super().__init__()
        self.model = model

    def forward(self, state: ModelState, game: GameState, controllers: Tensor):
        return step(self.model, state, game, controllers)


class CompiledStep:
    """`step` bound to a model, for rollouts, play and environments: no autograd graph is ever
    built (`torch.no_grad`), inputs are normalised to fixed keys, dtypes and contiguous layouts
    (keys beyond the game state, e.g. frame_id or characters, are carried around the compiled
    part), and the step can be compiled as one graph (encode, model, rules, decode):

    * `compile=False`: eager PyTorch, the recurrent state updated in place (the state passed in
      is consumed: `steppers.protocol`);
    * `compile="aot"` (or True): `torch.export` + AOTInductor, one native library per batch size,
      built on first use (tens of seconds for the large preset): no Python or guard overhead per
      call, the fastest on a CPU;
    * `compile="aot-tuned"`: the same, built with inductor's max-autotune: each matrix product is
      timed at build time between ATen and inductor's own C++ GEMM kernels (on a CPU), and the
      faster one is kept. A longer build and, for the large preset in float16 at batch 1, about
      a third off the step (docs/model.md);
    * `compile="inductor"`: `torch.compile` (weights frozen into the graph, guards on the
      modules skipped).
    The weights become constants of a compiled step: build a new CompiledStep after changing them.
    A compiler failure falls back (aot-tuned -> aot -> inductor -> eager) and is recorded in
    `compile_error`.

        stepper = CompiledStep(model, compile=True)
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
        cache: bool = True,
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
        self._eager: Callable = lambda s, g, c: step(self.model, s, g, c, donate=True)  # noqa: E731
        self._inductor: Callable | None = None
        self._backend = "inductor"  # tests trace with "eager" to check guards without codegen
        self._aot: dict[int, Callable] = {}
        self._cache = cache  # False: always build (what a benchmark of the build time needs)
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
                    functional = lambda s, g, c: step(self.model, s, g, c)  # noqa: E731 - graphs do not mutate inputs
                    self._inductor = torch.compile(functional, dynamic=False, backend=self._backend,
                                                   options=options)
                except Exception as exc:  # noqa: BLE001
                    self._fail(exc, "eager")
                    return self._eager
            return self._inductor
        return self._eager

    def _build_aot(self, batch: int, tuned: bool = False) -> Callable:
        dev = self.model.device
        configs: dict[str, Any] = {"freezing": True}
        if tuned:  # timing tables on stderr for every product are for compiler developers
            configs.update(max_autotune=True, autotune_num_choices_displayed=0,
                           max_autotune_report_choices_stats=False)
            if dev.type == "cpu":  # inductor's C++ GEMM templates; on CUDA the default (Triton)
                configs["max_autotune_gemm_backends"] = "CPP,ATEN"
        path = self._package_path(batch, configs)
        if path.is_file():
            try:
                return torch._inductor.aoti_load_package(str(path))
            except Exception:  # noqa: BLE001 - a damaged or foreign package: build it again
                path.unlink(missing_ok=True)
        example = (self.initial_state(batch), blank(batch, self.model.item_slots, dev, keys=STEP_KEYS),
                   torch.zeros(batch, 2, self.model.spec.n_controller, device=dev))
        with torch.no_grad():
            exported = torch.export.export(_StepModule(self.model), example, strict=False)
            partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.pt2")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="TypedStorage is deprecated")  # inductor's own
                torch._inductor.aoti_compile_and_package(exported, package_path=str(partial),
                                                         inductor_configs=configs)
            os.replace(partial, path)  # whole or absent: another process may read it next
            return torch._inductor.aoti_load_package(str(path))

    def _package_path(self, batch: int, configs: dict[str, Any]) -> Path:
        """Where the native step of this model, batch and build lives: in the step cache (building
        is slow, loading is not), or a folder of this process where the cache cannot be written."""
        name = f"step-{compiled_step_key(self.model, batch, configs)}.pt2"
        folder = step_cache()
        try:
            if self._cache:
                folder.mkdir(parents=True, exist_ok=True)
                if os.access(folder, os.W_OK):
                    return folder / name
        except OSError:
            pass
        if self._tmp is None:
            import tempfile

            self._tmp = tempfile.TemporaryDirectory(prefix="dreamland-step-")
        return Path(self._tmp.name) / name

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
        core = {k: game_state[k] for k in STEP_KEYS if k in game_state}
        if "controller_sticks" not in core or "present" not in core:
            for k, v in blank(batch, device=dev, keys=("controller_sticks", "controller_buttons", "present")).items():
                core.setdefault(k, v)
        g = normalize(core, dev)
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
    advances every stream one frame through `CompiledStep` (no autograd, fixed dtypes, optionally
    compiled).

    Two state_age counters: the model reads its clock, "frames since the action began", as in
    training (the first step starts from the frame `seed` returns, whose state_age is set by that
    rule, rather than the raw one the caller passes), while every frame `step` returns carries the
    game's own counter, continued from the seed's real one (`rules.game_age_offset`). The model's
    state keeps the difference, which `step` takes off the frame it is given; the model sees
    exactly the frames it would see without it."""

    name = "model"

    def __init__(self, model: WorldModel, context: int | None = None, compile: bool | str = False,
                 dtype=None):
        self.model = model.eval()
        self.context = context
        self._step = CompiledStep(self.model, compile=compile, dtype=dtype)

    @property
    def compile_error(self) -> str | None:
        """Why the step fell back from the compile mode asked for (None when it did not)."""
        return self._step.compile_error

    @torch.no_grad()
    def init(self, window: GameState) -> tuple[ModelState, GameState, Tensor]:
        dev = self.model.device
        window = {k: v.to(dev) for k, v in window.items() if k != "controller"}
        state, frame = seed(self.model, window)
        real = frame_at(window, -1, keys=_REAL_KEYS)
        return state, frame, (_ages(real) - _ages(frame)) * _exists(frame)

    def step(self, model_state, game_state: GameState, controllers: Tensor):
        state, seeded, offset = model_state
        current = seeded if seeded is not None else _shift_ages(game_state, -offset)
        state, nxt = self._step(state, current, controllers)
        if seeded is not None:  # the protocol returns the caller's dtypes; the seeded frame has the window's
            nxt = {k: v.to(game_state[k].dtype) if isinstance(game_state.get(k), Tensor) else v for k, v in nxt.items()}
        in_hitlag = _column(current, "real", _HITLAG) > 0
        if not (bool(offset.any()) or bool(in_hitlag.any())):  # the counters agree and nothing stalls
            return (state, None, offset), nxt
        continued = (_column(nxt, "wide", _ACTION) == _column(current, "wide", _ACTION)) & (_exists(nxt) > 0)
        offset = game_age_offset(offset, continued, in_hitlag & (_column(nxt, "real", _HITLAG) > 0))
        return (state, None, offset), _shift_ages(nxt, offset)

    @classmethod
    def from_checkpoint(cls, path, device: str | torch.device = "cpu", compile: bool | str = False,
                        dtype=None) -> "ModelStepper":
        """A checkpoint folder as a stepper; its context length is the one it was trained with (from
        the training config saved beside the weights), else 30. Raises CheckpointError (one line)."""
        checkpoint = load(path, device)
        context = ((checkpoint.extra.get("train_config") or {}).get("data") or {}).get("context", 30)
        return cls(checkpoint.model, context=int(context), compile=compile, dtype=dtype)


_WHO = ("player", "follower")  # the four character slots: leaders 0, 1, then followers 0, 1
_REAL_KEYS = tuple(f"{who}_real" for who in _WHO)
_AGE = layout.PLAYER_GROUPS[0].index("state_age")
_HITLAG = layout.PLAYER_GROUPS[0].index("hitlag")
_ACTION = layout.PLAYER_GROUPS[2].index("action")


def _column(frame: GameState, group: str, j: int) -> Tensor:
    """(B, 4) column j of a store group ("real", "wide") over the four character slots."""
    return torch.cat([frame[f"{who}_{group}"][..., j] for who in _WHO], dim=1)


def _exists(frame: GameState) -> Tensor:
    return torch.cat([frame[f"{who}_exists"] for who in _WHO], dim=1).float()


def _ages(frame: GameState) -> Tensor:
    return _column(frame, "real", _AGE).float()


def _shift_ages(frame: GameState, shift: Tensor) -> GameState:
    """`frame` with `shift` (B, 4) added to state_age of the four slots; the caller's tensors
    untouched, and `frame` itself where there is nothing to add."""
    if not bool(shift.any()):
        return frame
    out = dict(frame)
    for i, who in enumerate(_WHO):
        real = frame[f"{who}_real"].clone()
        real[..., _AGE] = (real[..., _AGE].float() + shift[:, 2 * i:2 * i + 2]).to(real.dtype)
        out[f"{who}_real"] = real
    return out


__all__ = ["CompiledStep", "ModelStepper", "compiled_step_key", "step_cache"]
