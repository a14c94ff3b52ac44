"""Train unCLIP's three models on the captioned stream with the zoo CLIP frozen.

    clipspace train prior     --config configs/prior.json     [--resume]
    clipspace train decoder   --config configs/decoder.json   [--resume]
    clipspace train upsampler --config configs/upsampler.json [--resume]

- prior: x0-prediction of the standardised CLIP image embedding from fresh captions (held-out rule
  on); the text is dropped (zero embedding, masked tokens) with p_uncond for classifier-free guidance;
- decoder: noise prediction at 32x32 given the image's own CLIP embedding, zeroed with p_uncond;
- upsampler: noise prediction at 64x64 given the blurred, noised 32x32 version.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from ..models.clip import ClipSpace
from ..models.decoder import Decoder, DecoderConfig, Upsampler, UpsamplerConfig
from ..models.prior import DiffusionPrior, PriorConfig
from ..models.prior_ar import ARPrior, ARPriorConfig
from ..models.tokenizer import tokenize
from ..world.captions import caption_scene
from ..world.datasets import batch_at, cached_split, scene_at
from ..world.degrade import gaussian_blur
from .common import RunDir, resolve_device, step_generator

COMPONENTS = ("prior", "prior-ar", "decoder", "upsampler")


@dataclass
class UnclipTrainConfig:
    component: str = "prior"
    output_dir: str = "runs/prior"
    export_dir: str | None = "zoo/prior"
    clip: str = "clip"
    seed: int = 0
    num_train_scenes: int = 240_000
    steps: int = 20_000
    batch_size: int = 64
    lr: float = 3e-4
    warmup_steps: int = 500
    p_uncond: float = 0.1
    ema: float = 0.999
    eval_every: int = 1000
    threads: int = 2
    device: str = "cpu"  # "cuda", "auto", ...; checkpoints load on any device
    time_limit_s: float = 0.0  # checkpoint and stop after this many seconds of this session (0: run to the end)
    init_from: str | None = None  # a fresh run starts from this zoo model's weights (fine-tuning, e.g. to v-prediction)
    crop: int = 0  # upsampler: train on random crop x crop windows of the 64 px image (0: whole); it is fully convolutional
    model: dict | None = None


def _images(cache: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """uint8 cache rows -> (B, 3, 64, 64) in [-1, 1], the diffusion models' range."""
    return batch_at(cache, idx) * 2 - 1


