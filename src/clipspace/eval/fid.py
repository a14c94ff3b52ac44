"""Oracle-FID: the Fréchet distance between oracle penultimate features of two image sets."""
from __future__ import annotations

import numpy as np
import torch
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two (N, F) feature sets (Gaussian fits; scipy's sqrtm, imaginary round-off dropped)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as the reference implementation does
        eps = np.eye(len(cov_a)) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean.real))


@torch.no_grad()
def oracle_features(oracle, images: torch.Tensor) -> np.ndarray:
    return oracle.read(images).features.double().numpy()
