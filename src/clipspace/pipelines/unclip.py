"""unCLIP / DALL·E 2 (Ramesh et al., 2022): text -> prior -> CLIP image embedding -> decoder -> upsampler.

    pipe = UnclipPipeline.from_pretrained()
    out = pipe("a big blue star", num_images=4, seed=0)
    pipe.variations(image, num_images=4)                      # new decoder noise, same embedding
    pipe.interpolate(a, b, steps=8)                           # slerp of embeddings, fixed noise
    pipe.text_diff(image, "a red circle", "a blue circle")   # move along the text difference

Samplers are diffusers schedulers: DDIM or DPM-Solver++ (`scheduler="ddim" | "dpm"`).

The decoder can be a pair of expert denoisers (eDiff-I, Balaji et al., 2022): `decoder` denoises the
high-noise steps, where the layout (position, size) is decided, and `decoder_detail` takes over below the
timestep `decoder_switch`, where shapes are drawn. Each is a complete decoder of the same size, so a
step costs the same either way.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from ..io import InputError, tensor_to_pil
from ..models.clip import ClipSpace
from ..models.decoder import Decoder, Upsampler
from ..models.prior import DiffusionPrior
from ..models.prior_ar import ARPrior
from ..models.tokenizer import tokenize
from ..progress import StepInfo
from .common import (
    check_count,
    check_prompts,
    check_range,
    component_path,
    image_prompt,
    is_text,
    optional_component,
    per_image_generators,
    score_target,
    seed_for,
    slerp,
    write_model_index,
)
from .outputs import ImageOutput

SCHEDULERS = ("dpm", "ddim")


def training_scheduler(prediction_type: str, timesteps: int = 1000) -> DDPMScheduler:
    """The noise schedule every unCLIP model trains with (cosine, as the paper)."""
    return DDPMScheduler(num_train_timesteps=timesteps, beta_schedule="squaredcos_cap_v2", prediction_type=prediction_type, clip_sample=False)


def sampling_scheduler(name: str, prediction_type: str, timesteps: int = 1000):
    base = training_scheduler(prediction_type, timesteps).config
    if name == "ddim":
        return DDIMScheduler.from_config(base)
    return DPMSolverMultistepScheduler.from_config(base, algorithm_type="dpmsolver++")


@dataclass
class UnclipSettings:
    prior_guidance_scale: float = 4.0
    decoder_guidance_scale: float = 3.0
    # steps chosen on dev_prompt_sets (4 images per prompt; full match seen / held-out / two-object): 6 prior + 9
    # decoder + 6 upsampler 89.3 / 87.5 / 10.6 %, 147 ms/image at batch 16; 5 + 9 + 4: 90.0 / 92.5 / 11.3 %;
    # 4 + 9 + 4: 90.4 / 88.3 / 13.8 %. The upsampler's steps changed no oracle reading
    prior_steps: int = 5
    decoder_steps: int = 9
    upsampler_steps: int = 4
    # the upsampler starts from the bilinear 64 px image noised to this fraction of its schedule (diffusers'
    # img2img `strength`; SDEdit) rather than from pure noise: 1 runs the whole schedule. An epsilon model's first
    # steps at the cosine schedule's zero-SNR end give saturated garbage (rmse 1.19 against 0.06 from t = 500)
    upsampler_strength: float = 0.5
    scheduler: str = "dpm"
    candidates: int = 2  # prior samples per image; keep the one closest to the text (as the paper)
    # timesteps t < decoder_switch go to the detail expert when the pipeline has one (0: the layout expert alone;
    # 1000: the detail expert alone).
    # 600 kept every attribute of 97.7 % of variations of 32 val images (position 99 %, shape 98 %); 1000 (the
    # detail expert alone) kept position 12 %, 0 (the layout expert alone) kept shape 36 %
    decoder_switch: int = 600
    # classifier-free guidance only at timesteps lo <= t <= hi (guidance in a limited interval, Kynkaanniemi et
    # al. 2024); outside it a step is one conditional forward, half the cost. (0, 1000): guide every step.
    # Dev, with 5 + 9 + 4 steps: (0, 1000) 90.0 / 92.5 / 11.3 %; (0, 900) 92.5 / 90.8 / 15.0; (150, 900) 92.1 /
    # 90.8 / 16.3; (0, 800) 93.2 / 90.8 / 13.8; (250, 800) 90.0 / 86.7 / 13.1; (600, 1000) 79.3 / 76.7 (at 6 + 9 + 6)
    decoder_guidance_interval: tuple[int, int] = (0, 800)

    def validate(self) -> "UnclipSettings":
        check_range("prior_guidance_scale", self.prior_guidance_scale, 0.0, 50.0)
        check_range("decoder_guidance_scale", self.decoder_guidance_scale, 0.0, 50.0)
        if not 0.0 < self.upsampler_strength <= 1.0:
            raise InputError(f"upsampler_strength must be in (0, 1], got {self.upsampler_strength}")
        if not 0 <= self.decoder_switch <= 1000:
            raise InputError(f"decoder_switch must be a timestep in [0, 1000], got {self.decoder_switch}")
        lo, hi = self.decoder_guidance_interval
        if not 0 <= lo <= hi <= 1000:
            raise InputError(f"decoder_guidance_interval must be timesteps 0 <= lo <= hi <= 1000, got {self.decoder_guidance_interval}")
        for k in ("prior_steps", "decoder_steps", "upsampler_steps", "candidates"):
            check_count(k, getattr(self, k))
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        return self


def _guided(model_out_cond: torch.Tensor, model_out_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    return model_out_uncond + scale * (model_out_cond - model_out_uncond)


class UnclipPipeline:
    def __init__(self, clip: ClipSpace, prior: DiffusionPrior | ARPrior, decoder: Decoder, upsampler: Upsampler | None = None,
                 decoder_detail: Decoder | None = None):
        self.clip, self.prior, self.decoder = clip.eval(), prior.eval(), decoder.eval()
        self.upsampler = upsampler.eval() if upsampler is not None else None
        self.decoder_detail = decoder_detail.eval() if decoder_detail is not None else None
        if decoder_detail is not None:
            a, b = decoder.config, decoder_detail.config
            if (a.size, a.prediction_type, a.train_timesteps, a.embed_dim) != (b.size, b.prediction_type, b.train_timesteps, b.embed_dim):
                raise ValueError("decoder and decoder_detail must share size, prediction_type, train_timesteps and embed_dim")

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, clip: str = "clip", prior: str = "prior") -> "UnclipPipeline":
        """prior="prior" (diffusion, the default) or "prior-ar" (the autoregressive baseline)."""
        prior_cls = ARPrior if prior == "prior-ar" else DiffusionPrior
        return cls(
            ClipSpace.from_pretrained(component_path(path, clip)),
            prior_cls.from_pretrained(component_path(path, prior)),
            Decoder.from_pretrained(component_path(path, "decoder")),
            optional_component(Upsampler, path, "upsampler"),
            optional_component(Decoder, path, "decoder-detail"),
        )

    def save_pretrained(self, path: str | os.PathLike) -> None:
        prior_name = "prior-ar" if isinstance(self.prior, ARPrior) else "prior"
        parts = {"clip": "ClipSpace", prior_name: type(self.prior).__name__, "decoder": "Decoder"}
        self.clip.save_pretrained(os.path.join(path, "clip"))
        self.prior.save_pretrained(os.path.join(path, prior_name))
        self.decoder.save_pretrained(os.path.join(path, "decoder"))
        if self.upsampler is not None:
            self.upsampler.save_pretrained(os.path.join(path, "upsampler"))
            parts["upsampler"] = "Upsampler"
        if self.decoder_detail is not None:
            self.decoder_detail.save_pretrained(os.path.join(path, "decoder-detail"))
            parts["decoder-detail"] = "Decoder"
        write_model_index(path, "unclip", parts)

    # -- text side ---------------------------------------------------------------------------
    def encode_prompts(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unit text embeddings (B, D), token states (B, T, H) and mask (B, T), padded to the prior's length."""
        enc = tokenize(self.clip.tokenizer, prompts)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        pad = self.prior.config.max_length - ids.shape[1]
        ids = F.pad(ids, (0, pad), value=self.clip.tokenizer.pad_token_id)
        mask = F.pad(mask, (0, pad), value=0)
        out = self.clip.model.text_model(input_ids=ids, attention_mask=mask)
        emb = F.normalize(self.clip.model.text_projection(out.pooler_output), dim=-1)
        return emb, out.last_hidden_state, mask

    def sample_prior(self, prompts: list[str], negative: list[str] | None, gens: list[torch.Generator], s: UnclipSettings, callback=None) -> torch.Tensor:
        """One unit image embedding per generator (prompts repeat to match), best of `candidates`."""
        n = len(gens)
        if isinstance(self.prior, ARPrior):  # candidates of image i all draw from gens[i]; negatives steer its guidance
            c = s.candidates
            emb = F.normalize(self.clip.encode_text(prompts).mean(0, keepdim=True), dim=-1).expand(n, -1)
            uncond = F.normalize(self.clip.encode_text(negative).mean(0, keepdim=True), dim=-1).expand(n * c, -1) if negative else None
            out = self.prior.sample(emb.repeat_interleave(c, 0), [g for g in gens for _ in range(c)], s.prior_guidance_scale, uncond_emb=uncond)
            if callback is not None:
                callback(StepInfo(step=1, total=1, stage="prior"))
            out = out.view(n, c, -1)
            return out[torch.arange(n), (out * emb[:, None]).sum(-1).argmax(1)]
        emb, tokens, mask = self.encode_prompts(prompts)
        # several prompts: their mean embedding, the first prompt's tokens
        emb = F.normalize(emb.mean(0, keepdim=True), dim=-1).expand(n, -1)
        tokens, mask = tokens[:1].expand(n, -1, -1), mask[:1].expand(n, -1)
        if negative:
            u_emb, u_tok, u_mask = (x[:1].expand(n, *x.shape[1:]) for x in self.encode_prompts(negative))
        else:  # the null condition the prior was trained with
            u_emb, u_tok, u_mask = torch.zeros_like(emb), torch.zeros_like(tokens), torch.zeros_like(mask)
        # all candidates in one batch, conditional and unconditional together (one forward per step);
        # candidate c of image i draws its noise from gens[i] after candidates 0..c-1
        c = s.candidates
        x = torch.stack([torch.randn(self.prior.config.embed_dim, generator=g) for _ in range(c) for g in gens])
        x = x.view(c, n, -1).transpose(0, 1).reshape(n * c, -1)  # (n * c, D), image-major
        rep = lambda t: t.repeat_interleave(c, 0)  # noqa: E731
        emb_c, tok_c, mask_c = rep(emb), rep(tokens), rep(mask)
        guided = s.prior_guidance_scale != 1.0
        if guided:
            emb_c, tok_c, mask_c = (torch.cat([a, rep(b)]) for a, b in ((emb_c, u_emb), (tok_c, u_tok), (mask_c, u_mask)))
        sched = sampling_scheduler(s.scheduler, "sample", self.prior.config.train_timesteps)
        sched.set_timesteps(s.prior_steps)
        for i, t in enumerate(sched.timesteps):
            out = self.prior(torch.cat([x, x]) if guided else x, t.expand(len(emb_c)), emb_c, tok_c, mask_c)
            if guided:
                out = _guided(out[: n * c], out[n * c :], s.prior_guidance_scale)
            x = sched.step(out, t, x).prev_sample
            if callback is not None:
                callback(StepInfo(step=i + 1, total=s.prior_steps, stage="prior"))
        img_emb = F.normalize(self.prior.denormalize(x), dim=-1).view(n, c, -1)
        best = (img_emb * emb[:, None]).sum(-1).argmax(1)  # the candidate closest to the text, as the paper
        return img_emb[torch.arange(n), best]

    # -- image side --------------------------------------------------------------------------
    def decode(self, img_emb: torch.Tensor, gens: list[torch.Generator], s: UnclipSettings, callback=None) -> torch.Tensor:
        """(B, D) unit image embeddings -> (B, 3, 64, 64) images in [0, 1]."""
        n, size = len(img_emb), self.decoder.config.size
        sched = sampling_scheduler(s.scheduler, self.decoder.config.prediction_type, self.decoder.config.train_timesteps)
        sched.set_timesteps(s.decoder_steps)
        x = torch.stack([torch.randn(3, size, size, generator=g) for g in gens])
        null = torch.zeros_like(img_emb)
        for i, t in enumerate(sched.timesteps):
            decoder = self.decoder_detail if self.decoder_detail is not None and t < s.decoder_switch else self.decoder
            lo, hi = s.decoder_guidance_interval
            if s.decoder_guidance_scale != 1.0 and lo <= t <= hi:  # conditional and unconditional in one batch
                both = decoder(torch.cat([x, x]), t.expand(2 * n), torch.cat([img_emb, null]))
                eps = _guided(both[:n], both[n:], s.decoder_guidance_scale)
            else:
                eps = decoder(x, t.expand(n), img_emb)
            x = sched.step(eps, t, x).prev_sample
            if callback is not None:
                callback(StepInfo(step=i + 1, total=s.decoder_steps, stage="decoder"))
        low = x.clamp(-1, 1)
        if self.upsampler is None:
            return ((F.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False) + 1) / 2).clamp(0, 1)
        up = self.upsampler
        cond = up.condition(low)
        sched = sampling_scheduler(s.scheduler, up.config.prediction_type, up.config.train_timesteps)
        sched.set_timesteps(s.upsampler_steps)
        timesteps = sched.timesteps[s.upsampler_steps - max(1, round(s.upsampler_steps * s.upsampler_strength)) :]
        y = torch.stack([torch.randn(3, up.config.high, up.config.high, generator=g) for g in gens])
        if s.upsampler_strength < 1.0:
            y = sched.add_noise(cond, y, timesteps[:1])
        for i, t in enumerate(timesteps):
            y = sched.step(up(y, t.expand(n), cond), t, y).prev_sample
            if callback is not None:
                callback(StepInfo(step=i + 1, total=len(timesteps), stage="upsampler"))
        return ((y.clamp(-1, 1) + 1) / 2)

    def _output(self, images: torch.Tensor, target: torch.Tensor, label: str, seeds: list[int], s: UnclipSettings) -> ImageOutput:
        scores = (self.clip.encode_image(images) @ target).tolist()
        return ImageOutput([tensor_to_pil(x) for x in images], scores, [label] * len(images), seeds, extras={"settings": asdict(s)})

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        *,
        negative_prompt: str | list[str] | None = None,
        image=None,
        num_images: int = 1,
        seed: int | None = 0,
        generator: torch.Generator | None = None,
        callback=None,
        settings: UnclipSettings | None = None,
        **overrides,
    ) -> ImageOutput:
        """Text -> image (or, with `image` and no prompt, variations); overrides are UnclipSettings fields."""
        # 1. check inputs
        s = replace(settings or UnclipSettings(), **overrides).validate()
        images_in = image_prompt(image)
        prompts = check_prompts(prompt, allow_empty=images_in is not None)
        negatives = check_prompts(negative_prompt, allow_empty=True)
        check_count("num_images", num_images)
        base = seed_for(seed, generator)
        gens = per_image_generators(base, num_images)
        # 2. image embeddings: from the prior (text), from the image, or their mean
        parts = []
        if prompts:
            parts.append(self.sample_prior(prompts, negatives, gens, s, callback))
        if images_in is not None:
            parts.append(self.clip.encode_image(images_in).mean(0, keepdim=True).expand(num_images, -1))
        img_emb = F.normalize(torch.stack(parts).mean(0), dim=-1)
        # 3. decode and upsample
        images = self.decode(img_emb, gens, s, callback)
        target = score_target(self.clip, prompts, images_in)
        return self._output(images, target, " | ".join(prompts), [base + i for i in range(num_images)], s)

    @torch.no_grad()
    def variations(self, image, *, num_images: int = 4, seed: int = 0, **overrides) -> ImageOutput:
        return self(None, image=image, num_images=num_images, seed=seed, **overrides)

    @torch.no_grad()
    def interpolate(self, a, b, *, steps: int = 8, seed: int = 0, **overrides) -> ImageOutput:
        """Slerp between two image embeddings (text goes through the prior) with the decoder noise fixed."""
        s = replace(UnclipSettings(), **overrides).validate()
        check_count("steps", steps, 2)
        ea, eb = (self._endpoint(x, seed, s) for x in (a, b))
        embs = torch.cat([slerp(ea, eb, i / (steps - 1)) for i in range(steps)])
        gens = [torch.Generator().manual_seed(seed) for _ in range(steps)]
        images = self.decode(embs, gens, s)
        return self._output(images, ea[0], "", [seed] * steps, s)

    @torch.no_grad()
    def text_diff(self, image, source: str, target: str, *, alphas=(0.0, 0.25, 0.5, 0.75, 1.0), seed: int = 0, **overrides) -> ImageOutput:
        """Move the image embedding along normalize(text_target - text_source), as the paper's text diffs."""
        s = replace(UnclipSettings(), **overrides).validate()
        images_in = image_prompt(image)
        if images_in is None:
            raise InputError("an image is required")
        e = self.clip.encode_image(images_in[:1])
        t = self.clip.encode_text([check_prompts(source)[0], check_prompts(target)[0]])
        d = F.normalize(t[1] - t[0], dim=-1)
        embs = torch.cat([F.normalize(e + a * d, dim=-1) for a in alphas])
        images = self.decode(embs, [torch.Generator().manual_seed(seed) for _ in alphas], s)
        return self._output(images, t[1], target, [seed] * len(alphas), s)

    def _endpoint(self, x, seed: int, s: UnclipSettings) -> torch.Tensor:
        if is_text(x):
            return self.sample_prior(check_prompts(x), None, [torch.Generator().manual_seed(seed)], s)
        return self.clip.encode_image(image_prompt(x))[:1]
