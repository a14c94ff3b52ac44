"""Train a zoo CLIP contrastively on the captioned stream, with hard negatives and false-negative masking.

    clipspace train clip --config configs/clip.json [--resume]

Recipe (all captions obey the held-out rule):
- a fresh caption per image per step, drawn from what the scene shows;
- `negatives_per_image` hard-negative captions per image, the true caption with one attribute changed or a
  false one added (kinds drawn by `negative_weights`: shape, color, swapped colors/shapes between two objects,
  flipped relation, size, position, background), appended to the text side of the image->text softmax.
  Position needs them most: random captions in a batch almost never differ in position alone;
- optionally (`word_loss_weight`), a bag-of-words readout on both embeddings (see WordReadout), and
  (`pair_loss_weight`) the same over the color-shape pairs the caption binds ("red circle"), a bag of bound pairs;
- in-batch captions that are also true of another image ("a red shape") are masked out of both softmaxes;
- optionally (`image_negatives`), hard-negative *images*: a two-object scene re-rendered with its objects' colors
  swapped, appended to the image side of the text->image softmax for its caption. Text-only swap negatives give
  the image encoder no gradient while the two captions embed alike (a bag of words on both sides is a saddle);
  the swapped render asks the image encoder directly which color sits on which shape;
- optionally (`detail_loss_weight`, captioning CLIPs), a detail ranking per image: the caption with one more true
  word above the caption without it above the caption with that word false (see detail_choices).
Negatives live in clip_negatives.py, losses in clip_losses.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from ..models.clip import ClipSpace, ClipSpaceConfig
from ..world.captions import (
    POSITION_PHRASES,
    CaptionStyle,
    caption_matches_scene,
    caption_text,
    choose_mentions,
)
from ..world.datasets import batch_at, cached_split, scene_at, to_tensor
from ..world.degrade import random_degrade
from ..world.render import render
from ..world.scene import COLOR_NAMES, POSITIONS, SHAPES, Scene, is_held_out
from ..zoo import resolve_model_path
from .clip_losses import (
    PAIRS,
    WordReadout,
    bag_of_words,
    bound_pairs,
    contrastive_loss,
    detail_loss,
    word_loss,
)
from .clip_negatives import (
    NEG_DEFAULT,
    detail_choices,
    hard_negative,
    swap_colors,
    swap_positions,
)
from .common import RunDir, resolve_device, step_generator


@dataclass
class ClipTrainConfig:
    output_dir: str = "runs/clip"
    export_dir: str | None = "zoo/clip"
    seed: int = 0
    num_train_scenes: int = 240_000
    steps: int = 30_000
    batch_size: int = 128
    lr: float = 7e-4
    weight_decay: float = 0.05
    warmup_steps: int = 500
    hard_negatives: bool = True
    negatives_per_image: int = 1
    # how often each kind of hard negative is drawn (normalised); position needs many: a batch of random
    # captions almost never holds two that differ only in position, so in-batch contrast does not teach it
    negative_weights: dict = field(default_factory=lambda: dict(NEG_DEFAULT))
    mask_false_negatives: bool = True
    p_clean: float = 0.75
    eval_every: int = 500
    eval_images: int = 1000
    threads: int = 2
    caption_style: dict = field(default_factory=lambda: {"p_color": 0.9, "p_shape": 0.9, "p_size": 0.6, "p_position": 0.6, "p_position_pair": 0.3, "p_background": 0.5})
    model: dict | None = None  # ClipSpaceConfig fields
    # auxiliary bag-of-words loss on both embeddings through a fixed readout (see WordReadout)
    word_loss_weight: float = 0.0
    # the same over the color-shape pairs the caption binds: "a red circle and a blue star" and its color swap share
    # every word but no pair, so a bag of words pays for it (see bound_pairs)
    pair_loss_weight: float = 0.0
    device: str = "cpu"  # "cuda", "auto", ...; checkpoints load on any device
    time_limit_s: float = 0.0  # checkpoint and stop after this many seconds of this session (0: run to the end)
    init_from: str | None = None  # warm start from a CLIP model dir (when the run dir with its checkpoint is gone)
    # fraction of two-object scenes (of two colors, caption false of the swap) that also bring their color-swapped
    # render as a hard-negative image for their caption (0: off)
    image_negatives: float = 0.0
    # of those, the fraction re-rendered with the objects' places exchanged instead of their colors (position binding)
    position_image_negatives: float = 0.0
    # weight of the detail ranking (see detail_choices): per image, the caption with one more true word above the
    # caption without it above the caption with that word false. For captioning CLIPs (0: off)
    detail_loss_weight: float = 0.0
    detail_weights: dict | None = None  # which slot a detail choice is about (size, position, color, shape, background)


def zero_shot_pairs(clip: ClipSpace, images: torch.Tensor, scenes: list[Scene]) -> dict[str, float]:
    """On one-object images: 40-way color-shape accuracy ("a {color} {shape}"), seen vs held-out pairs,
    and the 9-way position probe ("a shape in the top left", ...)."""
    labels = [(c, s) for c in COLOR_NAMES for s in SHAPES]
    emb = clip.encode_image(images)
    pred = (emb @ clip.encode_text([f"a {c} {s}" for c, s in labels]).T).argmax(-1)
    right = {"seen": [], "held_out": []}
    for p, scene in zip(pred.tolist(), scenes):
        o = scene.objects[0]
        right["held_out" if is_held_out(o.color, o.shape) else "seen"].append(labels[p] == (o.color, o.shape))
    out = {k: float(np.mean(v)) if v else float("nan") for k, v in right.items()}
    where = (emb @ clip.encode_text([f"a shape {POSITION_PHRASES[p][0]}" for p in POSITIONS]).T).argmax(-1)
    out["position"] = float(np.mean([w == s.objects[0].cell for w, s in zip(where.tolist(), scenes)]))
    return out


def color_swap_binding(clip: ClipSpace, images: torch.Tensor, scenes: list[Scene]) -> float:
    """On two-object images: how often "a {ca} {sa} and a {cb} {sb}" beats the same caption with the colors
    swapped. Pairs of one shape are left out: there the swapped caption says the same thing."""
    keep = [i for i, s in enumerate(scenes) if len(s.objects) == 2 and s.objects[0].shape != s.objects[1].shape]
    if not keep:
        return float("nan")
    pairs = [scenes[i].objects for i in keep]
    true_t = [f"a {a.color} {a.shape} and a {b.color} {b.shape}" for a, b in pairs]
    swap_t = [f"a {b.color} {a.shape} and a {a.color} {b.shape}" for a, b in pairs]
    emb = clip.encode_image(images[keep])
    return float(((emb * clip.encode_text(true_t)).sum(-1) > (emb * clip.encode_text(swap_t)).sum(-1)).float().mean())


def detail_ranking(clip: ClipSpace, emb: torch.Tensor, scenes: list[Scene], kind: str, seed: int = 0) -> float:
    """How often CLIP ranks an image's caption with one more true `kind` word (size, position, ...) above the same
    caption without it, and that above the caption with every false value of the word (detail_choices, on captions
    naming each slot half the time): whether a CLIP-guided captioner is paid for naming what is there, rightly.
    emb: the scenes' image embeddings (callers encode them once for every kind)."""
    rng = np.random.default_rng(seed)
    style = CaptionStyle(p_size=0.5, p_position=0.5, p_position_pair=0.5)
    rows, texts, sizes = [], [], []
    for i, scene in enumerate(scenes):
        choices = detail_choices(choose_mentions(scene, rng, style), scene, rng, {kind: 1.0})
        if choices is not None:
            rows.append(i)
            sizes.append(len(choices))
            texts += [caption_text(c, rng, style) for c in choices]
    if not rows:
        return float("nan")
    right = []
    for e, t in zip(emb[rows], clip.encode_text(texts).split(sizes)):
        s = t @ e
        right.append(bool(s[0] > s[1] > s[2:].max()))
    return float(np.mean(right))


