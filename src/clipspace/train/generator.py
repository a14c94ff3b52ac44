"""Train the image generator in three stages, on images alone (every color-shape pair):

1. autoencoder: encoder -> w -> synthesis, L1 on pixels and on image gradients, with pixels that differ
   from the image's own background color (its median) weighted up, since shape is learned last; plus
   an optional perceptual loss on the patch tokens of a frozen CLIP vision tower (zoo/clip), which
   tells shapes apart long before pixel L1 does (LPIPS-style, with the network this world has);
2. mapping: a Gaussian mixture fitted by EM to the encoder's w of training images; w_avg;
3. critic: real images vs generator samples (binary cross-entropy).

    clipspace train generator --config configs/generator.json [--resume]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import get_cosine_with_min_lr_schedule_with_warmup

from ..models.critic import Critic, CriticConfig
from ..models.generator import Generator, GeneratorConfig
from ..world.datasets import batch_at, cached_split, scene_at
from .common import RunDir, step_generator


@dataclass
class GeneratorTrainConfig:
    output_dir: str = "runs/generator"
    export_dir: str | None = "zoo/generator"
    critic_export_dir: str | None = "zoo/critic"
    seed: int = 0
    num_train_scenes: int = 240_000
    ae_steps: int = 20_000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 300
    object_weight: float = 4.0
    gradient_loss: float = 1.0
    perceptual_weight: float = 0.0  # weight of the CLIP patch-token loss (0: pixels only)
    perceptual_clip: str = "clip"  # zoo name or path of the frozen CLIP it reads
    mixture_images: int = 50_000
    em_iterations: int = 30
    critic_steps: int = 2000
    critic_lr: float = 5e-4
    eval_every: int = 1000
    eval_images: int = 256  # val images reconstructed and read by zoo/oracle at each eval (0: skip)
    threads: int = 2
    model: dict | None = None  # GeneratorConfig fields
    critic: dict | None = None  # CriticConfig fields


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, object_weight: float, gradient_loss: float) -> torch.Tensor:
    """Weighted L1 on pixels and finite differences; weights come from the target image alone."""
    background = target.flatten(2).median(-1).values[:, :, None, None]  # (B, 3, 1, 1): most pixels are background
    weight = 1 + object_weight * ((target - background).abs().amax(1, keepdim=True) > 0.1).float()
    loss = (weight * (pred - target).abs()).mean()
    if gradient_loss:
        for dim in (2, 3):
            loss = loss + gradient_loss * (pred.diff(dim=dim) - target.diff(dim=dim)).abs().mean()
    return loss


class PerceptualLoss(torch.nn.Module):
    """MSE between layer-normalised patch tokens of a frozen CLIP vision tower (LPIPS-style)."""

    def __init__(self, clip_path: str):
        super().__init__()
        from ..models.clip import ClipSpace
        from ..zoo import resolve_model_path

        self.clip = ClipSpace.from_pretrained(resolve_model_path(clip_path)).float().eval().requires_grad_(False)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        h = self.clip.model.vision_model(pixel_values=self.clip.preprocess(images)).last_hidden_state
        return F.layer_norm(h, h.shape[-1:])

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t = self.tokens(target)
        return F.mse_loss(self.tokens(pred), t)


def _kmeans_pp(w: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each new centre drawn with probability proportional to squared distance."""
    centres = [w[torch.randint(len(w), (1,), generator=generator)].squeeze(0)]
    d2 = (w - centres[0]).pow(2).sum(1)
    for _ in range(k - 1):
        c = w[torch.multinomial(d2 + 1e-12, 1, generator=generator)].squeeze(0)
        centres.append(c)
        d2 = torch.minimum(d2, (w - c).pow(2).sum(1))
    return torch.stack(centres)


