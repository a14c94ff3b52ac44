"""The `clipspace` command line (typer). Exit codes: 0 success, 2 bad input, 1 internal error."""
from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch anything at run time

import typer

from .io import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Text to image and image to text through a shared CLIP space.")
world_app = typer.Typer(no_args_is_help=True, help="The Shapes world: sample scenes and captions.")
app.add_typer(world_app, name="world")

TRAINERS = ("oracle", "clip", "caption-lm", "generator")


def edge(fn):
    """Turn bad input into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (InputError, FileNotFoundError, FileExistsError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)

    return wrapper


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise InputError(f"{name} must be at least 1, got {value}")


class _StagedDir:
    """Write into DIR.partial and move it into place only on success: nothing half-written is left."""

    def __init__(self, out: Path):
        self.out, self.tmp = Path(out), Path(str(out).rstrip("/") + ".partial")

    def __enter__(self) -> Path:
        if self.out.exists() and not self.out.is_dir():
            raise InputError(f"{self.out} exists and is not a directory")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self.out.mkdir(parents=True, exist_ok=True)
        for f in self.tmp.iterdir():
            os.replace(f, self.out / f.name)
        self.tmp.rmdir()


@world_app.command("sample")
@edge
def world_sample(
    n: int = typer.Option(16, "-n", "--num", help="Number of scenes."),
    seed: int = typer.Option(0, "--seed", help="Scenes come from np.random.default_rng(seed)."),
    out: Path = typer.Option(Path("outputs/world"), "--out", help="Output directory."),
    held_out_captions: bool = typer.Option(False, "--name-held-out", help="Allow captions to name held-out pairs."),
):
    """Render N scenes with captions: PNGs, captions.jsonl and grid.png."""
    import numpy as np

    from .io import make_grid, save_png
    from .world import caption_scene, render, sample_scene
    from PIL import Image

    _check_positive("-n", n)
    rng = np.random.default_rng(seed)
    with _StagedDir(out) as tmp:
        images, lines = [], []
        for i in range(n):
            scene = sample_scene(rng)
            caption = caption_scene(scene, rng, hold_out=not held_out_captions)
            img = Image.fromarray(render(scene))
            name = f"{i:05d}.png"
            save_png(img, tmp / name, {"caption": caption, "seed": seed, "index": i, "scene": scene.to_dict()})
            images.append(img)
            lines.append(json.dumps({"image": name, "caption": caption, "scene": scene.to_dict()}))
        (tmp / "captions.jsonl").write_text("\n".join(lines) + "\n")
        make_grid(images).save(tmp / "grid.png")
    typer.echo(str(out / "grid.png"))


@app.command()
@edge
def train(
    model: str = typer.Argument(..., help=f"One of: {', '.join(TRAINERS)}."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON training config (configs/<model>.json)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the config's output_dir."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the number of steps."),
    output_dir: Optional[str] = typer.Option(None, "--output-dir", help="Override the run directory."),
    export_dir: Optional[str] = typer.Option(None, "--export-dir", help="Override where the final model is saved."),
):
    """Train a zoo model (resumable: checkpoints are atomic)."""
    from .train.common import load_train_config

    if model not in TRAINERS:
        raise InputError(f"unknown model {model!r}; expected one of {', '.join(TRAINERS)}")
    if config is not None and not config.is_file():
        raise InputError(f"{config}: no such config file")
    overrides = {k: v for k, v in {"steps": steps, "output_dir": output_dir, "export_dir": export_dir}.items() if v is not None}
    if model == "oracle":
        from .train.oracle import OracleTrainConfig, train as run

        cfg = load_train_config(OracleTrainConfig, config, overrides)
    elif model == "clip":
        from .train.clip import ClipTrainConfig, train as run

        cfg = load_train_config(ClipTrainConfig, config, overrides)
    elif model == "caption-lm":
        from .train.caption_lm import CaptionLMTrainConfig, train as run

        cfg = load_train_config(CaptionLMTrainConfig, config, overrides)
    elif model == "generator":
        from .train.generator import GeneratorTrainConfig, train as run

        overrides = {("ae_steps" if k == "steps" else k): v for k, v in overrides.items()}
        cfg = load_train_config(GeneratorTrainConfig, config, overrides)
    run(cfg, resume=resume)


SAMPLERS = ("generator", "caption-lm")


@app.command()
@edge
def sample(
    model: str = typer.Argument(..., help=f"One of: {', '.join(SAMPLERS)}."),
    n: int = typer.Option(8, "-n", "--num", help="Number of samples."),
    seed: int = typer.Option(0, "--seed"),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature (caption-lm)."),
    psi: float = typer.Option(1.0, "--psi", help="Truncation toward the mapping's cluster means (generator); 1 = none."),
    path: str = typer.Option("", "--model-path", help="Model directory (default: the zoo's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (images; captions are printed)."),
):
    """Unconditional samples from a zoo generator or caption model."""
    import torch

    _check_positive("-n", n)
    if model not in SAMPLERS:
        raise InputError(f"unknown model {model!r}; expected one of {', '.join(SAMPLERS)}")
    if temperature <= 0:
        raise InputError(f"--temperature must be positive, got {temperature}")
    if not 0 < psi <= 2:
        raise InputError(f"--psi must be in (0, 2], got {psi}")
    if model == "generator":
        from .io import make_grid, save_png, tensor_to_pil
        from .models.generator import Generator
        from .zoo import resolve_model_path

        gen = Generator.from_pretrained(resolve_model_path(path or "generator"))
        images = gen.sample(n, torch.Generator().manual_seed(seed), psi=psi)
        pils = [tensor_to_pil(x) for x in images]
        out = out or Path("outputs/samples")
        with _StagedDir(out) as tmp:
            for i, im in enumerate(pils):
                save_png(im, tmp / f"{i:05d}.png", {"model": "generator", "seed": seed, "psi": psi, "index": i})
            make_grid(pils).save(tmp / "grid.png")
        typer.echo(str(out / "grid.png"))
    elif model == "caption-lm":
        from .models.caption_lm import CaptionLM

        lm = CaptionLM.from_pretrained(path or "caption-lm")
        for caption in lm.sample(n, temperature=temperature, generator=torch.Generator().manual_seed(seed)):
            typer.echo(caption)


@app.command()
@edge
def classify(
    images: list[Path] = typer.Argument(..., help="Image files."),
    labels: list[str] = typer.Option(..., "--labels", help='Candidate texts: --labels "a red circle" "a blue star" ...'),
    clip: str = typer.Option("clip", "--clip", help="Zoo name or model directory (e.g. zoo/clip-eval)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per image."),
    top: int = typer.Option(5, "--top", help="Labels shown per image without --json."),
):
    """Zero-shot CLIP ranking of LABELS for each image, best first."""
    from .io import load_images
    from .models.clip import ClipSpace

    labels = [l.strip() for l in labels]
    if not labels or any(not l for l in labels):
        raise InputError("--labels needs at least one non-empty text")
    x = load_images([str(p) for p in images])
    model = ClipSpace.from_pretrained(clip)
    probs = model.classify(x, labels)
    for path, p in zip(images, probs):
        ranked = sorted(zip(labels, p.tolist()), key=lambda t: -t[1])
        if as_json:
            typer.echo(json.dumps({"image": str(path), "labels": [[l, round(v, 6)] for l, v in ranked]}))
        else:
            typer.echo(f"{path}: " + ", ".join(f"{l} ({v:.3f})" for l, v in ranked[:top]))


@app.command("eval")
@edge
def evaluate(
    report: Path = typer.Option(Path("outputs/eval"), "--report", help="Directory for results.json and report.md."),
    what: str = typer.Option("all", "--what", help="oracle, clip or all (whatever the zoo holds)."),
    n: int = typer.Option(5000, "-n", help="Test scenes."),
):
    """Evaluate the zoo models on the test split; write results.json and report.md."""
    from .eval.report import evaluate_oracle, markdown_table
    from .eval.metrics import load_oracle
    from .zoo import list_models

    _check_positive("-n", n)
    if what not in ("oracle", "clip", "all"):
        raise InputError(f"--what must be oracle, clip or all, got {what!r}")
    models = list_models()
    results, md = {}, ["# clipspace evaluation", ""]
    if what in ("oracle", "all") and "oracle" in models:
        res = evaluate_oracle(load_oracle(), n)
        results["oracle"] = res
        md += [f"## Oracle on {n} test scenes (%)", "", markdown_table(res), ""]
        typer.echo(md[-2])
    if what in ("clip", "all"):
        from .eval.clip_report import evaluate_clip

        for name in ("clip", "clip-eval"):
            if name in models:
                res = evaluate_clip(name, n)
                results[name] = res
                md += [f"## {name}", "", "```", json.dumps(res, indent=2), "```", ""]
                typer.echo(f"{name}: {json.dumps(res)}")
    if not results:
        raise InputError(f"nothing to evaluate for --what {what} (zoo holds: {', '.join(models) or 'nothing'})")
    report.mkdir(parents=True, exist_ok=True)
    (report / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (report / "report.md").write_text("\n".join(md))
    typer.echo(str(report / "report.md"))


@app.command()
@edge
def bench(json_file: Optional[Path] = typer.Option(None, "--json", help="Also write the figures here.")):
    """Throughput of the world and the zoo models on this machine."""
    from .eval.bench import run_bench

    res = run_bench()
    for k, v in res.items():
        typer.echo(f"{k:40s} {v:>12,.1f}")
    if json_file:
        json_file.write_text(json.dumps(res, indent=2) + "\n")


@app.command()
@edge
def demo(out: Path = typer.Option(Path("outputs/run"), "--out", help="Output directory.")):
    """What `make run` does: the package's main output with the shipped zoo.

    Until a text-to-image method ships, a contact sheet of world scenes with their captions and, when
    the oracle is in the zoo, what it reads in each.
    """
    from .zoo import list_models

    world_sample(n=16, seed=0, out=out, held_out_captions=False)
    if "oracle" in list_models():
        from .eval.metrics import load_oracle
        from .io import load_images

        lines = [json.loads(l) for l in (out / "captions.jsonl").read_text().splitlines()]
        reading = load_oracle().read(load_images([str(out / l["image"]) for l in lines]))
        with open(out / "oracle.jsonl", "w") as f:
            for b, l in enumerate(lines):
                f.write(json.dumps({"image": l["image"], "caption": l["caption"], "oracle": reading.describe(b)}) + "\n")


def _expand_multi_value_options(argv: list[str], options=("--labels",)) -> list[str]:
    """Let `--labels a b c` mean `--labels a --labels b --labels c` (click options take one value each)."""
    out, current = [], None
    for arg in argv:
        if arg in options:
            current = arg
            continue
        if current is not None and not arg.startswith("-"):
            out += [current, arg]
            continue
        current = None
        out.append(arg)
    return out


def main() -> None:
    try:
        app(args=_expand_multi_value_options(sys.argv[1:]), prog_name="clipspace")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
