"""Train the caption model on the captioned stream's text (held-out pairs never named together).

    clipspace train caption-lm --config configs/caption-lm.json [--resume]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from ..models.caption_lm import CaptionLM, CaptionLMConfig
from ..world.captions import (
    CaptionParseError,
    CaptionStyle,
    caption_scene,
    parse_caption,
)
from ..world.datasets import scene_at
from .common import RunDir

VAL_CAPTIONS = 2000


@dataclass
class CaptionLMTrainConfig:
    output_dir: str = "runs/caption-lm"
    export_dir: str | None = "zoo/caption-lm"
    seed: int = 0
    steps: int = 4000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 200
    eval_every: int = 500
    threads: int = 2
    model: dict | None = None  # CaptionLMConfig fields
    init_from: str | None = None  # a fresh run starts from this model's weights (a fine-tune on a new schedule)


def val_captions(n: int = VAL_CAPTIONS) -> list[str]:
    """Fixed validation captions (val split scenes, held-out rule on, as in training)."""
    rng = np.random.default_rng(12345)
    return [caption_scene(scene_at("val", i), rng) for i in range(n)]


@torch.no_grad()
def perplexity(lm: CaptionLM, texts: list[str], batch_size: int = 500) -> float:
    """exp(mean NLL per predicted token, [EOS] included)."""
    total, count = 0.0, 0
    for i in range(0, len(texts), batch_size):
        enc = lm.encode(texts[i : i + batch_size])
        nll = lm.token_nll(enc["input_ids"], enc["attention_mask"])
        total += nll.sum().item()
        count += enc["attention_mask"][:, 1:].sum().item()
    return math.exp(total / count)


def parse_rate(captions: list[str]) -> float:
    ok = 0
    for c in captions:
        try:
            parse_caption(c)
            ok += 1
        except CaptionParseError:
            pass
    return ok / max(len(captions), 1)


def train(cfg: CaptionLMTrainConfig, resume: bool = False, callback=None) -> CaptionLM:
    torch.set_num_threads(cfg.threads)
    run = RunDir(cfg.output_dir, cfg, resume)
    torch.manual_seed(cfg.seed)
    lm = CaptionLM.from_config(CaptionLMConfig(**(cfg.model or {})))
    opt = torch.optim.AdamW(lm.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, cfg.warmup_steps, cfg.steps, min_lr_rate=0.0)
    state = run.track(model=lm.model, optimizer=opt, scheduler=sched)
    start = state["step"] if state else 0
    if state is None and cfg.init_from:
        lm.model.load_state_dict(CaptionLM.from_pretrained(cfg.init_from).model.state_dict())
    val = val_captions()
    style = CaptionStyle()
    lm.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="caption-lm")
    for step in bar:
        rng = np.random.default_rng([cfg.seed, step])
        idx = rng.integers(0, 1_000_000_000, cfg.batch_size)
        texts = [caption_scene(scene_at("train", int(i)), rng, style) for i in idx]
        enc = lm.encode(texts)
        nll = lm.token_nll(enc["input_ids"], enc["attention_mask"])
        loss = nll.sum() / enc["attention_mask"][:, 1:].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
            run.log({"step": step, "loss": loss.item()})
        if callback is not None:
            callback(step + 1, cfg.steps)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            lm.eval()
            ppl = perplexity(lm, val)
            rate = parse_rate(lm.sample(200, generator=torch.Generator().manual_seed(0)))
            lm.train()
            run.log({"step": done, "val_perplexity": ppl, "sample_parse_rate": rate})
            bar.write(f"step {done}: val perplexity {ppl:.3f}, parse rate {rate:.3f}")
            run.save(step=done)
    lm.eval()
    run.export(lm, cfg.export_dir, cfg, "caption-lm", val_perplexity=perplexity(lm, val))
    return lm