def _target(sched, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What an image model regresses: the noise, or v (diffusers' get_velocity) for v-prediction."""
    return sched.get_velocity(x0, noise, t) if sched.config.prediction_type == "v_prediction" else noise


@torch.no_grad()
def image_embeddings(clip: ClipSpace, cache: np.ndarray, batch: int = 500, memo: str | None = None) -> torch.Tensor:
    """CLIP embeddings of every cached image (minutes on CPU), memoised in the file `memo` when given."""
    if memo and os.path.exists(memo):
        return torch.load(memo, map_location=clip.device)
    emb = torch.cat([clip.encode_image((_images(cache, np.arange(i, min(i + batch, len(cache)))) + 1) / 2) for i in tqdm(range(0, len(cache), batch), desc="CLIP image embeddings", leave=False)])
    if memo:
        os.makedirs(os.path.dirname(memo) or ".", exist_ok=True)
        torch.save(emb.cpu(), memo + ".tmp")
        os.replace(memo + ".tmp", memo)
    return emb


def embedding_memo(clip_dir: str, split: str, n: int) -> str:
    """data/<split>-<n>-emb-<hash of the CLIP weights>.pt: a retrained CLIP never reuses old embeddings."""
    from ..zoo import resolve_model_path

    digest = hashlib.sha256(Path(resolve_model_path(clip_dir), "model.safetensors").read_bytes()).hexdigest()[:12]
    return os.path.join(os.environ.get("CLIPSPACE_DATA", "data"), f"{split}-{n}-emb-{digest}.pt")


def build(cfg: UnclipTrainConfig, clip: ClipSpace):
    m = cfg.model or {}
    if cfg.component == "prior":
        return DiffusionPrior(PriorConfig(**{"embed_dim": clip.embed_dim, "text_hidden": clip.model.config.text_config.hidden_size,
                                             "max_length": clip.tokenizer.model_max_length, **m}))
    if cfg.component == "prior-ar":
        return ARPrior(ARPriorConfig(**{"embed_dim": clip.embed_dim, **m}))
    if cfg.component == "decoder":
        return Decoder(DecoderConfig(**{"embed_dim": clip.embed_dim, **m}))
    return Upsampler(UpsamplerConfig(**m))


def train(cfg: UnclipTrainConfig, resume: bool = False, callback=None):
    from ..pipelines.unclip import training_scheduler

    if cfg.component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, got {cfg.component!r}")
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    run = RunDir(cfg.output_dir, cfg, resume)
    clip = ClipSpace.from_pretrained(cfg.clip).eval().to(device)
    torch.manual_seed(cfg.seed)
    model = build(cfg, clip).to(device)
    ema = build(cfg, clip).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    sched_noise = training_scheduler("sample" if cfg.component == "prior" else getattr(model.config, "prediction_type", "epsilon"), getattr(model.config, "train_timesteps", 1000))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, cfg.warmup_steps, cfg.steps, min_lr_rate=0.05)
    state = run.track(model=model, ema=ema, optimizer=opt, scheduler=sched)
    start = state["step"] if state else 0
    if state is None and cfg.init_from:
        init = type(model).from_pretrained(cfg.init_from)
        model.load_state_dict(init.state_dict())  # same weights whatever the prediction type (it lives in the config)
        ema.load_state_dict(model.state_dict())
    cache = cached_split("train", cfg.num_train_scenes)
    need_emb = cfg.component != "upsampler" and start < cfg.steps
    emb_all = image_embeddings(clip, cache, memo=embedding_memo(cfg.clip, "train", cfg.num_train_scenes)) if need_emb else None
    if state is None and cfg.component == "prior":  # standardise image embeddings with data statistics
        model.emb_mean.copy_(emb_all.mean(0))
        model.emb_std.copy_(emb_all.std(0).clamp_min(1e-4))
        ema.load_state_dict(model.state_dict())
    elif state is None and cfg.component == "prior-ar":  # PCA and quantile bins from the data
        model.fit_codebook(emb_all)
        ema.load_state_dict(model.state_dict())

    model.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=cfg.component)
    for step in bar:
        g = step_generator(cfg.seed, step)
        rng = np.random.default_rng([cfg.seed, step])
        idx = np.sort(rng.choice(cfg.num_train_scenes, cfg.batch_size, replace=False))
        t = torch.randint(0, sched_noise.config.num_train_timesteps, (cfg.batch_size,), generator=g).to(device)
        drop = (torch.rand(cfg.batch_size, generator=g) < cfg.p_uncond).to(device)
        if cfg.component == "prior-ar":
            texts = [caption_scene(scene_at("train", int(i)), rng) for i in idx]
            with torch.no_grad():
                temb = clip.encode_text(texts).masked_fill(drop[:, None], 0.0)
            loss = model.loss(temb, emb_all[idx])
        elif cfg.component == "prior":
            x0 = model.normalize(emb_all[idx])
            texts = [caption_scene(scene_at("train", int(i)), rng) for i in idx]
            with torch.no_grad():
                enc = {k: v.to(device) for k, v in tokenize(clip.tokenizer, texts, model.config.max_length).items()}
                ids = F.pad(enc["input_ids"], (0, model.config.max_length - enc["input_ids"].shape[1]), value=clip.tokenizer.pad_token_id)
                mask = F.pad(enc["attention_mask"], (0, model.config.max_length - enc["attention_mask"].shape[1]))
                out = clip.model.text_model(input_ids=ids, attention_mask=mask)
                temb = F.normalize(clip.model.text_projection(out.pooler_output), dim=-1)
                tokens = out.last_hidden_state
            temb = temb.masked_fill(drop[:, None], 0.0)
            tokens = tokens.masked_fill(drop[:, None, None], 0.0)
            mask = mask.masked_fill(drop[:, None], 0)
            noise = torch.randn(x0.shape, generator=g).to(device)
            pred = model(sched_noise.add_noise(x0, noise, t), t, temb, tokens, mask)
            loss = F.mse_loss(pred, x0)
        elif cfg.component == "decoder":
            x0 = F.interpolate(_images(cache, idx).to(device), size=(model.config.size,) * 2, mode="area")
            emb = emb_all[idx].masked_fill(drop[:, None], 0.0)
            noise = torch.randn(x0.shape, generator=g).to(device)
            loss = F.mse_loss(model(sched_noise.add_noise(x0, noise, t), t, emb), _target(sched_noise, x0, noise, t))
        else:
            x0 = _images(cache, idx).to(device)
            low = F.interpolate(x0, size=(model.config.low,) * 2, mode="area")
            low = gaussian_blur((low + 1) / 2, (torch.rand(cfg.batch_size, generator=g) * model.config.aug_blur).to(device)) * 2 - 1
            low = low + (torch.randn(low.shape, generator=g) * model.config.aug_noise * torch.rand(cfg.batch_size, 1, 1, 1, generator=g)).to(device)
            cond = model.condition(low)
            if cfg.crop:  # the same random window of target and condition (DALL-E 2 trains its upsamplers on crops)
                oy, ox = (int(v) for v in torch.randint(0, x0.shape[-1] - cfg.crop + 1, (2,), generator=g))
                x0, cond = (a[:, :, oy : oy + cfg.crop, ox : ox + cfg.crop] for a in (x0, cond))
            noise = torch.randn(x0.shape, generator=g).to(device)
            loss = F.mse_loss(model(sched_noise.add_noise(x0, noise, t), t, cond), _target(sched_noise, x0, noise, t))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - cfg.ema)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            run.log({"step": step, "loss": loss.item()})
        if callback is not None:
            callback(step + 1, cfg.steps)
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            run.save(step=step + 1)
        if run.out_of_time(cfg.time_limit_s) and step + 1 < cfg.steps:
            run.save(step=step + 1)
            bar.write(f"{cfg.component}: time limit reached at step {step + 1}; continue with --resume")
            run.export(ema.cpu(), cfg.export_dir, cfg, cfg.component, device=str(device), step=step + 1, partial=True)
            return None
    run.export(ema.cpu(), cfg.export_dir, cfg, cfg.component, device=str(device), step=cfg.steps)
    return ema.eval()
