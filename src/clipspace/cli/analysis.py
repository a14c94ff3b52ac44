"""clipspace classify / eval / bench."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..io import InputError
from .common import app, check_positive, edge


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
    from ..io import load_images
    from ..models.clip import ClipSpace

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
    what: str = typer.Option("all", "--what", help="Comma-separated: oracle, clip, clip-eval, caption-lm, generator, glass, glass-optimizers, glass-caption, flow, unclip; or all (what the zoo holds)."),
    n: int = typer.Option(5000, "-n", help="Test scenes (models) / samples."),
):
    """Evaluate zoo models and methods on the test split and the fixed prompt sets."""
    from ..eval.suite import SUITE, available, markdown, run_one
    from ..zoo import list_models

    check_positive("-n", n)
    models = list_models()
    todo = available(models) if what == "all" else [w.strip() for w in what.split(",") if w.strip()]
    unknown = [w for w in todo if w not in SUITE]
    if unknown:
        raise InputError(f"unknown --what {', '.join(unknown)}; choose from {', '.join(SUITE)} or all")
    missing = [w for w in todo if w not in available(models)]
    if missing:
        raise InputError(f"the zoo lacks what {', '.join(missing)} needs (zoo holds: {', '.join(models) or 'nothing'})")
    if not todo:
        raise InputError("nothing to evaluate: the zoo is empty")
    results = {}
    for w in todo:
        results[w] = run_one(w, n, str(report))
        typer.echo(f"{w}: {json.dumps(results[w], default=str)[:2000]}")
    report.mkdir(parents=True, exist_ok=True)
    (report / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (report / "report.md").write_text(markdown(results))
    typer.echo(str(report / "report.md"))


@app.command()
@edge
def bench(json_file: Optional[Path] = typer.Option(None, "--json", help="Also write the figures here.")):
    """Throughput of the world and the zoo models on this machine."""
    from ..eval.bench import run_bench

    res = run_bench()
    for k, v in res.items():
        typer.echo(f"{k:40s} {v:>12,.1f}")
    if json_file:
        json_file.write_text(json.dumps(res, indent=2) + "\n")
