"""A StyleGAN-like image generator in miniature: mapping z -> w, synthesis w(+) -> 64x64 image.

- synthesis: a 4x4 input projected from w (where StyleGAN starts from a learned constant: a constant
  makes the convolutions invent the layout from styles alone, which trained far slower here — 2 % of
  reconstructions right after 1,000 steps, colour at chance), upsampled through style-modulated,
  demodulated 3x3 convolutions (StyleGAN2's weight demodulation); the input, each conv and the final
  toRGB read their own w, so `synthesize` takes w (B, D) or per-layer w+ (B, num_ws, D);
- mapping: a Gaussian mixture over the latents of the trained autoencoder, reached deterministically
  from z ~ N(0, I) (see MixtureMapping). Truncation: `psi` pulls w toward its cluster's mean
  (multi-modal truncation, which keeps images valid in a multimodal space); StyleGAN's pull toward
  w_avg is `truncate`;
- encoder: image -> w, the autoencoder half that trains the synthesis and inverts images.

The realism critic lives in critic.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .modeling_utils import PretrainedMixin


@dataclass
class GeneratorConfig:
    w_dim: int = 64
    channels: tuple[int, ...] = (128, 128, 64, 32, 16)  # at 4, 8, 16, 32, 64 px
    encoder_channels: tuple[int, ...] = (16, 32, 64, 128)  # at 64, 32, 16, 8 px
    num_clusters: int = 256

    @property
    def num_ws(self) -> int:
        return 2 + 2 * (len(self.channels) - 1) + 1  # input, first conv, two per upsampling block, toRGB


class ModulatedConv2d(nn.Module):
    """A 3x3 (or 1x1) conv whose input channels are scaled by a style from w, then demodulated."""

    def __init__(self, cin: int, cout: int, w_dim: int, kernel: int = 3, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.affine = nn.Linear(w_dim, cin)
        nn.init.normal_(self.affine.weight, std=1 / math.sqrt(w_dim))  # StyleGAN2: styles start near 1
        nn.init.ones_(self.affine.bias)
        self.scale = 1 / math.sqrt(cin * kernel * kernel)
        self.demodulate, self.padding = demodulate, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # StyleGAN2's non-fused form: scale inputs, shared conv, scale outputs (one batched conv, fast on CPU)
        style = self.affine(w)  # (B, cin)
        weight = self.weight * self.scale
        out = F.conv2d(x * style[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            demod = torch.rsqrt(style.pow(2) @ weight.pow(2).sum((2, 3)).T + 1e-8)  # (B, cout)
            out = out * demod[:, :, None, None]
        return out + self.bias.view(1, -1, 1, 1)


class Synthesis(nn.Module):
    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        c = cfg.channels
        self.input = nn.Linear(cfg.w_dim, c[0] * 16)
        convs = [ModulatedConv2d(c[0], c[0], cfg.w_dim)]
        for cin, cout in zip(c[:-1], c[1:]):
            convs += [ModulatedConv2d(cin, cout, cfg.w_dim), ModulatedConv2d(cout, cout, cfg.w_dim)]
        self.convs = nn.ModuleList(convs)
        self.to_rgb = ModulatedConv2d(c[-1], 3, cfg.w_dim, kernel=1, demodulate=False)

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        """ws: (B, num_ws, D) -> (B, 3, 64, 64), roughly in [0, 1] (clamp for display)."""
        x = self.input(ws[:, 0]).view(len(ws), -1, 4, 4).contiguous(memory_format=torch.channels_last)  # faster convs on CPU
        x = F.leaky_relu(self.convs[0](F.leaky_relu(x, 0.2), ws[:, 1]), 0.2)
        for i in range(1, len(self.convs), 2):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = F.leaky_relu(self.convs[i](x, ws[:, i + 1]), 0.2)
            x = F.leaky_relu(self.convs[i + 1](x, ws[:, i + 2]), 0.2)
        return self.to_rgb(x, ws[:, -1]) + 0.5


class Encoder(nn.Module):
    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        layers, cin = [], 3
        for cout in cfg.encoder_channels:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(cout, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            cin = cout
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 16, 256), nn.LeakyReLU(0.2), nn.Linear(256, cfg.w_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 64, 64) in [0, 1] -> (B, D)."""
        return self.net(images - 0.5)


class MixtureMapping(nn.Module):
    """A deterministic map from z ~ N(0, I_{D+1}) to the mixture over w.

    z[0] picks the cluster through the normal CDF (u = Phi(z0) falls into cluster k with probability
    pi_k), z[1:] places w inside it: w = mu_k + psi * L_k z[1:]. Searching z is searching the mixture.
    """

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        K, D = cfg.num_clusters, cfg.w_dim
        self.register_buffer("means", torch.zeros(K, D))
        self.register_buffer("scale_tril", torch.eye(D).repeat(K, 1, 1))
        self.register_buffer("log_weights", torch.full((K,), -math.log(K)))

    def cluster(self, z: torch.Tensor) -> torch.Tensor:
        u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))
        cdf = torch.cumsum(torch.softmax(self.log_weights.float(), 0), 0)
        return torch.searchsorted(cdf, u.contiguous()).clamp_max(len(cdf) - 1)

    def forward(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """z (B, D + 1) -> w (B, D)."""
        k = self.cluster(z)
        return self.means[k] + psi * torch.einsum("bij,bj->bi", self.scale_tril[k], z[:, 1:])


class Generator(nn.Module, PretrainedMixin):
    config_class = GeneratorConfig
    model_type = "clipspace-generator"

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        self.synthesis = Synthesis(config)
        self.encoder = Encoder(config)
        self.mapping = MixtureMapping(config)
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    def synthesize(self, w: torch.Tensor) -> torch.Tensor:
        """w (B, D) or w+ (B, num_ws, D) -> images (B, 3, 64, 64) in [0, 1]."""
        ws = w[:, None].expand(-1, self.num_ws, -1) if w.ndim == 2 else w
        return self.synthesis(ws).clamp(0, 1)

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """StyleGAN's truncation toward the average w."""
        return self.w_avg + psi * (w - self.w_avg)

    @property
    def z_dim(self) -> int:
        return self.config.w_dim + 1

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z (n, D + 1) ~ N(0, I), seeded."""
        return torch.randn(n, self.z_dim, generator=generator)

    def sample_w(self, n: int, generator: torch.Generator | None = None, psi: float = 1.0) -> torch.Tensor:
        return self.mapping(self.sample_latents(n, generator), psi)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, psi: float = 1.0, batch_size: int = 256) -> torch.Tensor:
        w = self.sample_w(n, generator, psi)
        return torch.cat([self.synthesize(w[i : i + batch_size]) for i in range(0, n, batch_size)])

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Invert images to w (the autoencoder's encoder)."""
        return self.encoder(images)
