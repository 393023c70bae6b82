"""Denoising diffusion (Ho et al. 2020, DDPM): data is destroyed by T steps of Gaussian noise,
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, and a network learns to predict eps from (x_t, t)
by mean squared error. Samples come from running the reverse process from x_T ~ N(0, I), either
ancestrally (`ddpm`, T network calls) or with the deterministic DDIM update (Song et al. 2021,
eta = 0) on `sample_steps` evenly spaced timesteps. Sampling, inversion and inpainting use an
exponential moving average of the weights (`ema_decay`), kept in the state dict.

Values: images with a value range are mapped linearly onto [-1, 1] (the range the noise is
scaled for) and back, with predictions of x_0 clipped to [-1, 1] while sampling and samples
clamped to the range; unbounded data (2-D points) is standardised per channel with a mean and
std fitted on the first training batch and kept as buffers, so a checkpoint restores them.

Time indices are 0-based: index t holds the paper's step t + 1, and index -1 is clean data
(abar = 1).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from bench.data.base import DataInfo
from bench.errors import BenchError
from bench.models.base import MODELS, Batch, Diagnostic, GenerativeModel, HParams
from bench.models.ddpm_bound import DdpmDensity
from bench.models.nets import inference
from bench.models.unet import DataScaler, PointDenoiser, UNet, unet_incompatibility

MAX_BETA = 0.999  # no step destroys the signal entirely (Nichol & Dhariwal 2021)
COSINE_OFFSET = 0.008  # s in the cosine schedule: keeps beta_1 from being vanishingly small
CHUNK = 500  # samples run through the reverse process at once (bounds memory, not results)

EpsFn = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t, time index) -> predicted noise
Hook = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t, time index) -> x_t, after each step


# --- the noise schedule --------------------------------------------------------------------------


def linear_betas(timesteps: int) -> torch.Tensor:
    """Ho et al.'s betas, 1e-4 to 0.02 over T = 1000, scaled by 1000 / T so that any T destroys
    the data about as completely (Nichol & Dhariwal 2021), capped at MAX_BETA. float64."""
    scale = 1000.0 / timesteps
    betas = torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    return betas.clamp(max=MAX_BETA)


def cosine_betas(timesteps: int) -> torch.Tensor:
    """abar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/T + s) / (1 + s)) (Nichol & Dhariwal 2021,
    eq. 17): noise is added more slowly near both ends than by the linear schedule. float64."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
    abar = f / f[0]
    return (1 - abar[1:] / abar[:-1]).clamp(max=MAX_BETA)


BETAS: dict[str, Callable[[int], torch.Tensor]] = {"linear": linear_betas, "cosine": cosine_betas}


