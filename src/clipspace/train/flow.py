"""Train CLIP-Flow on (w, e) pairs from the zoo generator and CLIP, plus its text aligner and the MLP baseline.

    clipspace train flow --config configs/flow.json [--resume]

1. pairs: w = mapping(z), e = CLIP image embedding of G(w), seeded, cached in the run dir;
2. flow: maximum likelihood of w (dequantised: plus a little Gaussian noise) given e, with the condition
   noise-augmented and re-normalised (e' = normalize(e + sigma * n)), so that nearby text embeddings
   land in its support;
3. aligner: a residual MLP from CLIP text embeddings of captions (held-out rule on) to the image
   embeddings of their scenes — the second answer to the modality gap;
4. baseline: an MLP regression e -> w on the same pairs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from ..models.clip import ClipSpace
from ..models.flow import ClipFlow, FlowConfig, RegressorConfig, WRegressor
from ..models.generator import Generator
from ..world.captions import caption_scene
from ..world.datasets import cached_split, scene_at, to_tensor
from .common import RunDir, step_generator


@dataclass
class FlowTrainConfig:
    output_dir: str = "runs/flow"
    export_dir: str | None = "zoo/flow"
    baseline_export_dir: str | None = "zoo/flow-baseline"
    generator: str = "generator"
    clip: str = "clip"
    seed: int = 0
    num_pairs: int = 100_000
    val_pairs: int = 2000
    steps: int = 10_000
    batch_size: int = 256
    lr: float = 5e-4
    warmup_steps: int = 200
    cond_noise: float = 0.1
    w_noise: float = 0.02  # dequantisation: Gaussian noise on w (the generator's w has one-hot parts)
    aligner_steps: int = 3000
    aligner_scenes: int = 50_000
    baseline_steps: int = 5000
    eval_every: int = 1000
    threads: int = 2
    model: dict | None = None  # FlowConfig fields


@torch.no_grad()
def make_pairs(gen: Generator, clip: ClipSpace, n: int, seed: int, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ws, es = [], []
    for i in tqdm(range(0, n, batch), desc="pairs", leave=False):
        w = gen.sample_w(min(batch, n - i), g)
        ws.append(w)
        es.append(clip.encode_image(gen.synthesize(w)))
    return torch.cat(ws), torch.cat(es)


def noisy_condition(e: torch.Tensor, sigma: float, g: torch.Generator) -> torch.Tensor:
    return F.normalize(e + sigma * torch.randn(e.shape, generator=g), dim=-1) if sigma > 0 else e


def train(cfg: FlowTrainConfig, resume: bool = False, callback=None) -> ClipFlow:
    torch.set_num_threads(cfg.threads)
    run = RunDir(cfg.output_dir, cfg, resume)
    gen = Generator.from_pretrained(_zoo(cfg.generator)).eval()
    clip = ClipSpace.from_pretrained(_zoo(cfg.clip)).eval()
    torch.manual_seed(cfg.seed)
    mcfg = FlowConfig(**{"w_dim": gen.w_dim, "cond_dim": clip.embed_dim, **(cfg.model or {})})
    flow = ClipFlow(mcfg)
    baseline = WRegressor(RegressorConfig(w_dim=gen.w_dim, cond_dim=clip.embed_dim))
    opt = torch.optim.Adam([p for n, p in flow.named_parameters() if not n.startswith("aligner")], lr=cfg.lr)
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, cfg.warmup_steps, cfg.steps, min_lr_rate=0.0)
    state = run.track(flow=flow, baseline=baseline, optimizer=opt, scheduler=sched) or {"stage": "flow", "step": 0}

    pairs_file = Path(cfg.output_dir) / "pairs.pt"
    key = _pairs_key(cfg, _zoo(cfg.generator), _zoo(cfg.clip))  # the cache is reused only for the same models, seed, count
    cached = torch.load(pairs_file) if pairs_file.exists() else None
    if isinstance(cached, dict) and cached.get("key") == key:
        w_all, e_all = cached["w"], cached["e"]
    else:
        w_all, e_all = make_pairs(gen, clip, cfg.num_pairs + cfg.val_pairs, cfg.seed)
        torch.save({"key": key, "w": w_all, "e": e_all}, pairs_file)
    w_val, e_val = w_all[-cfg.val_pairs :], e_all[-cfg.val_pairs :]
    w_tr, e_tr = w_all[: -cfg.val_pairs], e_all[: -cfg.val_pairs]

    def checkpoint(stage: str, step: int) -> None:
        run.save(stage=stage, step=step)

    # 1. the flow: maximum likelihood of w given a noise-augmented e
    if state["stage"] == "flow":
        bar = tqdm(range(state["step"], cfg.steps), initial=state["step"], total=cfg.steps, desc="flow")
        for step in bar:
            g = step_generator(cfg.seed, step)
            idx = torch.randint(len(w_tr), (cfg.batch_size,), generator=g)
            w = w_tr[idx]
            w = w + cfg.w_noise * torch.randn(w.shape, generator=g)
            loss = flow.nll(w, noisy_condition(e_tr[idx], cfg.cond_noise, g)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
            opt.step()
            sched.step()
            if step % 50 == 0:
                bar.set_postfix(nll=f"{loss.item():.3f}")
                run.log({"stage": "flow", "step": step, "nll": loss.item()})
            if callback is not None:
                callback(step + 1, cfg.steps)
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                with torch.no_grad():
                    val = flow.nll(w_val, e_val).mean().item()
                run.log({"stage": "flow", "step": step + 1, "val_nll": val})
                bar.write(f"step {step + 1}: val NLL {val:.4f} nats/dim")
                checkpoint("flow", step + 1)
        checkpoint("aligner", 0)
        state = {"stage": "aligner"}

    # 2. the text -> image-embedding aligner, on real captioned scenes
    if state["stage"] == "aligner" and flow.aligner is not None:
        images = np.asarray(cached_split("train", cfg.aligner_scenes))
        with torch.no_grad():
            img_emb = torch.cat([clip.encode_image(torch.stack([to_tensor(im) for im in images[i : i + 500]])) for i in range(0, len(images), 500)])
        aopt = torch.optim.Adam(flow.aligner.parameters(), lr=1e-3)
        for step in tqdm(range(cfg.aligner_steps), desc="aligner"):
            rng = np.random.default_rng([cfg.seed, 7, step])
            idx = rng.integers(0, len(images), 256)
            with torch.no_grad():
                t = clip.encode_text([caption_scene(scene_at("train", int(i)), rng) for i in idx])
            loss = (1 - (flow.aligner(t) * img_emb[idx]).sum(-1)).mean()
            aopt.zero_grad(set_to_none=True)
            loss.backward()
            aopt.step()
            if step % 100 == 0:
                run.log({"stage": "aligner", "step": step, "loss": loss.item()})
        checkpoint("baseline", 0)
        state = {"stage": "baseline"}

    # 3. the baseline: MLP regression e -> w on the same pairs
    if state["stage"] in ("aligner", "baseline"):
        bopt = torch.optim.Adam(baseline.parameters(), lr=1e-3)
        for step in tqdm(range(cfg.baseline_steps), desc="baseline"):
            g = step_generator(cfg.seed + 2, step)
            idx = torch.randint(len(w_tr), (cfg.batch_size,), generator=g)
            loss = F.mse_loss(baseline(noisy_condition(e_tr[idx], cfg.cond_noise, g)), w_tr[idx])
            bopt.zero_grad(set_to_none=True)
            loss.backward()
            bopt.step()
            if step % 100 == 0:
                run.log({"stage": "baseline", "step": step, "mse": loss.item()})
        with torch.no_grad():
            run.log({"stage": "baseline", "val_mse": F.mse_loss(baseline(e_val), w_val).item()})
        checkpoint("done", 0)

    run.export(flow, cfg.export_dir, cfg, "flow")
    run.export(baseline, cfg.baseline_export_dir, cfg, "flow")
    return flow.eval()


def _zoo(name: str):
    from ..zoo import resolve_model_path

    return resolve_model_path(name)


def _pairs_key(cfg: FlowTrainConfig, *model_dirs: Path) -> str:
    import hashlib

    h = hashlib.sha1(f"{cfg.seed}:{cfg.num_pairs}:{cfg.val_pairs}".encode())
    for d in model_dirs:
        for f in sorted(Path(d).glob("*.safetensors")):
            h.update(f.read_bytes())
    return h.hexdigest()
