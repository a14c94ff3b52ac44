"""What GLaSS steers toward: weighted text prompts, negative prompts and image prompts in CLIP space."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.clip import ClipSpace


@dataclass
class ClipTarget:
    """fitness(e) = sum_i a_i cos(e, p_i) - sum_j b_j cos(e, n_j), over unit CLIP embeddings."""

    positives: torch.Tensor  # (P, D) unit
    weights: torch.Tensor  # (P,)
    negatives: torch.Tensor  # (N, D) unit, N may be 0
    negative_weights: torch.Tensor  # (N,)

    @classmethod
    def build(
        cls,
        clip: ClipSpace,
        prompts: list[str] = (),
        weights: list[float] | None = None,
        negative_prompts: list[str] = (),
        negative_weight: float = 0.5,
        images: torch.Tensor | None = None,
        image_weight: float = 1.0,
    ) -> "ClipTarget":
        pos, w = [], []
        if prompts:
            pos.append(clip.encode_text(list(prompts)))
            w += list(weights) if weights is not None else [1.0] * len(prompts)
        if images is not None and len(images):
            pos.append(clip.encode_image(images))
            w += [image_weight] * len(images)
        if not pos:
            raise ValueError("a target needs at least one prompt or image")
        negatives = clip.encode_text(list(negative_prompts)) if negative_prompts else torch.zeros(0, clip.embed_dim)
        return cls(torch.cat(pos), torch.tensor(w, dtype=torch.float32), negatives, torch.full((len(negatives),), negative_weight))

    def score(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, D) unit image embeddings -> (B,) fitness."""
        s = (emb @ self.positives.T) @ self.weights / self.weights.sum()
        if len(self.negatives):
            s = s - (emb @ self.negatives.T) @ self.negative_weights / max(len(self.negatives), 1)
        return s


def augment(images: torch.Tensor, k: int, generator: torch.Generator, max_shift: int = 4, min_scale: float = 0.9,
            noise: float = 0.02) -> torch.Tensor:
    """AugCLIP views -> (k*B, 3, H, W): per view a random square crop of side min_scale..1 of the image at a
    random shift (edges replicated), resized back, plus pixel noise. Small on purpose: in this world
    position is part of the prompt. Differentiable, for Adam."""
    B, C, H, W = images.shape
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    views = []
    for _ in range(k):
        scale = min_scale + (1 - min_scale) * float(torch.rand((), generator=generator))
        h, w = max(1, round(H * scale)), max(1, round(W * scale))
        dy = int(torch.randint(0, H + 2 * max_shift - h + 1, (), generator=generator))
        dx = int(torch.randint(0, W + 2 * max_shift - w + 1, (), generator=generator))
        v = padded[:, :, dy : dy + h, dx : dx + w]
        if (h, w) != (H, W):
            v = F.interpolate(v, size=(H, W), mode="bilinear", align_corners=False)
        views.append(v + noise * torch.randn(v.shape, generator=generator))
    return torch.cat(views).clamp(0, 1)


def clip_fitness(
    clip: ClipSpace, target: ClipTarget, images: torch.Tensor, aug: int = 0, generator: torch.Generator | None = None, grad: bool = False
) -> torch.Tensor:
    """(B,) fitness of images; with aug = k > 0, averaged over k augmented views (AugCLIP)."""
    if aug > 0:
        views = augment(images, aug, generator)
        return target.score(clip.encode_image(views, grad=grad)).view(aug, len(images)).mean(0)
    return target.score(clip.encode_image(images, grad=grad))
