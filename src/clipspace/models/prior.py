"""unCLIP's diffusion prior: CLIP text embedding (+ text token states) -> CLIP image embedding.

A diffusers PriorTransformer predicting x0 (the clean image embedding, standardised by per-dimension
statistics of the training embeddings), conditioned on the text embedding and the CLIP text encoder's
token states; classifier-free guidance by dropping the text. Sampling lives in pipelines/unclip.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from diffusers import PriorTransformer

from .modeling_utils import PretrainedMixin


@dataclass
class PriorConfig:
    embed_dim: int = 128  # CLIP projection dim
    text_hidden: int = 128  # CLIP text encoder width
    max_length: int = 32  # text tokens
    layers: int = 6
    heads: int = 4
    head_dim: int = 32
    train_timesteps: int = 1000


class DiffusionPrior(nn.Module, PretrainedMixin):
    config_class = PriorConfig
    model_type = "clipspace-diffusion-prior"

    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        self.transformer = PriorTransformer(
            num_attention_heads=config.heads, attention_head_dim=config.head_dim, num_layers=config.layers,
            embedding_dim=config.embed_dim, num_embeddings=config.max_length, additional_embeddings=4,
        )
        self.token_proj = nn.Linear(config.text_hidden, config.embed_dim)
        # standardisation of image embeddings (set from data before training)
        self.register_buffer("emb_mean", torch.zeros(config.embed_dim))
        self.register_buffer("emb_std", torch.ones(config.embed_dim))

    def normalize(self, emb: torch.Tensor) -> torch.Tensor:
        return (emb - self.emb_mean) / self.emb_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.emb_std + self.emb_mean

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text_emb: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x_t (B, D) noisy standardised embedding, t (B,), text_emb (B, D), tokens (B, T, H), mask (B, T) -> x0 (B, D)."""
        return self.transformer(
            x_t, t, proj_embedding=text_emb, encoder_hidden_states=self.token_proj(tokens), attention_mask=mask.bool()
        ).predicted_image_embedding
