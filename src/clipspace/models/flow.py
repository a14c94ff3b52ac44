"""CLIP-Flow (Ma et al., CVM 2024): a conditional real-NVP between the generator's W space and CLIP space.

Built from FrEIA blocks: ActNorm, a learned orthogonal mixing (Householder reflections, FrEIA's
invertible 1x1 for vectors) and a GLOW affine coupling conditioned on the CLIP embedding e. Trained by
maximum likelihood of w given e; text embeddings are fed directly (or through `TextToImageAligner`).

    flow = ClipFlow.from_pretrained("flow")
    w = flow.sample(e, temperature=0.8, generator=g)          # e: (B, 128) unit CLIP embeddings
    w2 = flow.edit(w, e_source, e_target)                     # invert under one condition, decode under another
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import FrEIA.framework as Ff
import FrEIA.modules as Fm
import torch
import torch.nn as nn
import torch.nn.functional as F

from .modeling_utils import PretrainedMixin


@dataclass
class FlowConfig:
    w_dim: int = 64
    cond_dim: int = 128
    blocks: int = 8
    hidden: int = 256
    clamp: float = 2.0
    reflections: int = 8  # Householder reflections per mixing layer
    aligner_hidden: int = 256  # the text -> image embedding aligner (0 = none)


def _subnet(hidden: int):
    def make(c_in: int, c_out: int) -> nn.Module:
        net = nn.Sequential(nn.Linear(c_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, c_out))
        nn.init.zeros_(net[-1].weight)  # every coupling starts as the identity
        nn.init.zeros_(net[-1].bias)
        return net

    return make


class TextToImageAligner(nn.Module):
    """A residual MLP from a CLIP text embedding to the image embedding it describes (the modality gap)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, text_emb: torch.Tensor) -> torch.Tensor:
        return F.normalize(text_emb + self.net(text_emb), dim=-1)


class ClipFlow(nn.Module, PretrainedMixin):
    config_class = FlowConfig
    model_type = "clipspace-flow"

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        inn = Ff.SequenceINN(config.w_dim)
        for _ in range(config.blocks):
            inn.append(Fm.ActNorm)
            inn.append(Fm.HouseholderPerm, n_reflections=config.reflections)
            inn.append(Fm.GLOWCouplingBlock, cond=0, cond_shape=(config.cond_dim,), subnet_constructor=_subnet(config.hidden), clamp=config.clamp)
        self.inn = inn
        self.aligner = TextToImageAligner(config.cond_dim, config.aligner_hidden) if config.aligner_hidden else None

    def forward(self, w: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """w (B, D), e (B, C) -> z (B, D) and log|det dz/dw| (B,)."""
        return self.inn(w, c=[e])

    def nll(self, w: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """(B,) negative log-likelihood of w given e, in nats per dimension."""
        z, log_det = self(w, e)
        log_pz = -0.5 * (z.pow(2).sum(-1) + z.shape[1] * math.log(2 * math.pi))
        return -(log_pz + log_det) / z.shape[1]

    def decode(self, z: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        w, _ = self.inn(z, c=[e], rev=True, jac=False)
        return w

    def sample(self, e: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """One w per condition row; z ~ N(0, temperature^2 I)."""
        z = torch.randn(len(e), self.config.w_dim, generator=generator) * temperature
        return self.decode(z, e)

    def encode(self, w: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self(w, e)[0]

    def edit(self, w: torch.Tensor, e_source: torch.Tensor, e_target: torch.Tensor) -> torch.Tensor:
        """Keep w's base-space code z = f(w | e_source) and decode it under e_target."""
        return self.decode(self.encode(w, e_source), e_target)

    def align_text(self, text_emb: torch.Tensor) -> torch.Tensor:
        return self.aligner(text_emb) if self.aligner is not None else text_emb


@dataclass
class RegressorConfig:
    w_dim: int = 64
    cond_dim: int = 128
    hidden: int = 512


class WRegressor(nn.Module, PretrainedMixin):
    """The baseline beside CLIP-Flow: a direct MLP regression e -> w on the same pairs (one w per e)."""

    config_class = RegressorConfig
    model_type = "clipspace-w-regressor"

    def __init__(self, config: RegressorConfig):
        super().__init__()
        self.config = config
        h = config.hidden
        self.net = nn.Sequential(nn.Linear(config.cond_dim, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, config.w_dim))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.net(e)
