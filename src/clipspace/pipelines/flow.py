"""CLIP-Flow (Ma et al., CVM 2024): CLIP embedding -> flow -> W latent -> generator.

Text prompts go in directly (text and images share CLIP space), optionally through the learned
text -> image-embedding aligner; image prompts give variations; edits move the condition along a
text difference while keeping the flow's base code.

    pipe = FlowPipeline.from_pretrained()
    out = pipe("a big blue star", num_images=4, seed=0, temperature=0.5)
    pipe.edit(image, source="a red circle", target="a blue circle")
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ..io import InputError, tensor_to_pil
from ..models.clip import ClipSpace
from ..models.flow import ClipFlow, WRegressor
from ..models.generator import Generator, project
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

TEXT_CONDITIONS = ("aligned", "direct")
TEMPERATURE = 0.5  # chosen on dev_prompt_sets: full match 91 / 75 % (seen / held-out) against 85 / 68 % at 0.8, half the spread lost


class FlowPipeline:
    def __init__(self, generator: Generator, clip: ClipSpace, flow: ClipFlow, baseline: WRegressor | None = None):
        self.generator, self.clip, self.flow, self.baseline = generator.eval(), clip.eval(), flow.eval(), baseline

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, clip: str = "clip") -> "FlowPipeline":
        return cls(
            Generator.from_pretrained(component_path(path, "generator")),
            ClipSpace.from_pretrained(component_path(path, clip)),
            ClipFlow.from_pretrained(component_path(path, "flow")),
            optional_component(WRegressor, path, "flow-baseline"),
        )

    def save_pretrained(self, path: str | os.PathLike) -> None:
        self.generator.save_pretrained(os.path.join(path, "generator"))
        self.clip.save_pretrained(os.path.join(path, "clip"))
        self.flow.save_pretrained(os.path.join(path, "flow"))
        parts = {"generator": "Generator", "clip": "ClipSpace", "flow": "ClipFlow"}
        if self.baseline is not None:
            self.baseline.save_pretrained(os.path.join(path, "flow-baseline"))
            parts["flow-baseline"] = "WRegressor"
        write_model_index(path, "flow", parts)

    def condition(self, prompts: list[str], negatives: list[str], images: torch.Tensor | None, text_condition: str, negative_weight: float) -> torch.Tensor:
        """(1, C) unit condition: the mean of the prompt (aligned or direct) and image embeddings, minus negatives."""
        parts = []
        if prompts:
            t = self.clip.encode_text(prompts)
            parts.append(self.flow.align_text(t) if text_condition == "aligned" else t)
        if images is not None:
            parts.append(self.clip.encode_image(images))
        e = torch.cat(parts).mean(0, keepdim=True)
        if negatives:
            n = self.clip.encode_text(negatives)
            n = self.flow.align_text(n) if text_condition == "aligned" else n
            e = e - negative_weight * n.mean(0, keepdim=True)
        return F.normalize(e, dim=-1)

    def _draw(self, w: torch.Tensor, psi: float = 1.0, snap: bool = True) -> torch.Tensor:
        """Images of flow codes: truncated toward w_avg by psi, then (snap) moved to the nearest scene code. The
        flow's density is continuous over codes whose shape and background parts are one-hot: its samples blend
        them (a square a little star) and the generator never saw such codes."""
        if psi != 1.0:
            w = self.generator.truncate(w, psi)
        return self.generator.synthesize(project(w) if snap else w)

    def _sample_w(self, e: torch.Tensor, gens: list[torch.Generator], temperature: float, use_baseline: bool) -> torch.Tensor:
        if use_baseline:
            if self.baseline is None:
                raise InputError("the MLP baseline is not in this pipeline (zoo/flow-baseline)")
            return self.baseline(e).expand(len(gens), -1)
        z = torch.stack([torch.randn(self.flow.config.w_dim, generator=g) for g in gens]) * temperature
        return self.flow.decode(z, e.expand(len(gens), -1))

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
        temperature: float = TEMPERATURE,
        psi: float = 1.0,
        text_condition: str = "direct",
        negative_weight: float = 0.3,
        baseline: bool = False,
        snap: bool = True,
        clip_scores: bool = True,
        **unused,
    ) -> ImageOutput:
        # 1. check inputs
        images_in = image_prompt(image)
        prompts = check_prompts(prompt, allow_empty=images_in is not None)
        negatives = check_prompts(negative_prompt, allow_empty=True)
        check_count("num_images", num_images)
        check_range("temperature", temperature, 0.0, 2.0)
        check_range("psi", psi, 0.01, 2.0)
        check_text_condition(text_condition)
        if unused:
            raise InputError(f"the flow method does not take {', '.join(sorted(unused))}")
        base_seed = seed_for(seed, generator)
        # 2. encode the condition
        e = self.condition(prompts, negatives, images_in, text_condition, negative_weight)
        # 3. sample w given e, one generator per image
        w = self._sample_w(e, per_image_generators(base_seed, num_images), temperature, baseline)
        # 4. decode
        images = self._draw(w, psi, snap)
        if callback is not None:
            from ..progress import StepInfo

            callback(StepInfo(step=1, total=1))
        if clip_scores:  # CLIP's view of the outputs costs more than the flow and the generator together (bench)
            scores = (self.clip.encode_image(images) @ score_target(self.clip, prompts, images_in)).tolist()
        else:
            scores = [float("nan")] * num_images
        seeds = [base_seed + i for i in range(num_images)]
        label = " | ".join(prompts)
        return ImageOutput([tensor_to_pil(x) for x in images], scores, [label] * num_images, seeds,
                           extras={"temperature": temperature, "psi": psi, "text_condition": text_condition, "baseline": baseline, "snap": snap})

    @torch.no_grad()
    def edit(self, image, source: str, target: str, *, alpha: float = 1.0, text_condition: str = "direct", snap: bool = True) -> ImageOutput:
        """Invert the image (encoder -> w; flow -> z under its CLIP embedding) and decode z under
        e + alpha * (target - source): "a red circle" -> "a blue circle" recolours the circle."""
        check_text_condition(text_condition)
        images_in = image_prompt(image)
        if images_in is None:
            raise InputError("an image is required")
        source, target = check_prompts(source)[0], check_prompts(target)[0]
        check_range("alpha", alpha, -4.0, 4.0)
        w = self.generator.encode(images_in)
        e = self.clip.encode_image(images_in)
        t = self.clip.encode_text([source, target])
        if text_condition == "aligned":
            t = self.flow.align_text(t)
        e_new = F.normalize(e + alpha * (t[1] - t[0]), dim=-1)
        out = self._draw(self.flow.edit(w, e, e_new), snap=snap)
        scores = (self.clip.encode_image(out) @ self.clip.encode_text([target])[0]).tolist()
        return ImageOutput([tensor_to_pil(x) for x in out], scores, [target] * len(out), [0] * len(out), extras={"alpha": alpha})

    @torch.no_grad()
    def interpolate(self, a, b, *, steps: int = 8, seed: int = 0, temperature: float = TEMPERATURE, psi: float = 1.0,
                    text_condition: str = "direct", snap: bool = True) -> ImageOutput:
        """Images along the slerp between two conditions (text or image), with the flow's base code fixed."""
        check_count("steps", steps, 2)
        check_range("temperature", temperature, 0.0, 2.0)
        check_range("psi", psi, 0.01, 2.0)
        check_text_condition(text_condition)
        ea, eb = (self._endpoint(x, text_condition) for x in (a, b))
        z = torch.randn(1, self.flow.config.w_dim, generator=torch.Generator().manual_seed(seed)) * temperature
        es = torch.cat([slerp(ea, eb, i / (steps - 1)) for i in range(steps)])
        images = self._draw(self.flow.decode(z.expand(steps, -1), es), psi, snap)
        return ImageOutput([tensor_to_pil(x) for x in images], [float("nan")] * steps, [""] * steps, [seed] * steps,
                           extras={"temperature": temperature, "psi": psi, "text_condition": text_condition, "snap": snap})

    def _endpoint(self, x, text_condition: str) -> torch.Tensor:
        if is_text(x):
            t = self.clip.encode_text(check_prompts(x))
            return self.flow.align_text(t) if text_condition == "aligned" else t
        return self.clip.encode_image(image_prompt(x))


def check_text_condition(text_condition: str) -> None:
    if text_condition not in TEXT_CONDITIONS:
        raise InputError(f"text_condition must be one of {', '.join(TEXT_CONDITIONS)}, got {text_condition!r}")
