"""The realism critic: a small CNN scoring how real a 64x64 image looks (CLIP-GLaSS's NSGA-II uses it
as the second objective, as the paper uses StyleGAN's discriminator)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .modeling_utils import PretrainedMixin


@dataclass
class CriticConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128)  # at 64, 32, 16, 8 px


class Critic(nn.Module, PretrainedMixin):
    config_class = CriticConfig
    model_type = "clipspace-critic"

    def __init__(self, config: CriticConfig):
        super().__init__()
        self.config = config
        layers, cin = [], 3
        for cout in config.channels:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(cout, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            cin = cout
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 16, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 64, 64) in [0, 1] -> (B,) logit of 'real'."""
        return self.net(images - 0.5)[:, 0]

    def realism(self, images: torch.Tensor) -> torch.Tensor:
        """(B,) probability that each image is a real Shapes-world scene."""
        return torch.sigmoid(self(images))
