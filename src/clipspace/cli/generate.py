"""clipspace generate / variations / edit / interpolate: the methods' pipelines from the command line.

Outputs: PNGs (settings in a text chunk) and DIR/results.jsonl, one JSON object per image.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from ..io import InputError
from ..pipelines.common import check_prompts, is_text
from .common import StagedDir, app, check_positive, edge

GENERATE_METHODS = ("glass", "flow", "unclip", "vdl")
AVAILABLE = ("glass", "flow", "unclip")


# options the methods share across commands, defined once; unset, each takes its method's tuned default
# (GlassSettings, FlowPipeline.__call__, UnclipSettings), and the settings used are saved beside every image
SNAP = typer.Option(None, "--snap/--no-snap", help="glass, flow: draw each latent as its nearest scene code (default on).")
OPTIMIZER = typer.Option(None, "--optimizer", help="glass: ga (default), nsga2, cmaes, adam or hybrid.")
GENERATIONS = typer.Option(None, "--generations", help="glass: generations (or Adam steps).")
POPULATION = typer.Option(None, "--population", help="glass: candidates per generation.")
LATENT = typer.Option(None, "--latent", help="glass: z, w (default) or w+.")
PSI = typer.Option(None, "--psi", help="glass: truncation of the initial population; flow: toward the average w (1 = none, the default).")
AUG = typer.Option(None, "--aug", help="glass: AugCLIP views per candidate (0 = off, the default).")
TEMPERATURE = typer.Option(None, "--temperature", help="flow: sampling temperature of the base space (chosen on dev_prompt_sets).")
TEXT_CONDITION = typer.Option(None, "--text-condition", help="flow: direct (the text embedding; the default, chosen on dev_prompt_sets) or aligned (text -> image embedding first).")
GUIDANCE_SCALE = typer.Option(None, "--guidance-scale", help="unclip: decoder classifier-free guidance.")
PRIOR_GUIDANCE_SCALE = typer.Option(None, "--prior-guidance-scale", help="unclip: prior classifier-free guidance.")
STEPS = typer.Option(None, "--steps", help="unclip: decoder sampling steps.")
DECODER_STEPS = typer.Option(None, "--decoder-steps", help="unclip: decoder sampling steps.")
PRIOR_STEPS = typer.Option(None, "--prior-steps", help="unclip: prior sampling steps.")
UPSAMPLER_STRENGTH = typer.Option(None, "--upsampler-strength", help="unclip: how far the upsampler re-noises the bilinear image (0-1].")
DECODER_SWITCH = typer.Option(None, "--decoder-switch", help="unclip: timestep below which the detail decoder takes over (0: never, 1000: from the start).")
GUIDANCE_INTERVAL = typer.Option(None, "--guidance-interval", help="unclip: decoder guidance only at timesteps LO <= t <= HI (0 1000: every step).")
SCHEDULER = typer.Option(None, "--scheduler", help="unclip: dpm (DPM-Solver++, the default) or ddim.")


def _pipeline(method: str, clip: str):
    if method not in GENERATE_METHODS:
        raise InputError(f"--method must be one of {', '.join(GENERATE_METHODS)}, got {method!r}")
    if method not in AVAILABLE:
        raise InputError(f"method {method!r} is not available yet in this release (available: {', '.join(AVAILABLE)})")
    from .. import load_pipeline

    return load_pipeline(method, clip=clip)


def _read_prompts(prompt: Optional[str], prompts_file: Optional[Path]) -> list[str]:
    if prompts_file is not None:
        if not prompts_file.is_file():
            raise InputError(f"{prompts_file}: no such prompts file")
        prompts = [l.strip() for l in prompts_file.read_text().splitlines() if l.strip()]
        if not prompts:
            raise InputError(f"{prompts_file} holds no prompts")
        return check_prompts(prompts)
    if prompt is None or not prompt.strip():
        raise InputError("give a PROMPT or --prompts FILE")
    return check_prompts(prompt)


class _Progress:
    """A StepInfo callback: tqdm bar, --save-every snapshots and --gif frames (one search per image)."""

    def __init__(self, tmp: Path, name: str, total: int, save_every: int, gif: bool):
        from tqdm import tqdm

        self.tmp, self.name, self.save_every, self.gif = tmp, name, save_every, gif
        self.frames: list[list] = []
        self.bar = tqdm(total=total, desc=name, leave=False)

    def __call__(self, info) -> None:
        from ..io import tensor_to_pil

        if info.step == 1:  # a new image's search starts
            self.frames.append([])
            self.bar.reset(total=info.total)
        self.bar.update(1)
        if info.fitness is not None:
            self.bar.set_postfix(fitness=f"{info.fitness:.4f}")
        if info.preview is not None:
            img = tensor_to_pil(info.preview)
            stem = f"{self.name}_{len(self.frames) - 1:02d}"
            if self.save_every and info.step % self.save_every == 0:
                (self.tmp / "progress").mkdir(exist_ok=True)
                img.save(self.tmp / "progress" / f"{stem}_{info.step:04d}.png")
            if self.gif:
                self.frames[-1].append(img)

    def close(self) -> None:
        self.bar.close()
        for k, frames in enumerate(self.frames if self.gif else []):
            if frames:
                big = [f.resize((256, 256), 0) for f in frames]
                big[0].save(self.tmp / f"{self.name}_{k:02d}_progress.gif", save_all=True, append_images=big[1:], duration=120, loop=0)


def _run_images(pipe, method: str, jobs: list[dict], seed: int, n: int, out: Path, save_every: int, gif: bool, settings: dict) -> None:
    """Run the pipeline for each job (prompt and/or image), write PNGs + results.jsonl into a staged dir."""
    from ..io import save_png

    with StagedDir(out) as tmp:
        rows = []
        for j, job in enumerate(jobs):
            name = f"p{j:03d}"
            progress = _Progress(tmp, name, settings.get("generations", 1), save_every, gif)
            try:
                extra = {"preview": bool(save_every or gif)} if method == "glass" else {}
                res = pipe(job.get("prompt"), image=job.get("image"), num_images=n, seed=seed, callback=progress, **extra, **settings)
            finally:
                progress.close()
            for k, (img, score, s) in enumerate(zip(res.images, res.scores, res.seeds)):
                fname = f"{name}_{k:02d}.png"
                meta = {"prompt": job.get("prompt") or "", "image_prompt": job.get("image_path"), "method": method, "seed": s,
                        "clip_score": round(float(score), 6), **settings}
                save_png(img, tmp / fname, meta)
                rows.append(json.dumps({"image": fname, **meta}))
        (tmp / "results.jsonl").write_text("\n".join(rows) + "\n")
    typer.echo(str(out))


def _settings(method: str, o: dict) -> dict:
    """The method's own knobs from the command line's options (unset ones take the method's defaults),
    validated before any model loads; every knob is returned, so the saved metadata tells how an image was made."""
    o = {k: v for k, v in o.items() if v is not None}
    if method == "glass":
        from ..pipelines.glass import GlassSettings

        keys = ("optimizer", "generations", "population", "latent", "psi", "aug", "snap")
        return asdict(GlassSettings(**{k: o[k] for k in keys if k in o}).validate())
    if method == "flow":
        from ..pipelines.flow import TEXT_CONDITIONS, FlowPipeline

        keys = ("temperature", "psi", "text_condition", "snap")
        defaults = {k: p.default for k, p in inspect.signature(FlowPipeline.__call__).parameters.items() if k in keys}
        s = defaults | {k: o[k] for k in keys if k in o}
        if not 0 <= s["temperature"] <= 2:
            raise InputError(f"--temperature must be in [0, 2], got {s['temperature']}")
        if not 0 < s["psi"] <= 2:
            raise InputError(f"--psi must be in (0, 2], got {s['psi']}")
        if s["text_condition"] not in TEXT_CONDITIONS:
            raise InputError(f"--text-condition must be one of {', '.join(TEXT_CONDITIONS)}, got {s['text_condition']!r}")
        return s
    if method == "unclip":
        from ..pipelines.unclip import UnclipSettings

        names = {"prior_guidance_scale": "prior_guidance_scale", "guidance_scale": "decoder_guidance_scale", "prior_steps": "prior_steps",
                 "steps": "decoder_steps", "scheduler": "scheduler", "upsampler_strength": "upsampler_strength",
                 "decoder_switch": "decoder_switch", "guidance_interval": "decoder_guidance_interval"}
        return asdict(UnclipSettings(**{names[k]: v for k, v in o.items() if k in names}).validate())
    return {}


@app.command()
@edge
def generate(
    prompt: Optional[str] = typer.Argument(None, help="Text prompt (or use --prompts FILE)."),
    prompts_file: Optional[Path] = typer.Option(None, "--prompts", help="A file with one prompt per line."),
    method: str = typer.Option("glass", "--method", help=f"One of: {', '.join(GENERATE_METHODS)}."),
    n: int = typer.Option(4, "-n", "--num-images", help="Images per prompt."),
    seed: int = typer.Option(0, "--seed", help="Image i of a prompt uses seed + i."),
    out: Path = typer.Option(Path("outputs/generate"), "--out", help="Output directory."),
    negative: Optional[str] = typer.Option(None, "--negative", help="Negative prompt (steer away from it)."),
    image: Optional[Path] = typer.Option(None, "--image", help="An image prompt, mixed with the text."),
    clip: str = typer.Option("clip", "--clip", help="The CLIP the method steers with (zoo name or dir)."),
    optimizer: Optional[str] = OPTIMIZER,
    generations: Optional[int] = GENERATIONS,
    population: Optional[int] = POPULATION,
    latent: Optional[str] = LATENT,
    psi: Optional[float] = PSI,
    aug: Optional[int] = AUG,
    snap: Optional[bool] = SNAP,
    temperature: Optional[float] = TEMPERATURE,
    text_condition: Optional[str] = TEXT_CONDITION,
    guidance_scale: Optional[float] = GUIDANCE_SCALE,
    prior_guidance_scale: Optional[float] = PRIOR_GUIDANCE_SCALE,
    steps: Optional[int] = STEPS,
    prior_steps: Optional[int] = PRIOR_STEPS,
    upsampler_strength: Optional[float] = UPSAMPLER_STRENGTH,
    decoder_switch: Optional[int] = DECODER_SWITCH,
    guidance_interval: Optional[tuple[int, int]] = GUIDANCE_INTERVAL,
    scheduler: Optional[str] = SCHEDULER,
    save_every: int = typer.Option(0, "--save-every", help="Write the current best every N generations to DIR/progress/."),
    gif: bool = typer.Option(False, "--gif", help="Write the search's progression as a GIF."),
):
    """Text -> image with one of the methods."""
    check_positive("-n", n)
    if save_every < 0:
        raise InputError(f"--save-every must be >= 0, got {save_every}")
    if method not in GENERATE_METHODS:
        raise InputError(f"--method must be one of {', '.join(GENERATE_METHODS)}, got {method!r}")
    prompts = _read_prompts(prompt, prompts_file)
    settings = _settings(method, dict(
        optimizer=optimizer, generations=generations, population=population, latent=latent, psi=psi, aug=aug, snap=snap,
        temperature=temperature, text_condition=text_condition, guidance_scale=guidance_scale,
        prior_guidance_scale=prior_guidance_scale, steps=steps, prior_steps=prior_steps, scheduler=scheduler, upsampler_strength=upsampler_strength, decoder_switch=decoder_switch, guidance_interval=guidance_interval,
    ))
    image_job = {}
    if image is not None:
        from ..io import load_images

        image_job = {"image": load_images([str(image)]), "image_path": str(image)}
    pipe = _pipeline(method, clip)
    if negative is not None and not negative.strip():
        raise InputError("--negative must not be empty")
    if negative:
        settings_call = dict(settings, negative_prompt=negative)
    else:
        settings_call = settings
    _run_images(pipe, method, [{"prompt": p, **image_job} for p in prompts], seed, n, out, save_every, gif, settings_call)


@app.command()
@edge
def variations(
    image: Path = typer.Argument(..., help="The image to vary."),
    method: str = typer.Option("glass", "--method", help="glass, flow or unclip."),
    n: int = typer.Option(4, "-n", "--num-images"),
    seed: int = typer.Option(0, "--seed"),
    out: Path = typer.Option(Path("outputs/variations"), "--out"),
    clip: str = typer.Option("clip", "--clip"),
    optimizer: Optional[str] = OPTIMIZER,
    generations: Optional[int] = GENERATIONS,
    population: Optional[int] = POPULATION,
    latent: Optional[str] = LATENT,
    psi: Optional[float] = PSI,
    aug: Optional[int] = AUG,
    snap: Optional[bool] = SNAP,
    temperature: Optional[float] = TEMPERATURE,
    text_condition: Optional[str] = TEXT_CONDITION,
    guidance_scale: Optional[float] = GUIDANCE_SCALE,
    prior_guidance_scale: Optional[float] = PRIOR_GUIDANCE_SCALE,
    steps: Optional[int] = STEPS,
    prior_steps: Optional[int] = PRIOR_STEPS,
    upsampler_strength: Optional[float] = UPSAMPLER_STRENGTH,
    decoder_switch: Optional[int] = DECODER_SWITCH,
    guidance_interval: Optional[tuple[int, int]] = GUIDANCE_INTERVAL,
    scheduler: Optional[str] = SCHEDULER,
    negative: Optional[str] = typer.Option(None, "--negative", help="Negative prompt (steer away from it)."),
    save_every: int = typer.Option(0, "--save-every", help="glass: write the current best every N generations to DIR/progress/."),
    gif: bool = typer.Option(False, "--gif", help="glass: write the search's progression as a GIF."),
):
    """Image -> images that keep what CLIP sees in it."""
    from ..io import load_images

    check_positive("-n", n)
    if save_every < 0:
        raise InputError(f"--save-every must be >= 0, got {save_every}")
    if negative is not None and not negative.strip():
        raise InputError("--negative must not be empty")
    if method not in GENERATE_METHODS:
        raise InputError(f"--method must be one of {', '.join(GENERATE_METHODS)}, got {method!r}")
    settings = _settings(method, dict(
        optimizer=optimizer, generations=generations, population=population, latent=latent, psi=psi, aug=aug, snap=snap,
        temperature=temperature, text_condition=text_condition, guidance_scale=guidance_scale,
        prior_guidance_scale=prior_guidance_scale, steps=steps, prior_steps=prior_steps, scheduler=scheduler, upsampler_strength=upsampler_strength, decoder_switch=decoder_switch, guidance_interval=guidance_interval,
    ))
    job = {"image": load_images([str(image)]), "image_path": str(image)}
    pipe = _pipeline(method, clip)
    if negative:
        settings = dict(settings, negative_prompt=negative)
    _run_images(pipe, method, [job], seed, n, out, save_every, gif, settings)


@app.command()
@edge
def edit(
    image: Path = typer.Argument(..., help="The image to edit."),
    source: str = typer.Option(..., "--source", help='What the image shows, e.g. "a red circle".'),
    target: str = typer.Option(..., "--target", help='What it should show, e.g. "a blue circle".'),
    alpha: float = typer.Option(1.0, "--alpha", help="How far to move along target - source."),
    method: str = typer.Option("flow", "--method", help="flow."),
    out: Path = typer.Option(Path("outputs/edit"), "--out"),
    clip: str = typer.Option("clip", "--clip"),
):
    """A text-difference edit (CLIP-Flow): keep the flow code, move the CLIP condition."""
    from ..io import load_images, save_png

    if method != "flow":
        raise InputError(f"edit supports --method flow, got {method!r}")
    if not source.strip() or not target.strip():
        raise InputError("--source and --target must be non-empty")
    x = load_images([str(image)])
    pipe = _pipeline(method, clip)
    res = pipe.edit(x, source, target, alpha=alpha)
    with StagedDir(out) as tmp:
        meta = {"image": "edit.png", "source": source, "target": target, "alpha": alpha, "method": method,
                "input": str(image), "clip_score": round(float(res.scores[0]), 6)}
        save_png(res.images[0], tmp / "edit.png", meta)
        (tmp / "results.jsonl").write_text(json.dumps(meta) + "\n")
    typer.echo(str(out / "edit.png"))


@app.command()
@edge
def interpolate(
    a: str = typer.Argument(..., help="Start: a text or an image path."),
    b: str = typer.Argument(..., help="End: a text or an image path."),
    steps: int = typer.Option(8, "--steps", help="Images along the path, ends included."),
    method: str = typer.Option("unclip", "--method", help="unclip or flow."),
    seed: int = typer.Option(0, "--seed"),
    out: Path = typer.Option(Path("outputs/interpolate"), "--out"),
    clip: str = typer.Option("clip", "--clip"),
    temperature: Optional[float] = TEMPERATURE,
    psi: Optional[float] = PSI,
    text_condition: Optional[str] = TEXT_CONDITION,
    snap: Optional[bool] = SNAP,
    guidance_scale: Optional[float] = GUIDANCE_SCALE,
    prior_guidance_scale: Optional[float] = PRIOR_GUIDANCE_SCALE,
    decoder_steps: Optional[int] = DECODER_STEPS,
    prior_steps: Optional[int] = PRIOR_STEPS,
    upsampler_strength: Optional[float] = UPSAMPLER_STRENGTH,
    decoder_switch: Optional[int] = DECODER_SWITCH,
    guidance_interval: Optional[tuple[int, int]] = GUIDANCE_INTERVAL,
    scheduler: Optional[str] = SCHEDULER,
):
    """Images along the path between two prompts or images (slerp in CLIP space, fixed noise)."""
    from ..io import make_grid, save_png

    if steps < 2:
        raise InputError(f"--steps must be at least 2, got {steps}")
    if method not in ("unclip", "flow"):
        raise InputError(f"interpolate supports --method unclip or flow, got {method!r}")
    if not a.strip() or not b.strip():
        raise InputError("A and B must be non-empty")
    for x in (a, b):  # a mistyped image path is an error, not a prompt
        if is_text(x):
            check_prompts(x)
    settings = _settings(method, dict(
        temperature=temperature, psi=psi, text_condition=text_condition, snap=snap, guidance_scale=guidance_scale,
        prior_guidance_scale=prior_guidance_scale, steps=decoder_steps, prior_steps=prior_steps, scheduler=scheduler, upsampler_strength=upsampler_strength, decoder_switch=decoder_switch, guidance_interval=guidance_interval,
    ))
    pipe = _pipeline(method, clip)
    res = pipe.interpolate(a, b, steps=steps, seed=seed, **settings)
    with StagedDir(out) as tmp:
        rows = []
        for i, img in enumerate(res.images):
            meta = {"image": f"{i:03d}.png", "a": a, "b": b, "t": i / (steps - 1), "method": method, "seed": seed, **settings}
            save_png(img, tmp / meta["image"], meta)
            rows.append(json.dumps(meta))
        make_grid(res.images, cols=steps).save(tmp / "strip.png")
        (tmp / "results.jsonl").write_text("\n".join(rows) + "\n")
    typer.echo(str(out / "strip.png"))