@torch.no_grad()
def fit_mixture(w: torch.Tensor, k: int, iterations: int, generator: torch.Generator, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM for a full-covariance Gaussian mixture; returns means (K, D), scale_tril (K, D, D), log_weights (K).

    Points go through in chunks (one (N, K, D) tensor is 3 GB at N=50k, K=256, D=64) and every step is a
    batched matmul; the data are centred first so that the M-step's E_k[w w^T] - mu_k mu_k^T keeps its
    precision in float32.
    """
    N, D = w.shape
    centre = w.mean(0)
    w = w - centre
    means = _kmeans_pp(w, k, generator)
    cov = torch.cov(w.T)[None].repeat(k, 1, 1)
    log_pi = torch.full((k,), -math.log(k))
    eye = torch.eye(D) * 1e-4
    for _ in range(iterations):
        L = torch.linalg.cholesky(cov + eye)
        L_inv = torch.linalg.solve_triangular(L, torch.eye(D).expand(k, D, D), upper=False)  # (K, D, D)
        const = log_pi - torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1) - 0.5 * D * math.log(2 * math.pi)
        b = torch.einsum("kij,kj->ki", L_inv, means)  # L^-1 mu_k
        nk, s1, s2 = torch.zeros(k), torch.zeros(k, D), torch.zeros(k, D, D)
        for a in range(0, N, chunk):
            x = w[a : a + chunk]
            z = torch.matmul(L_inv, x.T[None]) - b[:, :, None]  # (K, D, n) = L^-1 (x - mu_k)
            resp = torch.softmax(const[:, None] - 0.5 * z.pow(2).sum(1), dim=0)  # (K, n)
            nk += resp.sum(1)
            s1 += resp @ x
            s2 += torch.matmul(resp[:, None, :] * x.T[None], x)  # (K, D, D)
        nk = nk + 1e-6
        log_pi = torch.log(nk / N)
        means = s1 / nk[:, None]
        cov = s2 / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        cov = 0.5 * (cov + cov.transpose(1, 2))
    return means + centre, torch.linalg.cholesky(cov + eye), log_pi


@torch.no_grad()
def reconstruction_match(gen: Generator, n: int, grid: str | None = None) -> dict[str, float]:
    """What zoo/oracle reads in the autoencoder's reconstructions of n val images: per-attribute and full
    match. `grid`: also write 16 val images above their reconstructions as a PNG there."""
    from ..eval.metrics import load_oracle
    from ..eval.scene_accuracy import scene_accuracy

    x = batch_at(cached_split("val", n), np.arange(n))
    recon = gen.synthesize(gen.encode(x))
    if grid:
        _write_grid(torch.cat([x[:16], recon[:16]]), grid, cols=min(16, n))
    return scene_accuracy(load_oracle().read(recon), [scene_at("val", i) for i in range(n)])


def _write_grid(images: torch.Tensor, path: str, cols: int) -> None:
    from pathlib import Path

    from ..io import make_grid, tensor_to_pil

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    make_grid([tensor_to_pil(x) for x in images], cols=cols).save(path)


def train(cfg: GeneratorTrainConfig, resume: bool = False, callback=None) -> Generator:
    torch.set_num_threads(cfg.threads)
    run = RunDir(cfg.output_dir, cfg, resume)
    torch.manual_seed(cfg.seed)
    gen = Generator(GeneratorConfig(**(cfg.model or {}))).to(memory_format=torch.channels_last)  # ~25 % faster convs on CPU
    critic = Critic(CriticConfig(**(cfg.critic or {})))
    params = list(gen.synthesis.parameters()) + list(gen.encoder.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.99))
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, cfg.warmup_steps, cfg.ae_steps, min_lr_rate=0.0)
    copt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, betas=(0.5, 0.99))
    state = run.track(generator=gen, critic=critic, optimizer=opt, scheduler=sched, critic_optimizer=copt) or {"stage": "ae", "step": 0}
    images = cached_split("train", cfg.num_train_scenes)
    perceptual = PerceptualLoss(cfg.perceptual_clip) if cfg.perceptual_weight else None

    def checkpoint(stage: str, step: int) -> None:
        run.save(stage=stage, step=step)

    # 1. autoencoder
    if state["stage"] == "ae":
        bar = tqdm(range(state["step"], cfg.ae_steps), initial=state["step"], total=cfg.ae_steps, desc="generator ae")
        for step in bar:
            rng = np.random.default_rng([cfg.seed, step])
            x = batch_at(images, np.sort(rng.choice(cfg.num_train_scenes, cfg.batch_size, replace=False)))
            x = x.contiguous(memory_format=torch.channels_last)
            pred = gen.synthesis(gen.encoder(x)[:, None].expand(-1, gen.num_ws, -1))
            loss = reconstruction_loss(pred, x, cfg.object_weight, cfg.gradient_loss)
            if perceptual is not None:
                loss = loss + cfg.perceptual_weight * perceptual(pred, x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
                run.log({"stage": "ae", "step": step, "loss": loss.item()})
            if callback is not None:
                callback(step + 1, cfg.ae_steps)
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.ae_steps:
                if cfg.eval_images:
                    gen.eval()
                    acc = reconstruction_match(gen, cfg.eval_images, grid=f"{cfg.output_dir}/samples/ae-{step + 1:06d}.png")
                    gen.train()
                    run.log({"stage": "ae", "step": step + 1, "reconstruction": acc})
                    bar.write(f"step {step + 1}: oracle reads reconstructions: full match {acc['full_match']:.3f}, shape {acc['shape']:.3f}")
                checkpoint("ae", step + 1)
        state = {"stage": "mixture", "step": 0}
        checkpoint("mixture", 0)

    # 2. mapping: mixture over the encoder's latents
    if state["stage"] == "mixture":
        n = min(cfg.mixture_images, cfg.num_train_scenes)
        with torch.no_grad():
            w = torch.cat([gen.encoder(batch_at(images, np.arange(i, min(i + 500, n)))) for i in range(0, n, 500)])
        k = min(gen.config.num_clusters, n)
        means, tril, log_w = fit_mixture(w, k, cfg.em_iterations, step_generator(cfg.seed, 0))
        gen.mapping.log_weights.fill_(-float("inf"))  # clusters beyond k (tiny runs) are never drawn
        gen.mapping.means[:k] = means
        gen.mapping.scale_tril[:k] = tril
        gen.mapping.log_weights[:k] = log_w
        gen.w_avg.copy_(w.mean(0))
        run.log({"stage": "mixture", "clusters": k, "latents": n})
        state = {"stage": "critic", "step": 0}
        checkpoint("critic", 0)

    # 3. critic: real vs generated
    if state["stage"] == "critic":
        bar = tqdm(range(state["step"], cfg.critic_steps), initial=state["step"], total=cfg.critic_steps, desc="critic")
        for step in bar:
            g = step_generator(cfg.seed + 1, step)
            rng = np.random.default_rng([cfg.seed + 1, step])
            real = batch_at(images, np.sort(rng.choice(cfg.num_train_scenes, cfg.batch_size // 2, replace=False)))
            fake = gen.sample(cfg.batch_size // 2, g)
            logits = critic(torch.cat([real, fake]))
            target = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
            loss = F.binary_cross_entropy_with_logits(logits, target)
            copt.zero_grad(set_to_none=True)
            loss.backward()
            copt.step()
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
                run.log({"stage": "critic", "step": step, "loss": loss.item()})
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.critic_steps:
                checkpoint("critic", step + 1)
        checkpoint("done", 0)
        _write_grid(gen.sample(64, step_generator(cfg.seed + 2, 0)), f"{cfg.output_dir}/samples/generator-psi1.png", cols=8)

    run.export(gen, cfg.export_dir, cfg, "generator")
    run.export(critic, cfg.critic_export_dir, cfg, "generator")
    return gen.eval()
