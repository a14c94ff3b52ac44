"""A small CLIP (transformers CLIPModel) with its tokenizer and preprocessing, as one object.

    clip = ClipSpace.from_pretrained("zoo/clip")
    t = clip.encode_text(["a red circle"])          # (1, D), L2-normalised
    i = clip.encode_image(images)                   # images: (B, 3, H, W) in [0, 1]

The model dir is a plain HF CLIP dir (config.json, model.safetensors, tokenizer.json,
preprocessor_config.json): CLIPModel.from_pretrained and PreTrainedTokenizerFast.from_pretrained load it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel, PreTrainedTokenizerFast

from .tokenizer import MAX_LENGTH, build_tokenizer, tokenize

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass
class ClipSpaceConfig:
    """The few numbers that define a zoo CLIP; everything else is transformers' CLIPConfig default."""

    image_size: int = 64
    patch_size: int = 8
    vision_hidden: int = 128
    vision_layers: int = 4
    text_hidden: int = 128
    text_layers: int = 3
    heads: int = 4
    mlp_ratio: int = 4
    projection_dim: int = 128
    max_length: int = MAX_LENGTH
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.25, 0.25, 0.25)

    def to_hf(self, tokenizer: PreTrainedTokenizerFast) -> CLIPConfig:
        text = dict(
            vocab_size=len(tokenizer), hidden_size=self.text_hidden, intermediate_size=self.text_hidden * self.mlp_ratio,
            num_hidden_layers=self.text_layers, num_attention_heads=self.heads, max_position_embeddings=self.max_length,
            projection_dim=self.projection_dim, hidden_act="gelu", pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        )
        vision = dict(
            hidden_size=self.vision_hidden, intermediate_size=self.vision_hidden * self.mlp_ratio,
            num_hidden_layers=self.vision_layers, num_attention_heads=self.heads, image_size=self.image_size,
            patch_size=self.patch_size, projection_dim=self.projection_dim, hidden_act="gelu",
        )
        return CLIPConfig(text_config=text, vision_config=vision, projection_dim=self.projection_dim)


def preprocessor_config(cfg: ClipSpaceConfig) -> dict:
    """CLIPImageProcessor-style preprocessing, read by every caller through ClipSpace.preprocess."""
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True, "size": {"shortest_edge": cfg.image_size},
        "do_center_crop": True, "crop_size": {"height": cfg.image_size, "width": cfg.image_size},
        "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": list(cfg.image_mean), "image_std": list(cfg.image_std),
        "do_convert_rgb": True,
    }


class ClipSpace(nn.Module):
    def __init__(self, model: CLIPModel, tokenizer: PreTrainedTokenizerFast, preprocess: dict):
        super().__init__()
        self.model, self.tokenizer, self.preprocess_config = model, tokenizer, preprocess
        self.image_size = preprocess["crop_size"]["height"]
        self.register_buffer("mean", torch.tensor(preprocess["image_mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(preprocess["image_std"]).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_config(cls, cfg: ClipSpaceConfig) -> "ClipSpace":
        tok = build_tokenizer(cfg.max_length)
        return cls(CLIPModel(cfg.to_hf(tok)), tok, preprocessor_config(cfg))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> "ClipSpace":
        from ..zoo import resolve_model_path

        path = resolve_model_path(path)
        model = CLIPModel.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
        tok = PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
        preprocess = json.loads((Path(path) / "preprocessor_config.json").read_text())
        return cls(model, tok, preprocess).eval()

    def save_pretrained(self, path: str | os.PathLike, dtype: torch.dtype | None = torch.float16) -> None:
        path = Path(path)
        model = self.model
        if dtype is not None:
            import copy

            model = copy.deepcopy(self.model).to(dtype)
        model.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))
        (path / "preprocessor_config.json").write_text(json.dumps(self.preprocess_config, indent=2) + "\n")

    @property
    def embed_dim(self) -> int:
        return self.model.config.projection_dim

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale.exp()

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> normalised model input (differentiable: GLaSS backpropagates through it)."""
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False)
        return (images - self.mean) / self.std

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """Unnormalised projected image features; differentiable."""
        return self.model.get_image_features(pixel_values=self.preprocess(images.to(self.device))).pooler_output

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids, mask = input_ids.to(self.device), attention_mask.to(self.device)
        return self.model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output

    def encode_image(self, images: torch.Tensor, batch_size: int = 256, grad: bool = False) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, D) L2-normalised. No grad unless grad=True."""
        with torch.set_grad_enabled(grad):
            feats = [self.image_features(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
            return F.normalize(torch.cat(feats), dim=-1)

    def encode_text(self, texts: list[str] | str, batch_size: int = 1024, grad: bool = False) -> torch.Tensor:
        """list of str -> (N, D) L2-normalised. Unknown words become [UNK]; long texts are truncated."""
        if isinstance(texts, str):
            texts = [texts]
        # shortest first, so that each batch is padded only to its own longest text
        order = sorted(range(len(texts)), key=lambda i: len(texts[i].split()))
        with torch.set_grad_enabled(grad):
            out = []
            for i in range(0, len(texts), batch_size):
                enc = tokenize(self.tokenizer, [texts[j] for j in order[i : i + batch_size]])
                out.append(self.text_features(enc["input_ids"], enc["attention_mask"]))
            feats = torch.cat(out)[torch.argsort(torch.tensor(order, device=self.device))]
            return F.normalize(feats, dim=-1)

    @torch.no_grad()
    def classify(self, images: torch.Tensor, labels: list[str]) -> torch.Tensor:
        """(B, len(labels)) zero-shot probabilities."""
        logits = self.logit_scale * self.encode_image(images) @ self.encode_text(labels).T
        return logits.softmax(-1)
