"""unCLIP's autoregressive prior, reduced (the paper's baseline): PCA of CLIP image embeddings, each
component quantised into bins at data quantiles, the codes predicted in order by a transformers GPT-2
whose first positions are the text embedding projected into prefix tokens. Dropping the text (zero
embedding) gives classifier-free guidance, as for the diffusion prior."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from .modeling_utils import PretrainedMixin


@dataclass
class ARPriorConfig:
    embed_dim: int = 128
    pca_dim: int = 32
    bins: int = 64
    prefix_tokens: int = 4
    hidden: int = 128
    layers: int = 4
    heads: int = 4


class ARPrior(nn.Module, PretrainedMixin):
    config_class = ARPriorConfig
    model_type = "clipspace-ar-prior"

    def __init__(self, config: ARPriorConfig):
        super().__init__()
        self.config = config
        c = config
        self.gpt = GPT2LMHeadModel(GPT2Config(vocab_size=c.bins, n_positions=c.prefix_tokens + c.pca_dim, n_embd=c.hidden, n_layer=c.layers, n_head=c.heads,
                                             bos_token_id=None, eos_token_id=None))
        self.prefix = nn.Linear(c.embed_dim, c.prefix_tokens * c.hidden)
        self.register_buffer("pca_mean", torch.zeros(c.embed_dim))
        self.register_buffer("pca_components", torch.eye(c.embed_dim)[: c.pca_dim])  # (k, D)
        self.register_buffer("bin_edges", torch.linspace(-1, 1, c.bins + 1).repeat(c.pca_dim, 1))  # (k, bins + 1)
        self.register_buffer("bin_centers", torch.zeros(c.pca_dim, c.bins))

    @torch.no_grad()
    def fit_codebook(self, emb: torch.Tensor) -> None:
        """PCA of (N, D) image embeddings and per-component quantile bins (centres = bin means)."""
        self.pca_mean.copy_(emb.mean(0))
        _, _, v = torch.linalg.svd(emb - self.pca_mean, full_matrices=False)
        self.pca_components.copy_(v[: self.config.pca_dim])
        coef = (emb - self.pca_mean) @ self.pca_components.T  # (N, k)
        q = torch.linspace(0, 1, self.config.bins + 1, device=emb.device)
        self.bin_edges.copy_(torch.quantile(coef, q, dim=0).T)
        codes = self.quantize(coef)
        for k in range(self.config.pca_dim):
            sums = torch.zeros(self.config.bins, device=emb.device).index_add_(0, codes[:, k], coef[:, k])
            counts = torch.bincount(codes[:, k], minlength=self.config.bins).clamp_min(1)
            self.bin_centers[k] = sums / counts

    def quantize(self, coef: torch.Tensor) -> torch.Tensor:
        inner = self.bin_edges[:, 1:-1]  # (k, bins - 1)
        return torch.stack([torch.bucketize(coef[:, k].contiguous(), inner[k].contiguous()) for k in range(coef.shape[1])], 1)

    def encode(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, D) embeddings -> (B, k) codes."""
        return self.quantize((emb - self.pca_mean) @ self.pca_components.T)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, k) codes -> (B, D) unit embeddings."""
        coef = torch.gather(self.bin_centers.expand(len(codes), -1, -1), 2, codes[..., None])[..., 0]
        return F.normalize(self.pca_mean + coef @ self.pca_components, dim=-1)

    def logits(self, text_emb: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Next-code logits: (B, k) for teacher forcing -> (B, k, bins), position i predicting code i."""
        B, P = len(text_emb), self.config.prefix_tokens
        prefix = self.prefix(text_emb).view(B, P, -1)
        tok = self.gpt.transformer.wte(codes[:, :-1]) if codes.shape[1] > 1 else prefix[:, :0]
        h = torch.cat([prefix, tok], 1)
        return self.gpt(inputs_embeds=h).logits[:, P - 1 :]

    def loss(self, text_emb: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        codes = self.encode(emb)
        return F.cross_entropy(self.logits(text_emb, codes).flatten(0, 1), codes.flatten())

    @torch.no_grad()
    def sample(self, text_emb: torch.Tensor, gens: list[torch.Generator], guidance_scale: float = 1.0, temperature: float = 1.0,
               uncond_emb: torch.Tensor | None = None) -> torch.Tensor:
        """(B, D) text embeddings -> (B, D) unit image embeddings, code by code (one generator per row).
        Guidance pushes away from `uncond_emb` (a negative prompt's embedding; default the null condition)."""
        B = len(text_emb)
        codes = torch.zeros(B, 0, dtype=torch.long, device=text_emb.device)
        null = torch.zeros_like(text_emb) if uncond_emb is None else uncond_emb
        for _ in range(self.config.pca_dim):
            padded = torch.cat([codes, torch.zeros(B, 1, dtype=torch.long, device=text_emb.device)], 1)
            logit = self.logits(text_emb, padded)[:, -1]
            if guidance_scale != 1.0:
                uncond = self.logits(null, padded)[:, -1]
                logit = uncond + guidance_scale * (logit - uncond)
            probs = (logit / temperature).softmax(-1)
            nxt = torch.stack([torch.multinomial(p, 1, generator=g) for p, g in zip(probs, gens)])
            codes = torch.cat([codes, nxt], 1)
        return self.decode(codes)
