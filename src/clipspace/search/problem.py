"""The GLaSS search problem: latent -> generator -> CLIP -> fitness (and realism from the critic)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..models.clip import ClipSpace
from ..models.critic import Critic
from .latents import LatentSpace
from .target import ClipTarget, clip_fitness


@dataclass
class Evaluation:
    fitness: np.ndarray  # (B,)
    realism: np.ndarray | None  # (B,) in [0, 1], when a critic is set


@dataclass
class GlassProblem:
    """Every candidate population goes through G and CLIP as one batch; the best seen are kept."""

    space: LatentSpace
    clip: ClipSpace
    target: ClipTarget
    critic: Critic | None = None
    aug: int = 0
    generator: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(0))
    keep: int = 8
    evaluations: int = 0
    best_x: torch.Tensor | None = None  # (<=keep, n_var), best first
    best_f: torch.Tensor | None = None

    def fitness(self, x: torch.Tensor, grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_var) -> fitness (B,) and images (B, 3, 64, 64); differentiable when grad=True."""
        with torch.set_grad_enabled(grad):
            images = self.space.images(x)
            f = clip_fitness(self.clip, self.target, images, self.aug, self.generator, grad=grad)
        self.evaluations += len(x)
        self._remember(x.detach(), f.detach())
        return f, images

    @torch.no_grad()
    def evaluate(self, x: np.ndarray | torch.Tensor) -> Evaluation:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float32) if not isinstance(x, torch.Tensor) else x.float()
        f, images = self.fitness(x)
        realism = self.critic.realism(images).numpy() if self.critic is not None else None
        return Evaluation(f.numpy().astype(np.float64), None if realism is None else realism.astype(np.float64))

    def _remember(self, x: torch.Tensor, f: torch.Tensor) -> None:
        xs = x if self.best_x is None else torch.cat([self.best_x, x])
        fs = f if self.best_f is None else torch.cat([self.best_f, f])
        order = fs.argsort(descending=True)
        keep = []
        for i in order.tolist():  # distinct candidates only
            if all(not torch.equal(xs[i], xs[j]) for j in keep):
                keep.append(i)
            if len(keep) == self.keep:
                break
        self.best_x, self.best_f = xs[keep].clone(), fs[keep].clone()

    @property
    def best_fitness(self) -> float:
        return float(self.best_f[0]) if self.best_f is not None else float("-inf")

    @torch.no_grad()
    def best_image(self) -> torch.Tensor:
        return self.space.images(self.best_x[:1])[0]
