"""Train the image generator in three stages on training images and their scene parameters (no text):

1. synthesis: each image's scene code w (`scene_to_w`) -> synthesis, L1 on pixels and on image
   gradients, with pixels that differ from the image's own background colour (its median) weighted up;
   the encoder learns the way back (image -> w, mean squared error);
2. mapping: a Gaussian mixture over the w of training scenes (a kernel density estimate, or K
   components fitted by EM); w_avg;
3. critic: real images vs images of perturbed w, G(w + sigma n) (binary cross-entropy): the samples
   themselves are too close to real for a critic to learn from, and a search strays off the data's w.

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
from ..models.generator import Generator, GeneratorConfig, scene_to_w
from ..world.datasets import batch_at, cached_split, scene_at
from .common import RunDir, step_generator


@dataclass
class GeneratorTrainConfig:
    output_dir: str = "runs/generator"
    export_dir: str | None = "zoo/generator"
    critic_export_dir: str | None = "zoo/critic"
    seed: int = 0
    num_train_scenes: int = 240_000
    steps: int = 3000  # synthesis + encoder steps
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 100
    object_weight: float = 4.0
    gradient_loss: float = 1.0
    encoder_weight: float = 1.0  # weight of the encoder's regression loss
    w_noise: float = 0.0  # std of Gaussian noise added to the training w (robustness to off-grid w)
    mixture_images: int = 50_000
    em_iterations: int = 30
    critic_steps: int = 2000
    critic_lr: float = 5e-4
    critic_noise: float = 0.25  # fakes are G(w + critic_noise * n): the off-distribution w a search visits
    eval_every: int = 500
    eval_images: int = 256  # val scenes rendered and read by zoo/oracle at each eval (0: skip)
    threads: int = 2
    model: dict | None = None  # GeneratorConfig fields
    critic: dict | None = None  # CriticConfig fields


def scene_codes(split: str, idx) -> torch.Tensor:
    """(len(idx), W_DIM) scene codes of the given scenes of a split."""
    return torch.from_numpy(np.stack([scene_to_w(scene_at(split, int(i))) for i in idx]))


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, object_weight: float, gradient_loss: float) -> torch.Tensor:
    """Weighted L1 on pixels and finite differences; weights come from the target image alone."""
    background = target.flatten(2).median(-1).values[:, :, None, None]  # (B, 3, 1, 1): most pixels are background
    weight = 1 + object_weight * ((target - background).abs().amax(1, keepdim=True) > 0.1).float()
    loss = (weight * (pred - target).abs()).mean()
    if gradient_loss:
        for dim in (2, 3):
            loss = loss + gradient_loss * (pred.diff(dim=dim) - target.diff(dim=dim)).abs().mean()
    return loss


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
def reconstruction_match(gen: Generator, n: int, grid: str | None = None) -> dict[str, dict[str, float]]:
    """What zoo/oracle reads in n val scenes drawn by the synthesis from their scene codes ("synthesis")
    and in their inversions, synthesis(encoder(image)) ("inversion"): per-attribute and full match.
    `grid`: also write 16 val images above both as a PNG there."""
    from ..eval.metrics import load_oracle
    from ..eval.scene_accuracy import scene_accuracy

    x = batch_at(cached_split("val", n), np.arange(n))
    drawn = gen.synthesize(scene_codes("val", range(n)))
    inverted = gen.synthesize(gen.encode(x))
    if grid:
        _write_grid(torch.cat([x[:16], drawn[:16], inverted[:16]]), grid, cols=min(16, n))
    oracle, scenes = load_oracle(), [scene_at("val", i) for i in range(n)]
    return {"synthesis": scene_accuracy(oracle.read(drawn), scenes), "inversion": scene_accuracy(oracle.read(inverted), scenes)}


def _write_grid(images: torch.Tensor, path: str, cols: int) -> None:
    from pathlib import Path

    from ..io import make_grid, tensor_to_pil

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    make_grid([tensor_to_pil(x) for x in images], cols=cols).save(path)


def train(cfg: GeneratorTrainConfig, resume: bool = False, callback=None) -> Generator:
    torch.set_num_threads(cfg.threads)
    run = RunDir(cfg.output_dir, cfg, resume)
    torch.manual_seed(cfg.seed)
    gen = Generator(GeneratorConfig(**(cfg.model or {})))
    critic = Critic(CriticConfig(**(cfg.critic or {})))
    params = list(gen.synthesis.parameters()) + list(gen.encoder.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.99))
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, cfg.warmup_steps, cfg.steps, min_lr_rate=0.05)
    copt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, betas=(0.5, 0.99))
    state = run.track(generator=gen, critic=critic, optimizer=opt, scheduler=sched, critic_optimizer=copt) or {"stage": "synthesis", "step": 0}
    images = cached_split("train", cfg.num_train_scenes)

    def checkpoint(stage: str, step: int) -> None:
        run.save(stage=stage, step=step)

    # 1. synthesis (scene code -> image) and encoder (image -> scene code)
    if state["stage"] == "synthesis":
        bar = tqdm(range(state["step"], cfg.steps), initial=state["step"], total=cfg.steps, desc="generator")
        for step in bar:
            rng = np.random.default_rng([cfg.seed, step])
            idx = np.sort(rng.choice(cfg.num_train_scenes, cfg.batch_size, replace=False))
            x, w = batch_at(images, idx), scene_codes("train", idx)
            noisy = w + cfg.w_noise * torch.randn(w.shape, generator=step_generator(cfg.seed, step)) if cfg.w_noise else w
            pred = gen.synthesis(noisy[:, None].expand(-1, gen.num_ws, -1))
            image_loss = reconstruction_loss(pred, x, cfg.object_weight, cfg.gradient_loss)
            code_loss = F.mse_loss(gen.encoder(x), w)
            loss = image_loss + cfg.encoder_weight * code_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step % 50 == 0:
                bar.set_postfix(image=f"{image_loss.item():.4f}", code=f"{code_loss.item():.4f}")
                run.log({"stage": "synthesis", "step": step, "image_loss": image_loss.item(), "code_loss": code_loss.item()})
            if callback is not None:
                callback(step + 1, cfg.steps)
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                if cfg.eval_images:
                    gen.eval()
                    acc = reconstruction_match(gen, cfg.eval_images, grid=f"{cfg.output_dir}/samples/synthesis-{step + 1:06d}.png")
                    gen.train()
                    run.log({"stage": "synthesis", "step": step + 1, "oracle": acc})
                    bar.write(f"step {step + 1}: oracle full match: drawn from codes {acc['synthesis']['full_match']:.3f}, "
                              f"inverted {acc['inversion']['full_match']:.3f}")
                checkpoint("synthesis", step + 1)
        state = {"stage": "mixture", "step": 0}
        checkpoint("mixture", 0)

    # 2. mapping: a Gaussian mixture over the scene codes of training images
    if state["stage"] == "mixture":
        n = min(cfg.mixture_images, cfg.num_train_scenes)
        w = scene_codes("train", range(n))
        k = min(gen.config.num_clusters, n)
        gen.mapping.log_weights.fill_(-float("inf"))  # components beyond k (tiny runs) are never drawn
        if gen.config.mapping == "kde":
            gen.mapping.means[:k] = w[:k]
            gen.mapping.scale_tril.copy_(torch.eye(w.shape[1])[None] * gen.config.kernel_std)
            gen.mapping.log_weights[:k] = -math.log(k)
        else:
            means, tril, log_w = fit_mixture(w, k, cfg.em_iterations, step_generator(cfg.seed, 0))
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
            with torch.no_grad():
                w = gen.sample_w(cfg.batch_size // 2, g)
                fake = gen.synthesize(w + cfg.critic_noise * torch.randn(w.shape, generator=g))
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
