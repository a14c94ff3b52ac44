"""The caption model: a small transformers GPT2LMHeadModel over the CLIP tokenizer.

CLIP-GLaSS searches GPT-2's prefix for the caption that best matches an image; this is our GPT-2.

    lm = CaptionLM.from_pretrained("caption-lm")
    lm.sample(4, generator=torch.Generator().manual_seed(0))     # ["a red circle ...", ...]
    lm.log_prob(["a red circle"])                                # (1,) sum of token log-probs
    lm.continue_greedy(prefix_ids)                               # complete integer prefixes
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from .tokenizer import MAX_LENGTH, build_tokenizer, tokenize

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass
class CaptionLMConfig:
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    max_length: int = MAX_LENGTH
    dropout: float = 0.1  # GPT-2's; the stream of captions never repeats, so fine-tunes turn it off

    def to_hf(self, tok: PreTrainedTokenizerFast) -> GPT2Config:
        return GPT2Config(
            vocab_size=len(tok), n_positions=self.max_length, n_embd=self.hidden, n_layer=self.layers, n_head=self.heads,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
            resid_pdrop=self.dropout, embd_pdrop=self.dropout, attn_pdrop=self.dropout,
        )


class CaptionLM(nn.Module):
    def __init__(self, model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast):
        super().__init__()
        self.model, self.tokenizer = model, tokenizer
        self.max_length = model.config.n_positions

    @classmethod
    def from_config(cls, cfg: CaptionLMConfig) -> "CaptionLM":
        tok = build_tokenizer(cfg.max_length)
        return cls(GPT2LMHeadModel(cfg.to_hf(tok)), tok)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> "CaptionLM":
        from ..zoo import resolve_model_path

        path = resolve_model_path(path)
        model = GPT2LMHeadModel.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
        return cls(model, PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)).eval()

    def save_pretrained(self, path: str | os.PathLike, dtype: torch.dtype | None = torch.float16) -> None:
        import copy

        model = copy.deepcopy(self.model).to(dtype) if dtype is not None else self.model
        model.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))

    @property
    def vocab_size(self) -> int:
        return self.model.config.vocab_size

    def encode(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return tokenize(self.tokenizer, texts, self.max_length)

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids.tolist()]

    def token_nll(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, T-1) negative log-likelihood of each next token (0 at padding)."""
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
        nll = F.cross_entropy(logits.transpose(1, 2), input_ids[:, 1:], reduction="none")
        return nll * attention_mask[:, 1:]

    @torch.no_grad()
    def log_prob(self, texts: list[str]) -> torch.Tensor:
        """(B,) total log-probability of each text (its words and [EOS], given [BOS])."""
        enc = self.encode(texts)
        return -self.token_nll(enc["input_ids"], enc["attention_mask"]).sum(1)

    @torch.no_grad()
    def generate_ids(
        self, prefix: torch.Tensor, *, greedy: bool = True, temperature: float = 1.0, top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Continue (B, P) prefixes (starting with [BOS]) until [EOS]; returns (B, <=max_length) ids that always
        end in [EOS] (forced at max_length), so a caption re-tokenised for CLIP is never truncated."""
        ids = prefix.clone()
        done = (ids == self.tokenizer.eos_token_id).any(1)
        past = None
        step_in = ids
        while ids.shape[1] < self.max_length - 1 and not done.all():
            out = self.model(input_ids=step_in, past_key_values=past, attention_mask=torch.ones_like(ids), use_cache=True)  # rows that ended only pad
            past = out.past_key_values
            logits = out.logits[:, -1].float()
            logits[:, self.tokenizer.pad_token_id] = float("-inf")
            logits[:, self.tokenizer.bos_token_id] = float("-inf")
            if greedy:
                nxt = logits.argmax(-1)
            else:
                logits = logits / max(temperature, 1e-6)
                if top_k:
                    kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
            nxt = torch.where(done, torch.full_like(nxt, self.tokenizer.pad_token_id), nxt)
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == self.tokenizer.eos_token_id
            step_in = nxt[:, None]
        if not done.all():
            eos = torch.where(done, torch.full_like(done, self.tokenizer.pad_token_id, dtype=torch.long), self.tokenizer.eos_token_id)
            ids = torch.cat([ids, eos[:, None]], 1)
        return ids

    def continue_greedy(self, prefix: torch.Tensor) -> list[str]:
        """GLaSS's decoding: an integer prefix, then greedy continuation."""
        return self.decode(self.generate_ids(prefix, greedy=True))

    def sample(self, n: int, *, temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None) -> list[str]:
        """n unconditional captions."""
        bos = torch.full((n, 1), self.tokenizer.bos_token_id)
        return self.decode(self.generate_ids(bos, greedy=False, temperature=temperature, top_k=top_k, generator=generator))
