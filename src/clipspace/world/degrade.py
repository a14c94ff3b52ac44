"""Image degradations: the blur, noise, resampling and color shifts that generated images show.

Used at fixed strengths to test robustness, and at random strengths to augment training.
All functions take and return (B, 3, H, W) float tensors in [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_blur(images: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Blur each image with its own sigma (a float or a (B,) tensor); sigma 0 leaves it unchanged."""
    B, C, H, W = images.shape
    sigma = torch.as_tensor(sigma, dtype=images.dtype, device=images.device).expand(B).clamp_min(1e-3)
    radius = max(1, int(torch.ceil(3 * sigma.max()).item()))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-(x[None] ** 2) / (2 * sigma[:, None] ** 2))
    k = (k / k.sum(-1, keepdim=True)).repeat_interleave(C, 0)  # (B*C, K)
    flat = F.pad(images.reshape(1, B * C, H, W), (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, k[:, None, None, :], groups=B * C)
    flat = F.conv2d(flat, k[:, None, :, None], groups=B * C)
    return flat.view(B, C, H, W)


def add_noise(images: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian pixel noise; sigma in 0-255 units."""
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype) * (sigma / 255)
    return (images + noise).clamp(0, 1)


def down_up(images: torch.Tensor, size: int) -> torch.Tensor:
    """Downsample to size x size (area) and back up (bilinear), as low-resolution generators do."""
    H = images.shape[-1]
    small = F.interpolate(images, size=(size, size), mode="area")
    return F.interpolate(small, size=(H, H), mode="bilinear", align_corners=False).clamp(0, 1)


def quantize(images: torch.Tensor) -> torch.Tensor:
    return (images * 255).round() / 255


# The fixed degradations of the oracle's robustness test (SHAPES world issue: blur sigma 1, noise sigma 8, 32 px).
FIXED_DEGRADATIONS = {
    "blur": lambda x, g: gaussian_blur(x, 1.0),
    "noise": lambda x, g: add_noise(x, 8.0, g),
    "down32": lambda x, g: down_up(x, 32),
    "all": lambda x, g: add_noise(down_up(gaussian_blur(x, 1.0), 32), 8.0, g),
}


def random_degrade(images: torch.Tensor, generator: torch.Generator, p_clean: float = 0.3) -> torch.Tensor:
    """Training augmentation: each image gets a random subset of blur, resampling, color shift and noise."""
    B = images.shape[0]

    def pick(p: float) -> torch.Tensor:
        return torch.rand(B, generator=generator) < p

    x = images.clone()
    dirty = ~pick(p_clean)
    m = dirty & pick(0.45)
    if m.any():
        x[m] = gaussian_blur(x[m], torch.rand(int(m.sum()), generator=generator) * 1.6)
    m = dirty & pick(0.4)
    if m.any():
        sizes = (20, 24, 28, 32, 40, 48)
        x[m] = down_up(x[m], sizes[int(torch.randint(len(sizes), (1,), generator=generator))])
    m = dirty & pick(0.4)
    if m.any():
        n = int(m.sum())
        gain = 1 + (torch.rand(n, 3, 1, 1, generator=generator) - 0.5) * 0.16
        offset = (torch.rand(n, 3, 1, 1, generator=generator) - 0.5) * (30 / 255)
        x[m] = (x[m] * gain + offset).clamp(0, 1)
    m = dirty & pick(0.5)
    if m.any():
        n = int(m.sum())
        sigma = torch.rand(n, 1, 1, 1, generator=generator) * (14 / 255)
        x[m] = (x[m] + torch.randn(x[m].shape, generator=generator) * sigma).clamp(0, 1)
    return x
