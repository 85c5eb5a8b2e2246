"""A Mamba-2 (SSD) mixer that runs anywhere PyTorch runs, with an O(1) recurrent step.

Why this exists: the world model is trained on windows of frames (parallel, chunked SSD
scan) but is played and self-forced one frame at a time (recurrent step). Both paths must
compute *the same function* with *the same weights*, so that a model trained on windows
can be rolled out frame by frame, and a rollout can be resumed from any window.  The
official ``mamba_ssm`` package only imports on machines with CUDA and Triton, so this
module re-implements the math in plain PyTorch (for CPU, tests, and debugging) and only
dispatches to the fused kernels when they are importable *and* the tensors live on CUDA.

The parameter names, shapes and initialisation mirror ``mamba_ssm.modules.mamba2.Mamba2``
(mamba_ssm 2.x) so that checkpoints can be exchanged with the official implementation.
Sources read while writing this (github.com/state-spaces/mamba):

* ``mamba_ssm/modules/mamba2.py``         -- parameter layout ``[z, x, B, C, dt]`` of
  ``in_proj``, depthwise ``conv1d`` over ``x|B|C``, ``dt_bias``/``A_log``/``D`` init,
  the ``step`` recurrence and the ``(batch, conv_dim, d_conv)`` conv-state convention.
* ``mamba_ssm/modules/ssd_minimal.py``    -- ``segsum`` and ``ssd_minimal_discrete``
  (Listing 1 of the Mamba-2 paper), the chunked algorithm used by :func:`ssd_chunked_scan`.
* ``mamba_ssm/ops/triton/layernorm_gated.py`` -- ``rms_norm_ref``: the gated, grouped
  RMSNorm ``norm(y * silu(z))`` (``norm_before_gate=False``) applied before ``out_proj``.

Simplifications relative to upstream (all are upstream defaults): ``d_ssm == d_inner``
(no extra gated-MLP channels), ``D_has_hdim=False``, ``rmsnorm=True``, no ``dt_limit``,
no tensor/sequence parallelism, no variable-length packing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from dreamland.model.config import MambaConfig

# --------------------------------------------------------------------------------------
# Optional fused kernels.  mamba_ssm / causal_conv1d raise all sorts of errors on import
# when CUDA or Triton is missing (not only ImportError), so every import is guarded with a
# broad ``except Exception``: on CPU-only machines we silently use the reference path.
# --------------------------------------------------------------------------------------
try:  # pragma: no cover - depends on the machine
    from mamba_ssm.ops.triton.ssd_combined import (
        mamba_chunk_scan_combined as _fused_chunk_scan,
    )
except (ImportError, Exception):  # noqa: BLE001 - mamba_ssm raises RuntimeError etc. without CUDA
    _fused_chunk_scan = None

try:  # pragma: no cover - depends on the machine
    from mamba_ssm.ops.triton.selective_state_update import (
        selective_state_update as _fused_state_update,
    )
except (ImportError, Exception):  # noqa: BLE001
    _fused_state_update = None

try:  # pragma: no cover - depends on the machine
    from causal_conv1d import causal_conv1d_fn as _fused_conv1d
    from causal_conv1d import causal_conv1d_update as _fused_conv1d_update
except (ImportError, Exception):  # noqa: BLE001
    _fused_conv1d = None
    _fused_conv1d_update = None

#: True when mamba_ssm's Triton SSD scan and single-step state update both imported.
#: They are still only used for CUDA tensors; CPU tensors always take the PyTorch path.
FUSED_KERNELS_AVAILABLE: bool = _fused_chunk_scan is not None and _fused_state_update is not None
#: True when the separate ``causal_conv1d`` CUDA package imported (used for the conv).
CAUSAL_CONV1D_AVAILABLE: bool = _fused_conv1d is not None and _fused_conv1d_update is not None

#: Recurrent state of one :class:`Mamba2` layer: ``(conv_state, ssm_state)`` with shapes
#: ``(batch, conv_dim, d_conv)`` and ``(batch, nheads, headdim, d_state)``.
Mamba2State = tuple[Tensor, Tensor]

__all__ = [
    "CAUSAL_CONV1D_AVAILABLE",
    "FUSED_KERNELS_AVAILABLE",
    "Mamba2",
    "Mamba2Config",
    "Mamba2State",
    "RMSNormGated",
    "segsum",
    "ssd_chunked_scan",
]


@dataclass(frozen=True, kw_only=True)
class Mamba2Config(MambaConfig):
    """One Mamba-2 mixer: the hyper-parameters of :class:`~dreamland.model.config.MambaConfig`
    (which declares them, their defaults and their checks) at the width ``d_model``.
    ``Mamba2Config.of(model_config.mamba, model_config.d_model)`` is the world model's."""

    d_model: int

    @classmethod
    def of(cls, mamba: MambaConfig, d_model: int) -> "Mamba2Config":
        return cls(d_model=d_model, **{f.name: getattr(mamba, f.name) for f in fields(MambaConfig)})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.d_model, int) or isinstance(self.d_model, bool) or self.d_model < 1:
            raise ValueError(f"d_model must be a positive integer, got {self.d_model!r}")
        # Fail at construction instead of with a cryptic reshape error mid-forward.
        if self.d_inner % self.headdim != 0:
            raise ValueError(f"d_inner={self.d_inner} must be a multiple of headdim={self.headdim}")
        if self.nheads % self.ngroups != 0:
            raise ValueError(f"nheads={self.nheads} must be a multiple of ngroups={self.ngroups}")

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def nheads(self) -> int:
        return self.d_inner // self.headdim

    @property
    def conv_dim(self) -> int:
        """Channels that go through the causal conv: ``x`` plus the grouped ``B`` and ``C``."""
        return self.d_inner + 2 * self.ngroups * self.d_state

    @property
    def d_in_proj(self) -> int:
        """Width of ``in_proj``'s output, laid out as ``[z, x, B, C, dt]``."""
        return 2 * self.d_inner + 2 * self.ngroups * self.d_state + self.nheads