def schedule_terms(betas: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every closed form the model needs, from the betas (Ho et al. 2020, eqs. 4, 6, 7):
    abar_t = prod_{s<=t} (1 - beta_s); the posterior q(x_{t-1} | x_t, x_0) has variance
    beta_t (1 - abar_{t-1}) / (1 - abar_t) and mean coef_x0 x_0 + coef_xt x_t with
    coef_x0 = beta_t sqrt(abar_{t-1}) / (1 - abar_t), coef_xt = (1 - abar_{t-1}) sqrt(alpha_t) /
    (1 - abar_t)."""
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
    return {
        "betas": betas,
        "alpha_bar": abar,
        "alpha_bar_prev": abar_prev,
        "posterior_variance": betas * (1 - abar_prev) / (1 - abar),
        "coef_x0": betas * abar_prev.sqrt() / (1 - abar),
        "coef_xt": (1 - abar_prev) * alphas.sqrt() / (1 - abar),
    }


class Schedule(nn.Module):
    """The schedule's terms as float32 buffers (computed in float64). Not persistent: they follow
    from the hyperparameters, so the state dict does not carry them."""

    def __init__(self, betas: torch.Tensor) -> None:
        super().__init__()
        for name, value in schedule_terms(betas).items():
            self.register_buffer(name, value.float(), persistent=False)
        self.timesteps = len(betas)

    def abar(self, t: int) -> float:
        """abar at time index t, 1.0 for clean data (t = -1)."""
        return 1.0 if t < 0 else float(self.get_buffer("alpha_bar")[t])

    def noised(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A draw of q(x_t | x_0) for per-sample time indices t (B,), given the noise."""
        abar = self.get_buffer("alpha_bar")[t].reshape(-1, *[1] * (x0.dim() - 1))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def ddim_times(self, steps: int) -> list[int]:
        """`steps` time indices evenly spaced from T-1 down to 0 (both ends kept when steps > 1)."""
        times = torch.linspace(self.timesteps - 1, 0, steps).round().long()
        return times.unique_consecutive().tolist()


# --- samplers: pure functions of a noise predictor and a schedule --------------------------------


def gaussian(
    shape: tuple[int, ...], device: torch.device, generator: torch.Generator | None
) -> torch.Tensor:
    """N(0, I) on `device`, drawn on the generator's device from it alone (when given)."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def predict_x0(x: torch.Tensor, eps: torch.Tensor, abar: float, clip: bool) -> torch.Tensor:
    x0 = (x - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
    return x0.clamp(-1.0, 1.0) if clip else x0


def ddim_move(
    x: torch.Tensor, eps: torch.Tensor, a_from: float, a_to: float, clip: bool
) -> torch.Tensor:
    """The eta = 0 DDIM update from noise level a_from to a_to (either direction), Song et al.
    2021 eq. 12. With a clipped x_0, eps is recomputed from it so the two stay consistent."""
    x0 = predict_x0(x, eps, a_from, clip)
    if clip:
        eps = (x - math.sqrt(a_from) * x0) / math.sqrt(1 - a_from)
    return math.sqrt(a_to) * x0 + math.sqrt(1 - a_to) * eps


def ddim_sample(
    eps_fn: EpsFn,
    sched: Schedule,
    x: torch.Tensor,
    steps: int,
    clip: bool,
    hook: Hook | None = None,
) -> torch.Tensor:
    """Deterministic DDIM from x (at time index T-1) to clean data in `steps` network calls;
    `hook` sees x after every step with the time index it is now at (-1 at the end)."""
    times = sched.ddim_times(steps)
    for t, t_next in zip(times, times[1:] + [-1], strict=True):
        x = ddim_move(x, eps_fn(x, t), sched.abar(t), sched.abar(t_next), clip)
        x = x if hook is None else hook(x, t_next)
    return x


def ddim_inversion(eps_fn: EpsFn, sched: Schedule, x: torch.Tensor, steps: int) -> torch.Tensor:
    """DDIM run backwards, clean data -> x at time index T-1 on the same timesteps as
    `ddim_sample`. Each step predicts the noise at the level it starts from (the clean data
    is read at the lowest timestep), the usual approximation that makes the map invertible up
    to the step size."""
    times = sched.ddim_times(steps)[::-1]
    for t_from, t in zip([-1] + times[:-1], times, strict=True):
        eps = eps_fn(x, max(t_from, times[0]))
        x = ddim_move(x, eps, sched.abar(t_from), sched.abar(t), clip=False)
    return x


def ddpm_sample(
    eps_fn: EpsFn,
    sched: Schedule,
    x: torch.Tensor,
    generator: torch.Generator | None,
    clip: bool,
    hook: Hook | None = None,
) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020, Algorithm 2 written with the posterior of eq. 7):
    x_{t-1} ~ N(coef_x0 x0_hat + coef_xt x_t, beta_tilde_t I), T network calls."""
    var, c0, ct = (sched.get_buffer(k) for k in ("posterior_variance", "coef_x0", "coef_xt"))
    for t in range(sched.timesteps - 1, -1, -1):
        x0 = predict_x0(x, eps_fn(x, t), sched.abar(t), clip)
        x = c0[t] * x0 + ct[t] * x
        if t > 0:  # beta_tilde at the first step is 0: the last step returns the mean
            x = x + var[t].sqrt() * gaussian(x.shape, x.device, generator)
        x = x if hook is None else hook(x, t - 1)
    return x


# --- the model -----------------------------------------------------------------------------------


class DdpmHParams(HParams):
    """Defaults sized for one CPU core (see the README's timing notes)."""

    batch_size: int = Field(64, ge=1, description="samples per training step")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")
    timesteps: int = Field(500, ge=2, description="T, diffusion steps of training (and of ddpm)")
    schedule: Literal["linear", "cosine"] = Field(
        "linear", description="betas: linear (Ho 2020, scaled to T) or cosine (Nichol 2021)"
    )
    sampler: Literal["ddpm", "ddim"] = Field(
        "ddim", description="ddpm: ancestral, T steps; ddim: deterministic (eta 0), sample_steps"
    )
    sample_steps: int = Field(50, ge=1, description="DDIM steps (sampler ddim, inversion)")
    ema_decay: float = Field(
        0.999, ge=0.0, lt=1.0, description="EMA of the weights used for sampling; 0: none"
    )
    grad_clip: float | None = Field(1.0, gt=0.0, description="max gradient norm; None: no clip")
    hidden: int = Field(128, ge=1, description="MLP denoiser width (points)")
    layers: int = Field(3, ge=1, description="MLP denoiser hidden layers (points)")
    fourier: int = Field(
        16, ge=0, description="sin/cos input features per coordinate, frequencies 1..100 (points)"
    )
    width: int = Field(16, ge=1, description="U-Net channels at full resolution (images)")
    levels: int = Field(2, ge=1, le=3, description="U-Net downsamplings, each doubling channels")
    time_dim: int = Field(64, ge=2, description="width of the timestep embedding")

    @model_validator(mode="after")
    def _steps_within_t(self) -> DdpmHParams:
        if self.sample_steps > self.timesteps:
            raise ValueError(
                f"sample_steps ({self.sample_steps}) cannot exceed timesteps ({self.timesteps})"
            )
        return self


def data_incompatibility(info: DataInfo, levels: int) -> str | None:
    if info.kind == "points":
        return None if len(info.shape) == 1 else f"points must be flat vectors, got {info.shape}"
    return unet_incompatibility(info.shape, levels)


@MODELS.register("ddpm")
class Ddpm(DdpmDensity, GenerativeModel):  # DdpmDensity: the variational bound
    """The DDPM objective with an MLP (points) or U-Net (images) noise predictor, an EMA copy of
    it for sampling, and the DDIM tools the evaluator can use: `ddim_invert` / `decode_latent`
    (a deterministic latent x_T per image, for interpolation) and `inpaint`."""

    description = (
        "DDPM (Ho 2020): eps-prediction, linear/cosine schedule, EMA, ddpm or ddim sampler"
    )
    family = "diffusion"
    HParams: ClassVar[type[DdpmHParams]] = DdpmHParams
    hparams: DdpmHParams
    diagnostics: ClassVar[dict[str, Diagnostic]] = {
        "loss": Diagnostic("MSE between the true and the predicted noise, t ~ U{1..T}", "loss"),
        "grad_norm": Diagnostic("gradient norm of the denoiser, before clipping", "grad_norm"),
        "ema_lag": Diagnostic(
            "|EMA weights - weights| / |weights|: how far the sampled network trails", "other"
        ),
    }

    @classmethod
    def incompatibility(cls, info: DataInfo) -> str | None:
        return data_incompatibility(info, cls.HParams.model_fields["levels"].default)

    def __init__(self, hparams: DdpmHParams, info: DataInfo) -> None:
        super().__init__(hparams, info)
        h = hparams
        reason = data_incompatibility(info, h.levels)
        if reason is not None:
            raise BenchError(f"ddpm cannot handle this dataset: {reason}", fix="change `levels`")
        self.schedule = Schedule(BETAS[h.schedule](h.timesteps))
        self.scaler = DataScaler(info)
        self.denoiser = self.network()
        self.ema = copy.deepcopy(self.denoiser).requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.opt = torch.optim.Adam(self.denoiser.parameters(), lr=h.lr)

    def network(self) -> nn.Module:
        h, info = self.hparams, self.info
        if info.kind == "points":
            return PointDenoiser(info.dim, h.hidden, h.layers, h.time_dim, h.fourier)
        return UNet(info.shape[0], h.width, h.levels, h.time_dim)

    # --- training ---

    def train_step(self, batch: Batch) -> dict[str, float]:
        x = batch.x.to(self.device)
        if not self.scaler.fitted:
            self.scaler.fit(x)
        x0 = self.scaler.encode(x)
        t = torch.randint(self.schedule.timesteps, (len(x0),), device=self.device)
        noise = torch.randn_like(x0)
        loss = F.mse_loss(self.denoiser(self.schedule.noised(x0, t, noise), t), noise)
        norm = self.descend(loss)
        self.update_ema()
        return {"loss": loss.item(), "grad_norm": norm, "ema_lag": self.ema_lag()}

    def descend(self, loss: torch.Tensor) -> float:
        """One Adam step; returns the gradient norm before clipping (what diverges first)."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        limit = self.hparams.grad_clip or math.inf
        norm = nn.utils.clip_grad_norm_(self.denoiser.parameters(), limit)
        self.opt.step()
        return norm.item()

    def update_ema(self) -> None:
        """ema <- d ema + (1 - d) weights with d = min(ema_decay, (1 + n) / (10 + n)) after n
        updates: the warm-up keeps the random initial weights from lingering in short runs."""
        self.updates += 1
        n = int(self.updates)
        decay = min(self.hparams.ema_decay, (1 + n) / (10 + n))
        with torch.no_grad():
            ema, live = list(self.ema.parameters()), list(self.denoiser.parameters())
            torch._foreach_lerp_(ema, live, 1.0 - decay)

    def ema_lag(self) -> float:
        """RMS distance of the EMA weights from the live ones, relative to the weights' RMS."""
        with torch.no_grad():
            pairs = zip(self.ema.parameters(), self.denoiser.parameters(), strict=True)
            gap = sum(float((e - p).pow(2).sum()) for e, p in pairs)
            size = sum(float(p.pow(2).sum()) for p in self.denoiser.parameters())
        return math.sqrt(gap / max(size, 1e-12))

    # --- sampling with the EMA weights ---

    def eps(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """The EMA network's noise prediction at one time index for the whole batch."""
        return self.ema(x, torch.full((len(x),), t, dtype=torch.long, device=x.device))

    def reverse(
        self, x: torch.Tensor, generator: torch.Generator | None, hook: Hook | None = None
    ) -> torch.Tensor:
        """x_T (model space) -> clean data (model space) with the configured sampler."""
        h, clip = self.hparams, self.scaler.bounded
        if h.sampler == "ddpm":
            return ddpm_sample(self.eps, self.schedule, x, generator, clip, hook)
        return ddim_sample(self.eps, self.schedule, x, h.sample_steps, clip, hook)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        with inference(self):
            sizes = [len(c) for c in split(torch.arange(n))]
            parts = [self.reverse(self.noise(m, generator), generator) for m in sizes]
            return self.scaler.decode(torch.cat(parts))

    def noise(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """n draws of x_T ~ N(0, I) in model space."""
        return gaussian((n, *self.info.shape), self.device, generator)

    # --- DDIM latents and inpainting (for the evaluator's probes) ---

    def ddim_invert(self, x: torch.Tensor) -> torch.Tensor:
        """Data x (B, *info.shape) -> its deterministic DDIM latent x_T (model space), on the
        `sample_steps` timesteps; `decode_latent` maps it back up to the step-size error."""
        with inference(self):
            z = self.scaler.encode(x.to(self.device))
            steps = self.hparams.sample_steps
            return torch.cat([ddim_inversion(self.eps, self.schedule, c, steps) for c in split(z)])

    def decode_latent(self, x_t: torch.Tensor) -> torch.Tensor:
        """DDIM (eta 0) from given latents x_T (B, *info.shape) to data space, whatever the
        `sampler`: the deterministic map that `ddim_invert` inverts."""
        steps, clip = self.hparams.sample_steps, self.scaler.bounded
        with inference(self):
            z = x_t.to(self.device)
            parts = [ddim_sample(self.eps, self.schedule, c, steps, clip) for c in split(z)]
            return self.scaler.decode(torch.cat(parts))

    def inpaint(
        self, x: torch.Tensor, known: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """x completed where `known` (bool, x's shape) is False, by replacement: after every
        reverse step of the configured sampler the known pixels are overwritten with the
        originals noised afresh to that step's level (RePaint's conditioning, Lugmayr et al.
        2022, without its resampling). Known pixels come back exactly as given."""
        x, known = x.to(self.device), known.to(self.device, torch.bool)
        with inference(self):
            parts = [
                self.reverse(
                    self.noise(len(z), generator), generator, self.replace(z, k, generator)
                )
                for z, k in zip(split(self.scaler.encode(x)), split(known), strict=True)
            ]
            return torch.where(known, x, self.scaler.decode(torch.cat(parts)))

    def replace(
        self, z0: torch.Tensor, known: torch.Tensor, generator: torch.Generator | None
    ) -> Hook:
        """The inpainting hook: known entries of x_t <- a fresh draw of q(x_t | z0)."""

        def hook(x: torch.Tensor, t: int) -> torch.Tensor:
            if t < 0:
                return torch.where(known, z0, x)
            level = torch.full((len(z0),), t, device=z0.device)
            noise = gaussian(z0.shape, z0.device, generator)
            return torch.where(known, self.schedule.noised(z0, level, noise), x)

        return hook


def split(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """`x` in the batches the reverse process runs on (chunks bound memory, not results)."""
    return torch.split(x, CHUNK)
