"""The latent spaces GLaSS searches: z (the mapping's Gaussian input), w, and per-layer w+."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models.generator import Generator, project

LATENT_SPACES = ("z", "w", "w+")


@dataclass
class LatentSpace:
    generator: Generator
    name: str = "w"
    psi: float = 1.0
    # draw every candidate as the scene code nearest to it (models.generator.project), a straight-through estimator
    # for Adam: the search cannot win CLIP over with blends the generator never saw (half a star, half a square)
    snap: bool = False

    def __post_init__(self):
        if self.name not in LATENT_SPACES:
            raise ValueError(f"latent space must be one of {LATENT_SPACES}, got {self.name!r}")

    @property
    def n_var(self) -> int:
        g = self.generator
        return {"z": g.z_dim, "w": g.w_dim, "w+": g.w_dim * g.num_ws}[self.name]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Box bounds for pymoo: z within +-4; w within the mixture's means +- 3 std, over all components."""
        if self.name == "z":
            return np.full(self.n_var, -4.0), np.full(self.n_var, 4.0)
        m = self.generator.mapping
        live = m.log_weights > -float("inf")
        std = m.component_std()
        std = std[live] if len(std) > 1 else std  # (K or 1, D)
        lo = (m.means[live].float() - 3 * std).amin(0).numpy()
        hi = (m.means[live].float() + 3 * std).amax(0).numpy()
        reps = 1 if self.name == "w" else self.generator.num_ws
        return np.tile(lo, reps).astype(np.float64), np.tile(hi, reps).astype(np.float64)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points from the generator's prior, in this space's coordinates (the initial population)."""
        z = self.generator.sample_latents(n, generator)
        if self.name == "z":
            return z.clamp(-4, 4)
        w = self.generator.mapping(z, self.psi)
        return w if self.name == "w" else w[:, None].expand(-1, self.generator.num_ws, -1).flatten(1)

    def to_ws(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_var) -> (B, num_ws, w_dim), differentiable (except z's cluster choice)."""
        g = self.generator
        if self.name == "z":
            ws = g.mapping(x, self.psi)[:, None].expand(-1, g.num_ws, -1)
        elif self.name == "w":
            ws = x[:, None].expand(-1, g.num_ws, -1)
        else:
            ws = x.view(len(x), g.num_ws, g.w_dim)
        return ws + (project(ws) - ws).detach() if self.snap else ws

    def images(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.synthesize(self.to_ws(x))