# --------------------------------------------------------------------------------------
# Reference SSD math
# --------------------------------------------------------------------------------------


def segsum(x: Tensor) -> Tensor:
    """Stable segment sums ``out[..., i, j] = sum(x[..., j+1 : i+1])`` (``-inf`` above the diagonal).

    Computed by masking then ``cumsum`` (as in ssd_minimal.py) rather than by differencing a
    cumulative sum, because ``cumsum[i] - cumsum[j]`` loses precision for long chunks and
    strongly negative ``A*dt``.  ``exp(segsum(a))`` is the 1-semiseparable decay matrix.
    """
    t = x.size(-1)
    x = x.unsqueeze(-1).expand(*x.shape, t)  # [..., i, j] = x_i
    strict = torch.tril(torch.ones(t, t, device=x.device, dtype=torch.bool), diagonal=-1)
    x = x.masked_fill(~strict, 0.0)
    out = torch.cumsum(x, dim=-2)
    causal = torch.tril(torch.ones(t, t, device=x.device, dtype=torch.bool), diagonal=0)
    return out.masked_fill(~causal, -math.inf)


def _groups_to_heads(t: Tensor, nheads: int) -> Tensor:
    """Broadcast per-group ``B``/``C`` (``(..., ngroups, n)``) to per-head ``(..., nheads, n)``.

    Head ``h`` reads group ``h // (nheads // ngroups)``, which is the mapping the Triton
    kernels use; a plain expand when there is a single group avoids a copy.
    """
    ngroups = t.shape[-2]
    if ngroups == nheads:
        return t
    if ngroups == 1:
        return t.expand(*t.shape[:-2], nheads, t.shape[-1])
    return t.repeat_interleave(nheads // ngroups, dim=-2)


def ssd_chunked_scan(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int,
    initial_state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Chunked SSD scan (``ssd_minimal_discrete``) in plain PyTorch, any sequence length.

    Computes ``h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t^T`` and ``y_t = h_t C_t`` for all
    ``t`` with matrix multiplies inside chunks and a short recurrence across chunk
    boundaries, which is what makes window training parallel.  The sequence is zero-padded
    to a multiple of ``chunk_size``; padded steps have ``dt = 0`` (decay 1, no input), so
    they leave the final state untouched.  Everything is computed in float32 because the
    cumulative decays underflow in half precision.

    Args:
        x: ``(batch, length, nheads, headdim)`` inputs.
        dt: ``(batch, length, nheads)`` positive step sizes (already ``softplus``-ed).
        A: ``(nheads,)`` negative continuous-time decay rates.
        B, C: ``(batch, length, ngroups, d_state)``.
        chunk_size: block length of the SSD decomposition (only affects speed/memory).
        initial_state: optional ``(batch, nheads, headdim, d_state)`` state before step 0.

    Returns:
        ``y`` of shape ``(batch, length, nheads, headdim)`` (float32, *without* the ``D``
        skip term) and the float32 state after the last real step,
        ``(batch, nheads, headdim, d_state)``.
    """
    batch, length, nheads, headdim = x.shape
    d_state = B.shape[-1]
    # A window shorter than a chunk is one chunk of its own length: padding K = 10 to 64 would
    # do ~40x the work in the (l, s) blocks for nothing.
    chunk_size = min(chunk_size, length)
    pad = (-length) % chunk_size
    x, dt, B, C, A = x.float(), dt.float(), B.float(), C.float(), A.float()
    if pad:
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        dt = F.pad(dt, (0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
    nchunks = (length + pad) // chunk_size
    q = chunk_size

    X = (x * dt.unsqueeze(-1)).reshape(batch, nchunks, q, nheads, headdim)
    a = (dt * A).reshape(batch, nchunks, q, nheads).permute(0, 3, 1, 2)  # (b, h, c, l)
    Bh = _groups_to_heads(B, nheads).reshape(batch, nchunks, q, nheads, d_state)
    Ch = _groups_to_heads(C, nheads).reshape(batch, nchunks, q, nheads, d_state)
    a_cumsum = torch.cumsum(a, dim=-1)

    # 1. Intra-chunk outputs (diagonal blocks): y_l = sum_{s<=l} C_l.B_s exp(a_{s+1..l}) X_s.
    decay = torch.exp(segsum(a))  # (b, h, c, l, s)
    scores = torch.einsum("bclhn,bcshn->bhcls", Ch, Bh) * decay
    y_diag = torch.einsum("bhcls,bcshp->bclhp", scores, X)

    # 2. State contributed by each chunk alone, measured at the chunk's end.
    decay_states = torch.exp(a_cumsum[..., -1:] - a_cumsum)  # (b, h, c, l)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", Bh, decay_states, X)

    # 3. Inter-chunk recurrence: true state at every chunk boundary (+ the final state).
    if initial_state is None:
        init = states.new_zeros(batch, 1, nheads, headdim, d_state)
    else:
        init = initial_state.float().unsqueeze(1)
    states = torch.cat([init, states], dim=1)  # (b, c+1, h, p, n)
    decay_chunk = torch.exp(segsum(F.pad(a_cumsum[..., -1], (1, 0))))  # (b, h, c+1, c+1)
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]

    # 4. Contribution of the carried-in state to each position (off-diagonal blocks).
    state_decay_out = torch.exp(a_cumsum)  # (b, h, c, l)
    y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", Ch, states, state_decay_out)

    y = (y_diag + y_off).reshape(batch, nchunks * q, nheads, headdim)[:, :length]
    return y, final_state


# --------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------


class RMSNormGated(nn.Module):
    """Grouped RMSNorm with a SiLU gate, numerically matching mamba_ssm's ``rms_norm_ref``.

    Mamba-2 normalises *after* gating (``norm(y * silu(z))`` when ``norm_before_gate`` is
    False) and per group of ``group_size`` channels so that the result does not depend on
    how heads are sharded.  The parameter is just ``weight`` (no bias), so state dicts load
    into ``mamba_ssm.ops.triton.layernorm_gated.RMSNorm`` unchanged.  Computation is in
    float32 and cast back, as upstream does, because the mean of squares overflows in fp16.
    """

    def __init__(
        self,
        hidden_size: int,
        eps: float = 1e-5,
        group_size: int | None = None,
        norm_before_gate: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.eps = eps
        self.group_size = hidden_size if group_size is None else group_size
        if hidden_size % self.group_size != 0:
            raise ValueError("hidden_size must be a multiple of group_size")
        self.norm_before_gate = norm_before_gate
        self.weight = nn.Parameter(torch.ones(hidden_size, device=device, dtype=dtype))

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        dtype = x.dtype
        x = x.float()
        if z is not None and not self.norm_before_gate:
            x = x * F.silu(z.float())
        grouped = x.unflatten(-1, (-1, self.group_size))
        rstd = torch.rsqrt(grouped.square().mean(dim=-1, keepdim=True) + self.eps)
        out = (grouped * rstd).flatten(-2) * self.weight.float()
        if z is not None and self.norm_before_gate:
            out = out * F.silu(z.float())
        return out.to(dtype)


class Mamba2(nn.Module):
    """Mamba-2 mixer with a parallel window ``forward`` and an O(1) recurrent ``step``.

    ``forward`` is for training on windows and for priming a rollout; ``step`` is for
    playing / self-forcing one frame at a time.  They are interchangeable: running
    ``forward`` on ``[0, a)`` and then ``step`` on ``a, a+1, ...`` from the returned state
    gives the same outputs as one ``forward`` over the whole sequence (see the tests).

    Args:
        config: layer hyper-parameters.
        use_fused: allow mamba_ssm / causal_conv1d kernels when available and the inputs
            are on CUDA.  Set False to force the reference path, e.g. to cross-check the
            kernels or when a compiler cannot trace through them.
        device, dtype: factory arguments for the parameters.
    """

    def __init__(
        self,
        config: Mamba2Config,
        *,
        use_fused: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.config = config
        self.use_fused = use_fused
        cfg = config
        self.d_model = cfg.d_model
        self.d_state = cfg.d_state
        self.d_conv = cfg.d_conv
        self.headdim = cfg.headdim
        self.ngroups = cfg.ngroups
        self.d_inner = cfg.d_inner
        self.nheads = cfg.nheads
        self.conv_dim = cfg.conv_dim
        self.chunk_size = cfg.chunk_size

        # Order of in_proj outputs: [z, x, B, C, dt] (mamba_ssm/modules/mamba2.py).
        self.in_proj = nn.Linear(cfg.d_model, cfg.d_in_proj, bias=cfg.bias, **factory)
        self.conv1d = nn.Conv1d(
            in_channels=cfg.conv_dim,
            out_channels=cfg.conv_dim,
            kernel_size=cfg.d_conv,
            groups=cfg.conv_dim,
            padding=cfg.d_conv - 1,
            bias=cfg.conv_bias,
            **factory,
        )

        # dt_bias = softplus^{-1}(dt) with dt log-uniform in [dt_min, dt_max]: the initial
        # time scales then span fast (~1 frame) to slow (~1000 frames) memories.
        dt = torch.exp(
            torch.rand(cfg.nheads, device=device) * (math.log(cfg.dt_max) - math.log(cfg.dt_min))
            + math.log(cfg.dt_min)
        ).clamp(min=cfg.dt_init_floor)
        inv_dt = dt + torch.log(-torch.expm1(-dt))  # inverse softplus, stable for small dt
        self.dt_bias = nn.Parameter(inv_dt.to(dtype=dtype or torch.get_default_dtype()))
        self.dt_bias._no_weight_decay = True  # type: ignore[attr-defined]

        # A = -exp(A_log) with A uniform in A_init_range; log-parameterised so A stays < 0.
        A = torch.empty(cfg.nheads, dtype=torch.float32, device=device).uniform_(*cfg.A_init_range)
        self.A_log = nn.Parameter(torch.log(A).to(dtype=dtype or torch.get_default_dtype()))
        self.A_log._no_weight_decay = True  # type: ignore[attr-defined]

        # Like upstream, D is created without the dtype argument (stays float32).
        self.D = nn.Parameter(torch.ones(cfg.nheads, device=device))
        self.D._no_weight_decay = True  # type: ignore[attr-defined]

        self.norm = RMSNormGated(
            cfg.d_inner,
            eps=cfg.rmsnorm_eps,
            group_size=cfg.d_inner // cfg.ngroups,
            norm_before_gate=cfg.norm_before_gate,
            **factory,
        )
        self.out_proj = nn.Linear(cfg.d_inner, cfg.d_model, bias=cfg.bias, **factory)

    # ---------------------------------------------------------------- state helpers

    def allocate_state(
        self,
        batch: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Mamba2State:
        """Zero ``(conv_state, ssm_state)`` for ``batch`` independent streams.

        Both tensors are contiguous, and ``step`` returns tensors with the same shapes,
        dtypes and strides, so a compiled step never recompiles as a rollout advances.
        Zero state equals "no history", i.e. what ``forward`` assumes with no state.
        """
        device = self.in_proj.weight.device if device is None else device
        dtype = self.in_proj.weight.dtype if dtype is None else dtype
        conv_state = torch.zeros(batch, self.conv_dim, self.d_conv, device=device, dtype=dtype)
        ssm_state = torch.zeros(
            batch, self.nheads, self.headdim, self.d_state, device=device, dtype=dtype
        )
        return conv_state, ssm_state

    def _fused_ok(self, t: Tensor) -> bool:
        return self.use_fused and FUSED_KERNELS_AVAILABLE and t.is_cuda

    def _conv_ok(self, t: Tensor) -> bool:
        return self.use_fused and CAUSAL_CONV1D_AVAILABLE and t.is_cuda

    # ---------------------------------------------------------------- window forward

    def forward(
        self,
        u: Tensor,
        inference_state: Mamba2State | None = None,
        return_state: bool = False,
    ) -> Tensor | tuple[Tensor, Mamba2State]:
        """Process a whole window ``u`` of shape ``(batch, length, d_model)`` in parallel.

        Args:
            u: the window.  ``length`` may be anything >= 1; it is padded internally.
            inference_state: state carried in from before ``u[:, 0]`` (e.g. the state
                returned by a previous window or by ``step``).  ``None`` means zero history.
                Never modified in place, so it may be reused or require grad.
            return_state: also return the state after ``u[:, -1]`` so the sequence can be
                continued with ``step`` or another ``forward``.

        Returns:
            ``y`` of shape ``(batch, length, d_model)``, or ``(y, (conv_state, ssm_state))``.
            The returned state has the dtype of ``inference_state`` when one was given and
            ``u.dtype`` otherwise, with the same layout as :meth:`allocate_state`.
        """
        batch, length, _ = u.shape
        state_dtype = u.dtype if inference_state is None else inference_state[1].dtype
        zxbcdt = self.in_proj(u)
        z, xBC, dt = torch.split(zxbcdt, [self.d_inner, self.conv_dim, self.nheads], dim=-1)

        # Causal depthwise conv.  Prepending the last d_conv-1 inputs of the carried state
        # (zeros when there is none) and convolving without padding is exactly what
        # upstream's padding=d_conv-1 conv does from a zero state, and also continues it.
        xBC_t = xBC.transpose(1, 2)  # (b, conv_dim, l)
        if inference_state is None:
            history = xBC_t.new_zeros(batch, self.conv_dim, self.d_conv - 1)
        else:
            history = inference_state[0][:, :, 1:].to(xBC_t.dtype)
        full = torch.cat([history, xBC_t], dim=-1)  # (b, conv_dim, l + d_conv - 1)
        new_conv_state = full[:, :, -self.d_conv :].to(state_dtype).contiguous() if return_state else None
        weight = self.conv1d.weight
        if self._conv_ok(full):
            conv_out = _fused_conv1d(
                full, weight.squeeze(1), self.conv1d.bias, activation="silu"
            )[:, :, self.d_conv - 1 :]
        else:
            conv_out = F.silu(F.conv1d(full, weight, self.conv1d.bias, groups=self.conv_dim))
        xBC = conv_out.transpose(1, 2)  # (b, l, conv_dim)

        gn = self.ngroups * self.d_state
        x, B, C = torch.split(xBC, [self.d_inner, gn, gn], dim=-1)
        x = x.reshape(batch, length, self.nheads, self.headdim)
        B = B.reshape(batch, length, self.ngroups, self.d_state)
        C = C.reshape(batch, length, self.ngroups, self.d_state)
        # float32 A: in fp16, exp(A_log) can overflow to -inf (upstream does the same).
        A = -torch.exp(self.A_log.float())
        init_ssm = None if inference_state is None else inference_state[1]

        if self._fused_ok(x):
            y, final_ssm = _fused_chunk_scan(
                x,
                dt,
                A,
                B,
                C,
                chunk_size=self.chunk_size,
                D=self.D,
                z=None,
                dt_bias=self.dt_bias,
                initial_states=init_ssm,
                dt_softplus=True,
                return_final_states=True,
            )
        else:
            dt_pos = F.softplus(dt.float() + self.dt_bias.float())
            y, final_ssm = ssd_chunked_scan(x, dt_pos, A, B, C, self.chunk_size, init_ssm)
            y = y + x.float() * self.D.float().unsqueeze(-1)
        y = y.to(u.dtype).reshape(batch, length, self.d_inner)
        out = self.out_proj(self.norm(y, z))
        if not return_state:
            return out
        return out, (new_conv_state, final_ssm.to(state_dtype).contiguous())

    # ---------------------------------------------------------------- recurrent step

    def _ssm_step(self, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, ssm_state: Tensor,
                  in_place: bool) -> tuple[Tensor, Tensor]:
        """h_t = exp(dt A) h_{t-1} + dt x_t B_t^T ;  y_t = h_t C_t + D x_t, in PyTorch. The state is
        the one large tensor of a batched step and the step is bound by passes over it: the decay
        scales it, the rank-1 update is added into it (no (b, h, p, n) temporary), and the readout
        multiplies C_t^T by h_t^T (a row times a matrix, which BLAS streams; h_t times the column
        C_t runs several times slower on a CPU)."""
        batch, h, p, n = ssm_state.shape
        xf = x.float().reshape(batch, h, p)
        Bh = _groups_to_heads(B.float().reshape(batch, self.ngroups, n), h)
        Ch = _groups_to_heads(C.float().reshape(batch, self.ngroups, n), h)
        dt_pos = F.softplus(dt.float() + self.dt_bias.float())  # (b, h)
        decay = torch.exp(dt_pos * A)[:, :, None, None]
        new_ssm = ssm_state.mul_(decay) if in_place else (ssm_state.float() * decay).contiguous()
        flat = new_ssm.view(batch * h, p, n)
        flat.addcmul_((dt_pos.unsqueeze(-1) * xf).reshape(batch * h, p, 1), Bh.reshape(batch * h, 1, n))
        y = torch.bmm(Ch.reshape(batch * h, 1, n), flat.transpose(1, 2)).view(batch, h, p)
        return new_ssm.to(ssm_state.dtype), y + self.D.float().unsqueeze(-1) * xf

    def step(self, u_t: Tensor, state: Mamba2State, donate: bool = False) -> tuple[Tensor, Mamba2State]:
        """Advance one frame: ``u_t`` ``(batch, d_model)`` -> ``(y_t, new_state)``.

        Functional by default: it returns *new* state tensors and never writes into the
        given ones, so with grad enabled (self-forcing) autograd can backprop through a
        chain of steps, and under ``torch.no_grad`` no graph is recorded at all.  New
        state tensors are contiguous with the same strides/dtypes as the inputs so a
        ``torch.compile``-d step stays on one graph.  The fused (in-place) CUDA kernels are
        therefore only used when no gradient is needed, on private copies of the state.

        ``donate=True`` (no gradient, float32 contiguous state) hands the SSM state over to the
        step, which updates it in place and returns it: the state is the largest tensor a
        batched step touches, and a fresh one per layer per frame costs an allocation that the
        system zeroes, page by page, every frame. The given state must not be used again.
        """
        conv_state, ssm_state = state
        batch = u_t.shape[0]
        zxbcdt = self.in_proj(u_t)
        z, xBC, dt = torch.split(zxbcdt, [self.d_inner, self.conv_dim, self.nheads], dim=-1)
        gn = self.ngroups * self.d_state
        A = -torch.exp(self.A_log.float())

        needs_grad = torch.is_grad_enabled() and (
            zxbcdt.requires_grad or conv_state.requires_grad or ssm_state.requires_grad
        )

        # Conv: shift the window left by one frame, append the new input, dot with the taps.
        if not needs_grad and self._conv_ok(u_t):
            new_conv = conv_state.clone()  # the kernel updates in place; keep the input intact
            xBC = _fused_conv1d_update(
                xBC.to(new_conv.dtype), new_conv, self.conv1d.weight.squeeze(1), self.conv1d.bias, "silu"
            ).to(u_t.dtype)
        else:
            new_conv = torch.cat([conv_state[:, :, 1:], xBC.unsqueeze(-1).to(conv_state.dtype)], dim=-1)
            xBC = (new_conv * self.conv1d.weight.squeeze(1)).sum(dim=-1)
            if self.conv1d.bias is not None:
                xBC = xBC + self.conv1d.bias
            xBC = F.silu(xBC).to(u_t.dtype)
        x, B, C = torch.split(xBC, [self.d_inner, gn, gn], dim=-1)

        if not needs_grad and self._fused_ok(u_t):
            p = self.headdim
            new_ssm = ssm_state.clone()  # the kernel updates in place; keep the input intact
            # Stride-0 expansions over headdim let the kernel take its "tied hdim" path.
            y = _fused_state_update(
                new_ssm,
                x.reshape(batch, self.nheads, p),
                dt.unsqueeze(-1).expand(batch, self.nheads, p),
                A[:, None, None].expand(self.nheads, p, self.d_state),
                B.reshape(batch, self.ngroups, self.d_state),
                C.reshape(batch, self.ngroups, self.d_state),
                D=self.D.unsqueeze(-1).expand(self.nheads, p),
                z=None,
                dt_bias=self.dt_bias.unsqueeze(-1).expand(self.nheads, p),
                dt_softplus=True,
            )
        else:
            new_ssm, y = self._ssm_step(x, dt, A, B, C, ssm_state,
                                        donate and not needs_grad and ssm_state.dtype == torch.float32
                                        and ssm_state.is_contiguous())
        y = y.to(u_t.dtype).reshape(batch, self.d_inner)

        out = self.out_proj(self.norm(y, z))
        return out, (new_conv.contiguous(), new_ssm.contiguous())
