"""`clipspace eval`: one entry per zoo model or method, each returning a JSON-able dict."""
from __future__ import annotations

import json
import os

import torch

SUITE = ("oracle", "clip", "clip-eval", "clip-caption", "caption-lm", "generator", "glass", "glass-optimizers", "glass-caption", "flow", "unclip")
NEEDS = {
    "glass": ("generator", "clip"), "glass-optimizers": ("generator", "clip", "critic"), "glass-caption": ("caption-lm", "clip"),
    "flow": ("flow", "generator", "clip"), "unclip": ("prior", "decoder", "clip"),
}


def _oracle(n: int) -> dict:
    from .metrics import load_oracle
    from .report import evaluate_oracle

    return evaluate_oracle(load_oracle(), n)


def _clip(name: str, n: int) -> dict:
    from .clip_report import evaluate_clip

    return evaluate_clip(name, n)


def _caption_lm(n: int) -> dict:
    from ..models.caption_lm import CaptionLM
    from ..train.caption_lm import parse_rate, perplexity, val_captions

    lm = CaptionLM.from_pretrained("caption-lm")
    samples = lm.sample(1000, generator=torch.Generator().manual_seed(0))
    return {"val_perplexity": perplexity(lm, val_captions()), "sample_parse_rate": parse_rate(samples), "examples": samples[:5]}


def _generator(n: int) -> dict:
    from ..models.generator import Generator
    from .generation import generator_report

    gen = Generator.from_pretrained(_path("generator"))
    return {f"psi={psi}": generator_report(gen, n=min(n * 2, 10_000), psi=psi) for psi in (1.0, 0.7)}


def _strips(pipe, method: str, report_dir: str) -> dict:
    """Image strips for the report: interpolation between two prompts, and a text diff (unCLIP) or a
    flow edit of one test image (a red circle -> a blue circle, where the test split has one)."""
    from ..io import make_grid
    from .method_report import one_object_images

    os.makedirs(report_dir, exist_ok=True)
    files = {}
    strip = pipe.interpolate("a red circle on the left", "a large blue star at the bottom right", steps=8, seed=0)
    files["interpolation"] = os.path.join(report_dir, f"{method}_interpolation.png")
    make_grid(strip.images, cols=8).save(files["interpolation"])
    images, scenes = one_object_images(50)
    i = next((k for k, sc in enumerate(scenes) if sc.objects[0].shape == "circle"), 0)
    o = scenes[i].objects[0]
    source, target = f"a {o.color} circle", f"a {'blue' if o.color != 'blue' else 'red'} circle"
    alphas = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)
    if method == "unclip":
        edits = pipe.text_diff(images[i : i + 1], source, target, alphas=alphas).images
    else:
        edits = [pipe.edit(images[i : i + 1], source, target, alpha=a).images[0] for a in alphas]
    files["text_diff"] = os.path.join(report_dir, f"{method}_text_diff.png")
    make_grid(edits, cols=len(edits)).save(files["text_diff"])
    return {"strips": files, "text_diff_prompts": [source, target], "text_diff_alphas": list(alphas)}