def two_object_val(n: int) -> tuple[torch.Tensor, list[Scene]]:
    """Up to n two-object scenes of the val split."""
    images = np.asarray(cached_split("val", 5000))
    idx = [i for i in range(len(images)) if len(scene_at("val", i).objects) == 2][:n]
    return torch.stack([to_tensor(images[i]) for i in idx]), [scene_at("val", i) for i in idx]


def one_object_val(n: int) -> tuple[torch.Tensor, list[Scene]]:
    """n one-object scenes of the val split, a quarter of them (where there are enough) held-out pairs."""
    images = np.asarray(cached_split("val", 5000 if n >= 200 else 20 * n))
    keep, held = [], []
    for i in range(len(images)):
        s = scene_at("val", i)
        if len(s.objects) == 1:
            (held if is_held_out(s.objects[0].color, s.objects[0].shape) else keep).append(i)
    idx = sorted(held[: n // 4] + keep[: n - min(len(held), n // 4)])
    return torch.stack([to_tensor(images[i]) for i in idx]), [scene_at("val", i) for i in idx]


def train(cfg: ClipTrainConfig, resume: bool = False, callback=None) -> ClipSpace:
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    run = RunDir(cfg.output_dir, cfg, resume)
    torch.manual_seed(cfg.seed)
    clip = ClipSpace.from_config(ClipSpaceConfig(**(cfg.model or {})))
    if cfg.init_from:
        clip.model.load_state_dict(ClipSpace.from_pretrained(cfg.init_from).model.float().state_dict())
    clip.to(device)
    model = clip.model
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, cfg.warmup_steps, cfg.steps, min_lr_rate=0.05)
    word_readout = WordReadout(clip.embed_dim, len(clip.tokenizer), seed=cfg.seed).to(device)  # training only, never exported
    word_opt = torch.optim.AdamW(word_readout.parameters(), lr=cfg.lr, weight_decay=0.0)
    pair_readout = WordReadout(clip.embed_dim, len(PAIRS), seed=cfg.seed + 1).to(device)  # training only
    pair_opt = torch.optim.AdamW(pair_readout.parameters(), lr=cfg.lr, weight_decay=0.0)
    state = run.track(model=model, optimizer=opt, scheduler=sched, word_readout=word_readout, word_readout_optimizer=word_opt,
                      pair_readout=pair_readout, pair_readout_optimizer=pair_opt) or {}
    start, best = state.get("step", 0), state.get("best_score", -1.0)

    images = cached_split("train", cfg.num_train_scenes)
    style = CaptionStyle(**cfg.caption_style)
    val_images, val_scenes = one_object_val(cfg.eval_images)
    pair_images, pair_scenes = two_object_val(cfg.eval_images // 2)

    def validate() -> tuple[dict, float]:
        model.eval()
        acc = zero_shot_pairs(clip, val_images, val_scenes)
        acc["binding"] = color_swap_binding(clip, pair_images, pair_scenes)
        figures = [acc["seen"], acc["held_out"], acc["position"], acc["binding"]]
        if cfg.detail_loss_weight:  # a captioning CLIP is also chosen on what it is trained for
            both, scenes_ = clip.encode_image(torch.cat([val_images, pair_images])), val_scenes + pair_scenes
            for kind in ("size", "position"):
                acc[f"detail_{kind}"] = detail_ranking(clip, both, scenes_, kind)
                figures.append(acc[f"detail_{kind}"])
        model.train()
        return acc, sum(figures) / len(figures)

    in_place = cfg.init_from and cfg.export_dir and resolve_model_path(cfg.init_from).resolve() == Path(cfg.export_dir).resolve()
    if in_place and start == 0:  # a fine-tune into its own init dir replaces that model only with a better one
        acc, best = validate()
        run.log({"step": 0, "val_zero_shot": acc, "init_score": best})
        tqdm.write(f"init {cfg.init_from}: 40-way seen {acc['seen']:.3f} held-out {acc['held_out']:.3f}, position {acc['position']:.3f}, binding {acc['binding']:.3f}")

    model.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="clip")
    for step in bar:
        g = step_generator(cfg.seed, step)
        rng = np.random.default_rng([cfg.seed, step])
        idx = np.sort(rng.choice(cfg.num_train_scenes, cfg.batch_size, replace=False))
        x = batch_at(images, idx)
        x = random_degrade(x, g, cfg.p_clean)
        scenes = [scene_at("train", int(i)) for i in idx]
        said = [choose_mentions(s, rng, style) for s in scenes]
        texts = [caption_text(m, rng, style) for m in said]
        mask = None
        if cfg.mask_false_negatives:
            mask = torch.tensor([[i != j and caption_matches_scene(said[j], scenes[i]) for j in range(len(said))] for i in range(len(scenes))]).to(device)
        negs = [hard_negative(m, s, rng, weights=cfg.negative_weights) for _ in range(cfg.negatives_per_image) for m, s in zip(said, scenes)] if cfg.hard_negatives else []
        neg_texts = [caption_text(n, rng, style) for n in negs if n is not None]
        swapped = {i: (swap_positions(s) if cfg.position_image_negatives and rng.random() < cfg.position_image_negatives else swap_colors(s))
                   for i, s in enumerate(scenes) if cfg.image_negatives and len(s.objects) == 2 and rng.random() < cfg.image_negatives}
        owners = [i for i, s in swapped.items() if not caption_matches_scene(said[i], s)]
        if owners:
            x = torch.cat([x, random_degrade(torch.stack([to_tensor(render(swapped[i])) for i in owners]), g, cfg.p_clean)])

        img = F.normalize(clip.image_features(x), dim=-1)
        img, neg_img = img[: len(scenes)], img[len(scenes) :]
        all_txt = clip.encode_text(texts + neg_texts, batch_size=cfg.batch_size, grad=True)
        txt, neg = all_txt[: len(texts)], (all_txt[len(texts) :] if neg_texts else None)
        loss = contrastive_loss(img, txt, neg, model.logit_scale.exp().clamp(max=100), mask, neg_img, torch.tensor(owners, dtype=torch.long, device=device))
        if cfg.word_loss_weight:
            words = bag_of_words(clip, texts).to(device)
            loss = loss + cfg.word_loss_weight * (word_loss(word_readout(img), words) + word_loss(word_readout(txt), words)) / 2
        if cfg.detail_loss_weight:
            sets = [(i, c) for i, c in enumerate(detail_choices(m, s, rng, cfg.detail_weights) for m, s in zip(said, scenes)) if c]
            if sets:
                emb = clip.encode_text([caption_text(c, rng, style) for _, cs in sets for c in cs], batch_size=4 * cfg.batch_size, grad=True)
                rows = torch.tensor([i for i, _ in sets], device=device)
                loss = loss + cfg.detail_loss_weight * detail_loss(img[rows], emb, [len(cs) for _, cs in sets], model.logit_scale.exp().clamp(max=100))
        if cfg.pair_loss_weight:
            pairs = bound_pairs(said).to(device)
            loss = loss + cfg.pair_loss_weight * (word_loss(pair_readout(img), pairs) + word_loss(pair_readout(txt), pairs)) / 2
        opt.zero_grad(set_to_none=True)
        word_opt.zero_grad(set_to_none=True)
        pair_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        word_opt.step()
        pair_opt.step()
        sched.step()
        if step % 25 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", scale=f"{model.logit_scale.exp().item():.1f}")
            run.log({"step": step, "loss": loss.item(), "lr": sched.get_last_lr()[0], "logit_scale": model.logit_scale.exp().item()})
        if callback is not None:
            callback(step + 1, cfg.steps)
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            acc, score = validate()
            run.log({"step": done, "val_zero_shot": acc})
            bar.write(f"step {done}: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
            if score > best and cfg.export_dir:
                best = score
                clip.save_pretrained(cfg.export_dir)
                run.record_export(cfg.export_dir, cfg, f"clipspace train clip --config configs/{Path(cfg.export_dir).name}.json", step=done, val_zero_shot=acc)
                run.log({"step": done, "exported": cfg.export_dir, "score": score})
            run.save(step=done, best_score=best)
        if run.out_of_time(cfg.time_limit_s) and done < cfg.steps:
            run.save(step=done, best_score=best)
            bar.write(f"clip: time limit reached at step {done}; continue with --resume")
            return None
    model.eval()
    return clip.cpu()

