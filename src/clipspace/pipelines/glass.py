"""CLIP-GLaSS (Galatolo et al., 2021): evolutionary search through CLIP space.

Text -> image: search the generator's latent (z, w or w+) so that CLIP's embedding of the image matches
the target (prompts, weighted prompts, negative prompts, image prompts). Image -> text: search the
caption model's prefix (GA, as the paper) or decode with CLIP re-ranking (fast).

    pipe = GlassPipeline.from_pretrained()            # the zoo
    out = pipe("a small red circle", num_images=2, seed=0)
    out.images, out.scores, out.history
    pipe.caption(images).captions
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

import torch

from ..io import InputError, tensor_to_pil
from ..models.caption_lm import CaptionLM
from ..models.clip import ClipSpace
from ..models.critic import Critic
from ..models.generator import Generator
from ..search import (
    LATENT_SPACES,
    OPTIMIZERS,
    ClipTarget,
    GlassProblem,
    LatentSpace,
    SearchConfig,
    run_search,
)
from ..search.regions import RegionReader
from ..search.text import guided_decode, prefix_search
from .common import (
    check_count,
    check_prompts,
    check_range,
    component_path,
    image_prompt,
    optional_component,
    score_target,
    seed_for,
    write_model_index,
)
from .outputs import ImageOutput, TextOutput

CAPTION_DECODERS = ("ga", "guided")


@dataclass
class GlassSettings:
    """Search knobs of text/image -> image; the defaults are the ones the README's table measures."""

    optimizer: str = "ga"  # the paper's; with snap, on the dev prompts: full match 88 / 92 % at 2.8 s against CMA-ES 56 / 67 % at 4.7 s
    generations: int = 24
    population: int = 32
    latent: str = "w"
    psi: float = 1.0
    aug: int = 0  # AugCLIP views per candidate (0 = off)
    snap: bool = True  # draw each candidate as its nearest scene code (LatentSpace.snap); dev: full match 56 / 67 % against 38 / 17 % off
    sigma: float = 0.5
    lr: float = 0.05
    negative_weight: float = 0.5

    def validate(self) -> "GlassSettings":
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.latent not in LATENT_SPACES:
            raise InputError(f"latent must be one of {', '.join(LATENT_SPACES)}, got {self.latent!r}")
        check_count("generations", self.generations)
        check_count("population", self.population, 2)
        check_count("aug", self.aug, 0)
        check_range("psi", self.psi, 0.01, 2.0)
        check_range("negative_weight", self.negative_weight, 0.0, 10.0)
        return self