def _method(method: str, n: int, report_dir: str | None = None) -> dict:
    """Text -> image on the fixed prompt sets, plus what the method's issue asks: variations, edits or
    text diffs, the spread over free attributes, and time per image (see eval/method_report.py)."""
    from .. import load_pipeline
    from ..zoo import list_models
    from .generation import text_to_image_report
    from .method_report import (
        diversity_entropy,
        edit_report,
        seconds_per_image,
        variation_report,
    )
    from .prompts import prompt_sets

    pipe = load_pipeline(method)
    sets = prompt_sets()
    k = max(10, min(n // 50, 100))  # inputs for variations / edits: 100 at the default -n 5000
    generate = lambda p, num, seed: pipe(p, num_images=num, seed=seed).images  # noqa: E731
    out = {"text_to_image": text_to_image_report(pipe, sets, num_images=2), "diversity": diversity_entropy(generate)}
    if method == "flow":
        out["text_to_image_aligned"] = text_to_image_report(pipe, sets, num_images=2, text_condition="aligned")
        out["text_to_image_mlp_baseline"] = text_to_image_report(pipe, sets, num_images=2, baseline=True)
        out["variations"] = variation_report(lambda x, num, seed: pipe(image=x, num_images=num, seed=seed).images, n=k)
        out["edits"] = edit_report(lambda x, src, tgt, seed: pipe.edit(x, src, tgt).images[0], n=k)
        out["seconds_per_image_batch64"] = seconds_per_image(lambda: pipe("a red circle", num_images=64), 64)
        gen = pipe.generator
        w = gen.sample_w(64, torch.Generator().manual_seed(0))
        out["generator_seconds_per_image_batch64"] = seconds_per_image(lambda: gen.synthesize(w), 64)
    elif method == "unclip":
        out["variations"] = variation_report(lambda x, num, seed: pipe.variations(x, num_images=num, seed=seed).images, n=k)
        out["text_diffs"] = edit_report(lambda x, src, tgt, seed: pipe.text_diff(x, src, tgt, alphas=(1.0,), seed=seed).images[0], n=k)
        out["seconds_per_image_batch16"] = seconds_per_image(lambda: pipe("a red circle", num_images=16), 16)
        if "prior-ar" in list_models():
            ar = load_pipeline("unclip", prior="prior-ar")
            out["text_to_image_ar_prior"] = text_to_image_report(ar, sets, num_images=2)
            out["ar_prior_seconds_per_image_batch16"] = seconds_per_image(lambda: ar("a red circle", num_images=16), 16)
    if report_dir and method in ("unclip", "flow"):
        out |= _strips(pipe, method, report_dir)
    if method == "glass":
        out["variations"] = variation_report(lambda x, num, seed: pipe(image=x, num_images=num, seed=seed).images, n=min(k, 25), num_images=2)
    return out


def _glass_optimizers(n: int, report_dir: str | None) -> dict:
    from .. import load_pipeline
    from .glass_report import optimizer_comparison
    from .prompts import prompt_sets

    sets = prompt_sets()
    prompts = sets["seen"][::2][::5] + sets["held_out"][::6]  # bare prompts: 7 seen pairs, the 5 held-out pairs
    plot = os.path.join(report_dir, "nsga2_front.png") if report_dir else None
    if plot:
        os.makedirs(report_dir, exist_ok=True)
    return optimizer_comparison(load_pipeline("glass"), prompts, front_plot=plot)


def _glass_caption(n: int) -> dict:
    from ..pipelines.glass import GlassPipeline
    from .glass_report import caption_report

    return caption_report(GlassPipeline.from_pretrained(), n=min(n, 500))


def _path(name: str):
    from ..zoo import resolve_model_path

    return resolve_model_path(name)


def available(models: list[str]) -> list[str]:
    out = [m for m in SUITE if m in models]
    out += [m for m, needs in NEEDS.items() if all(x in models for x in needs) and m not in out]
    return [m for m in SUITE if m in out]


def run_one(what: str, n: int, report_dir: str | None = None) -> dict:
    if what == "oracle":
        return _oracle(n)
    if what in ("clip", "clip-eval", "clip-caption"):
        return _clip(what, n)
    if what == "caption-lm":
        return _caption_lm(n)
    if what == "generator":
        return _generator(n)
    if what == "glass-optimizers":
        return _glass_optimizers(n, report_dir)
    if what == "glass-caption":
        return _glass_caption(n)
    return _method(what, n, report_dir)


def markdown(results: dict) -> str:
    from .report import markdown_table

    lines = ["# clipspace evaluation", ""]
    for name, res in results.items():
        lines += [f"## {name}", ""]
        for label, path in (res.get("strips") or {}).items() if isinstance(res, dict) else ():
            lines += [f"{label.replace('_', ' ')}: ![{label}]({os.path.basename(path)})", ""]
        if name == "oracle":
            lines += [markdown_table(res), ""]
        else:
            lines += ["```json", json.dumps(res, indent=2, default=str), "```", ""]
    return "\n".join(lines)
