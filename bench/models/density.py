"""Ex-post density estimation (Ghosh et al. 2020, "From variational to deterministic
autoencoders"): an autoencoder without a prior becomes a generative model by fitting a density on
the codes of its training data after (or during) training and decoding draws from it.

Every density is a mixture of full-covariance Gaussians kept in registered buffers (weights,
means, Cholesky factors), so it travels with `state_dict()` and checkpoints; the `gaussian`
sampler is the one-component case. Before the first fit the density is N(0, I)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from bench.models.nets import standard_normal

FIT_SEED = 0  # the GMM's initialisation: a fixed state, so a refit on the same codes is identical
JITTER = 1e-5  # added to covariance diagonals, relative to the mean code variance

# (codes (N, d) float64 numpy, components) -> (weights (K,), means (K, d), covariances (K, d, d))
Fitter = Callable[[np.ndarray, int], tuple[np.ndarray, ...]]


def _fit_gaussian(codes: np.ndarray, components: int) -> tuple[np.ndarray, ...]:
    """One Gaussian with the codes' mean and (unbiased) covariance."""
    mean = codes.mean(0)
    cov = np.atleast_2d(np.cov(codes, rowvar=False))
    return np.ones(1), mean[None], cov[None]


def _fit_gmm(codes: np.ndarray, components: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's EM with k-means initialisation from a fixed seed; BLAS limited to torch's
    thread count so a trial never takes more cores than it was given."""
    from sklearn.mixture import GaussianMixture

    k = min(components, len(codes))
    gmm = GaussianMixture(k, covariance_type="full", random_state=FIT_SEED, reg_covar=1e-6)
    with threadpool_limits(torch.get_num_threads()):
        gmm.fit(codes)
    return gmm.weights_, gmm.means_, gmm.covariances_


# The `sampler` hyperparameter of the autoencoders names one of these.
DENSITY_FITTERS: dict[str, Fitter] = {"gaussian": _fit_gaussian, "gmm": _fit_gmm}


class CodeDensity(nn.Module):
    """A mixture of `components` Gaussians over `dim`-dimensional codes. A fit that finds fewer
    components (more components than codes) gives the unused ones weight zero."""

    def __init__(self, kind: str, dim: int, components: int = 1) -> None:
        super().__init__()
        self.kind = kind
        self.fitter = DENSITY_FITTERS[kind]
        k = components if kind != "gaussian" else 1
        self.register_buffer("weights", torch.full((k,), 1.0 / k))
        self.register_buffer("means", torch.zeros(k, dim))
        self.register_buffer("chols", torch.eye(dim).repeat(k, 1, 1))

    def fit(self, codes: torch.Tensor) -> None:
        """Replace the density by one fitted to `codes` (N, dim); deterministic."""
        z = codes.detach().cpu().double().numpy()
        weights, means, covs = self.fitter(z, len(self.weights))
        covs = torch.as_tensor(covs, dtype=torch.float64)
        scale = JITTER * max(float(np.var(z, axis=0).mean()), 1e-12)
        eye = torch.eye(covs.shape[-1], dtype=torch.float64)
        chols = torch.linalg.cholesky(covs + scale * eye)  # jitter: codes may span a subspace
        k = len(weights)
        with torch.no_grad():
            self.weights.zero_()
            self.weights[:k] = torch.as_tensor(weights)
            self.means[:k] = torch.as_tensor(means)
            self.chols[:k] = chols.float()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, dim) draws, using only `generator` for randomness."""
        device = self.means.device
        gen_device = generator.device if generator is not None else device
        which = torch.multinomial(
            self.weights.to(gen_device), n, replacement=True, generator=generator
        ).to(device)
        eps = standard_normal(n, self.means.shape[1], device, generator)
        z = self.means[which]
        for k in which.unique().tolist():  # per component: never a (n, d, d) gather
            rows = which == k
            z[rows] += eps[rows] @ self.chols[k].T
        return z

    def extra_repr(self) -> str:
        return f"kind={self.kind}, components={len(self.weights)}, dim={self.means.shape[1]}"