class GlassPipeline:
    def __init__(self, generator: Generator | None, clip: ClipSpace, critic: Critic | None = None, caption_lm: CaptionLM | None = None,
                 caption_clip: ClipSpace | None = None):
        """generator may be None for a captioning-only pipeline; caption_lm None for images only. caption_clip: the
        CLIP that judges captions (image -> text), when it is not `clip` (zoo/clip-caption, trained on dense captions)."""
        self.generator = generator.eval() if generator is not None else None
        self.clip, self.critic, self.caption_lm = clip.eval(), critic, caption_lm
        self.caption_clip = caption_clip.eval() if caption_clip is not None else None

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, clip: str = "clip", caption_clip: str | None = "clip-caption") -> "GlassPipeline":
        """Components from a pipeline dir (generator/, clip/, critic/, caption-lm/, clip-caption/) or from the zoo;
        caption_clip=None captions with `clip` itself."""
        clip_model = ClipSpace.from_pretrained(component_path(path, clip))
        gen, critic, lm = (optional_component(cls_, path, name) for cls_, name in ((Generator, "generator"), (Critic, "critic"), (CaptionLM, "caption-lm")))
        if gen is None and lm is None:
            raise FileNotFoundError("glass needs zoo/generator (text -> image) or zoo/caption-lm (image -> text); neither is there")
        judge = optional_component(ClipSpace, path, caption_clip) if caption_clip and lm is not None else None
        return cls(gen, clip_model, critic, lm, judge)

    def save_pretrained(self, path: str | os.PathLike) -> None:
        self.clip.save_pretrained(os.path.join(path, "clip"))
        parts = {"clip": "ClipSpace"}
        if self.generator is not None:
            self.generator.save_pretrained(os.path.join(path, "generator"))
            parts["generator"] = "Generator"
        if self.critic is not None:
            self.critic.save_pretrained(os.path.join(path, "critic"))
            parts["critic"] = "Critic"
        if self.caption_lm is not None:
            self.caption_lm.save_pretrained(os.path.join(path, "caption-lm"))
            parts["caption-lm"] = "CaptionLM"
        if self.caption_clip is not None:
            self.caption_clip.save_pretrained(os.path.join(path, "clip-caption"))
            parts["clip-caption"] = "ClipSpace"
        write_model_index(path, "glass", parts)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        *,
        prompt_weights: list[float] | None = None,
        negative_prompt: str | list[str] | None = None,
        image=None,
        num_images: int = 1,
        seed: int | None = 0,
        generator: torch.Generator | None = None,
        callback=None,
        preview: bool = False,
        settings: GlassSettings | None = None,
        **overrides,
    ) -> ImageOutput:
        """Search one latent per image; `overrides` are GlassSettings fields (optimizer="ga", ...).

        Several prompts are one target, their embeddings averaged with `prompt_weights` (equal by default).
        """
        # 1. check inputs
        if self.generator is None:
            raise InputError("text/image -> image needs the generator (zoo/generator)")
        settings = replace(settings or GlassSettings(), **overrides).validate()
        images_in = image_prompt(image)
        prompts = check_prompts(prompt, allow_empty=images_in is not None)
        if prompt_weights is not None and (len(prompt_weights) != len(prompts) or any(not w > 0 for w in prompt_weights)):
            raise InputError(f"prompt_weights needs one positive weight per prompt ({len(prompts)}), got {prompt_weights}")
        negatives = check_prompts(negative_prompt, allow_empty=True)
        check_count("num_images", num_images)
        if settings.optimizer == "nsga2" and self.critic is None:
            raise InputError("nsga2 needs the realism critic (zoo/critic)")
        base_seed = seed_for(seed, generator)
        # 2. encode the target
        target = ClipTarget.build(self.clip, prompts, prompt_weights, negatives, settings.negative_weight, images_in)
        space = LatentSpace(self.generator, settings.latent, settings.psi, settings.snap)
        search = SearchConfig(settings.optimizer, settings.generations, settings.population, settings.sigma, settings.lr)
        # 3. search, one run per image
        out_images, scores, history, seeds, fronts, evaluations = [], [], [], [], [], []
        for i in range(num_images):
            s = base_seed + i
            critic = self.critic if settings.optimizer == "nsga2" else None  # realism costs a forward: only when it is an objective
            problem = GlassProblem(space, self.clip, target, critic, settings.aug, torch.Generator().manual_seed(s))
            with torch.enable_grad():
                result = run_search(problem, search, seed=s, callback=callback, preview=preview)
            best = space.images(result.x[:1])
            if result.front_f is not None:  # NSGA-II: the most CLIP-like point of the front that looks real
                real = result.front_f[:, 1] >= 0.5
                pick = int((result.front_f[:, 0] - 1e3 * ~real).argmax())
                best = space.images(torch.as_tensor(result.front_x[pick : pick + 1], dtype=torch.float32))
                fronts.append(result.front_f.tolist())
            out_images.append(best[0])
            history.append(result.history)
            evaluations.append(result.evaluations)
            seeds.append(s)
        # 4. score against the prompt with the pipeline's CLIP
        batch = torch.stack(out_images)
        emb = self.clip.encode_image(batch)
        scores = (emb @ score_target(self.clip, prompts, images_in)).tolist()
        extras = {"settings": asdict(settings), "evaluations": evaluations}
        if fronts:
            extras["pareto_fronts"] = fronts
        return ImageOutput([tensor_to_pil(x) for x in batch], scores, [" | ".join(prompts)] * num_images, seeds, history, extras)

    @torch.no_grad()
    def caption(
        self, image, *, method: str = "guided", num_captions: int = 3, seed: int = 0, population: int = 32,
        generations: int = 10, prefix_length: int = 3, top_k: int = 8, beam: int = 4, lm_start: bool = True, refine: int = 0,
        place: bool = True, callback=None,
    ) -> TextOutput:
        """Image -> text: method "ga" (the paper's prefix search; lm_start=False starts it from random prefixes
        as the paper does) or "guided" (CLIP-re-ranked beam search; `refine` rounds of phrase insertion into its
        best caption, `search.text.insert_spans`: it adds the size and place words a left-to-right beam leaves out;
        with `place` on, the caption figures stayed the same on 200 val images at 7x the time there, so it is off by
        default). place: every object a caption names is then placed where CLIP reads it in region views of the
        image, one grid cell at a time, and read there (`search.regions.place_mentions`); the captions are ranked again
        by CLIP on the whole image, and captions that become the same are kept once (so fewer than num_captions may
        come back)."""
        if self.caption_lm is None:
            raise InputError("captioning needs the caption model (zoo/caption-lm)")
        if method not in CAPTION_DECODERS:
            raise InputError(f"method must be one of {', '.join(CAPTION_DECODERS)}, got {method!r}")
        check_count("num_captions", num_captions)
        check_count("refine", refine, 0)
        images = image_prompt(image)
        if images is None:
            raise InputError("an image is required")
        judge = self.caption_clip or self.clip
        emb = judge.encode_image(images)
        captions, scores, history = [], [], []
        for image_i, e in zip(images, emb):
            if method == "ga":
                r = prefix_search(self.caption_lm, judge, e, prefix_length=prefix_length, population=population,
                                  generations=generations, seed=seed, num_captions=num_captions, callback=callback, lm_start=lm_start)
            else:
                r = guided_decode(self.caption_lm, judge, e, top_k=top_k, beam=beam, num_captions=num_captions, callback=callback,
                                  refine=refine)
            found, found_scores = r.captions, [float(s) for s in r.scores]
            if place and found:
                reader = RegionReader(judge, image_i, image_emb=e)
                found = list(dict.fromkeys(reader.place(c) for c in found))
                ranked = sorted(zip((judge.encode_text(found) @ e).tolist(), found), key=lambda t: -t[0])
                found_scores, found = [s for s, _ in ranked], [c for _, c in ranked]
            captions.append(found)
            scores.append(found_scores)
            history.append(r.history)
        return TextOutput(captions, scores, history)


