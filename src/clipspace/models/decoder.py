"""unCLIP's decoder and upsampler: CLIP image embedding -> 32x32 image -> 64x64 image.

- Decoder: a diffusers UNet2DConditionModel predicting noise, the embedding entering twice as in the
  paper: projected into the timestep embedding (class_embed_type="projection") and as extra context
  tokens for cross-attention. Classifier-free guidance by zeroing the embedding.
- Upsampler: a diffusers UNet2DModel on [noisy 64x64, bilinearly upsampled low-res image], trained
  with the low-res image blurred and noised (noise conditioning augmentation).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import UNet2DConditionModel, UNet2DModel

from .modeling_utils import PretrainedMixin


@dataclass
class DecoderConfig:
    embed_dim: int = 128
    size: int = 32
    channels: tuple[int, ...] = (16, 32, 64)
    attention: tuple[bool, ...] | None = None  # cross-attention per level; None: the lowest resolution only
    layers_per_block: int = 1
    context_tokens: int = 4
    head_dim: int = 16
    train_timesteps: int = 1000
    # what the UNet predicts: "v_prediction" (v = sqrt(a) eps - sqrt(1 - a) x0) or "epsilon". The cosine schedule
    # ends at SNR ~ 0, where an epsilon model's x0 estimate divides by sqrt(a) ~ 5e-5: its first sampling steps
    # commit to saturated garbage (measured: a white background came out red, green or magenta); v stays bounded.
    prediction_type: str = "epsilon"


class Decoder(nn.Module, PretrainedMixin):
    config_class = DecoderConfig
    model_type = "clipspace-unclip-decoder"

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        n = len(config.channels)
        attention = config.attention or (False,) * (n - 1) + (True,)
        if len(attention) != n:
            raise ValueError(f"attention needs one flag per level ({n}), got {attention}")
        self.unet = UNet2DConditionModel(
            sample_size=config.size, in_channels=3, out_channels=3, block_out_channels=config.channels,
            layers_per_block=config.layers_per_block,
            down_block_types=tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention),
            up_block_types=tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)),
            cross_attention_dim=config.embed_dim, attention_head_dim=config.head_dim,
            class_embed_type="projection", projection_class_embeddings_input_dim=config.embed_dim,
            norm_num_groups=min(32, config.channels[0]),
        )
        self.context = nn.Linear(config.embed_dim, config.context_tokens * config.embed_dim)
        self.unet.to(memory_format=torch.channels_last)  # ~40 % faster convolutions on CPU

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """x_t (B, 3, S, S) in [-1, 1] space, t (B,), emb (B, D) (zeros = unconditional) -> predicted noise."""
        ctx = self.context(emb).view(len(emb), self.config.context_tokens, self.config.embed_dim)
        x_t = x_t.contiguous(memory_format=torch.channels_last)
        return self.unet(x_t, t, encoder_hidden_states=ctx, class_labels=emb).sample


@dataclass
class UpsamplerConfig:
    low: int = 32
    high: int = 64
    channels: tuple[int, ...] = (8, 16, 32)
    layers_per_block: int = 1
    train_timesteps: int = 1000
    aug_noise: float = 0.1  # std of the noise added to the low-res condition (in [-1, 1] units)
    aug_blur: float = 0.6  # sigma of its Gaussian blur, in low-res pixels
    prediction_type: str = "epsilon"  # or "v_prediction" (see DecoderConfig)


class Upsampler(nn.Module, PretrainedMixin):
    config_class = UpsamplerConfig
    model_type = "clipspace-unclip-upsampler"

    def __init__(self, config: UpsamplerConfig):
        super().__init__()
        self.config = config
        n = len(config.channels)
        self.unet = UNet2DModel(
            sample_size=config.high, in_channels=6, out_channels=3, block_out_channels=config.channels,
            layers_per_block=config.layers_per_block, down_block_types=("DownBlock2D",) * n,
            up_block_types=("UpBlock2D",) * n, norm_num_groups=min(32, config.channels[0]),
        )
        self.unet.to(memory_format=torch.channels_last)

    def condition(self, low: torch.Tensor) -> torch.Tensor:
        """(B, 3, low, low) in [-1, 1] -> (B, 3, high, high) bilinear."""
        return F.interpolate(low, size=(self.config.high, self.config.high), mode="bilinear", align_corners=False)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, low_up: torch.Tensor) -> torch.Tensor:
        return self.unet(torch.cat([x_t, low_up], 1).contiguous(memory_format=torch.channels_last), t).sample
