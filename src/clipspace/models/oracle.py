"""The oracle: a small CNN that reads a 64x64 Shapes-world image back into a scene.

Outputs the background and, for each of the 9 grid cells, whether it holds an object and that
object's color, shape and size. It is the referee of every evaluation, trained on all pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..world.scene import (
    BACKGROUND_NAMES,
    COLOR_NAMES,
    POSITIONS,
    SHAPES,
    SIZE_NAMES,
    Scene,
)
from .modeling_utils import PretrainedMixin

NUM_CELLS = 9
IGNORE = -100


@dataclass
class OracleConfig:
    channels: tuple[int, ...] = (24, 48, 96)
    hidden: int = 256
    dropout: float = 0.1


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


@dataclass
class OracleReading:
    """Probabilities per head; `scene()` turns them into the most likely scene description."""

    background: torch.Tensor  # (B, 3)
    present: torch.Tensor  # (B, 9)
    color: torch.Tensor  # (B, 9, 8)
    shape: torch.Tensor  # (B, 9, 5)
    size: torch.Tensor  # (B, 9, 2)
    features: torch.Tensor  # (B, hidden) penultimate features, for Oracle-FID

    def objects(self, b: int, threshold: float = 0.5) -> list[dict]:
        out = []
        for cell in range(NUM_CELLS):
            if self.present[b, cell] > threshold:
                out.append({
                    "cell": cell,
                    "position": POSITIONS[cell],
                    "color": COLOR_NAMES[int(self.color[b, cell].argmax())],
                    "shape": SHAPES[int(self.shape[b, cell].argmax())],
                    "size": SIZE_NAMES[int(self.size[b, cell].argmax())],
                })
        return out

    def describe(self, b: int) -> dict:
        return {"background": BACKGROUND_NAMES[int(self.background[b].argmax())], "objects": self.objects(b)}

    def confidence(self) -> torch.Tensor:
        """(B,) the least confident of all decisions the reading makes (cells, attributes, background)."""
        p = self.present
        cell_conf = torch.maximum(p, 1 - p)  # (B, 9)
        attr_conf = torch.stack([self.color.amax(-1), self.shape.amax(-1), self.size.amax(-1)], -1).amin(-1)
        attr_conf = torch.where(p > 0.5, attr_conf, torch.ones_like(attr_conf))
        return torch.minimum(torch.minimum(cell_conf, attr_conf).amin(-1), self.background.amax(-1))


class Oracle(nn.Module, PretrainedMixin):
    config_class = OracleConfig
    model_type = "clipspace-oracle"

    def __init__(self, config: OracleConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.stem = nn.Sequential(nn.Conv2d(3, c[0], 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))
        layers, cin = [], c[0]
        for i, cout in enumerate(c):
            layers.append(_block(cin, cout))
            if i < len(c) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.body = nn.Sequential(*layers)  # (B, C, 8, 8)
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(cin * 64, config.hidden), nn.ReLU(inplace=True)
        )
        per_cell = 1 + len(COLOR_NAMES) + len(SHAPES) + len(SIZE_NAMES)
        self.head = nn.Linear(config.hidden, len(BACKGROUND_NAMES) + NUM_CELLS * per_cell)
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images: (B, 3, 64, 64) in [0, 1] -> logits per head and penultimate features."""
        h = self.fc(self.body(self.stem((images - self.mean) * 2)))  # (B, hidden)
        out = self.head(h)
        nb, nc, ns, nz = len(BACKGROUND_NAMES), len(COLOR_NAMES), len(SHAPES), len(SIZE_NAMES)
        cells = out[:, nb:].view(-1, NUM_CELLS, 1 + nc + ns + nz)
        return {
            "background": out[:, :nb],
            "present": cells[..., 0],
            "color": cells[..., 1 : 1 + nc],
            "shape": cells[..., 1 + nc : 1 + nc + ns],
            "size": cells[..., 1 + nc + ns :],
            "features": h,
        }

    @torch.no_grad()
    def read(self, images: torch.Tensor, batch_size: int = 256) -> OracleReading:
        """Probabilities for a batch of (B, 3, 64, 64) images in [0, 1]."""
        parts = []
        for i in range(0, len(images), batch_size):
            parts.append(self(images[i : i + batch_size]))
        cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        return OracleReading(
            background=cat["background"].softmax(-1),
            present=cat["present"].sigmoid(),
            color=cat["color"].softmax(-1),
            shape=cat["shape"].softmax(-1),
            size=cat["size"].softmax(-1),
            features=cat["features"],
        )


def scene_targets(scene: Scene) -> dict[str, np.ndarray]:
    """Training targets of one scene; absent cells get IGNORE for their attributes."""
    present = np.zeros(NUM_CELLS, np.float32)
    color = np.full(NUM_CELLS, IGNORE, np.int64)
    shape = np.full(NUM_CELLS, IGNORE, np.int64)
    size = np.full(NUM_CELLS, IGNORE, np.int64)
    for o in scene.objects:
        present[o.cell] = 1
        color[o.cell] = COLOR_NAMES.index(o.color)
        shape[o.cell] = SHAPES.index(o.shape)
        size[o.cell] = SIZE_NAMES.index(o.size)
    return {
        "background": np.int64(BACKGROUND_NAMES.index(scene.background)),
        "present": present, "color": color, "shape": shape, "size": size,
    }


def oracle_loss(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    loss = F.cross_entropy(logits["background"], targets["background"])
    loss = loss + F.binary_cross_entropy_with_logits(logits["present"], targets["present"]) * NUM_CELLS
    for k in ("color", "shape", "size"):
        loss = loss + F.cross_entropy(logits[k].flatten(0, 1), targets[k].flatten(), ignore_index=IGNORE) * 2
    return loss
