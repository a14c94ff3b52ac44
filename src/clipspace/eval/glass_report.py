"""CLIP-GLaSS's own figures: the optimisers compared at equal CLIP evaluations, image -> text
attribute accuracy, and the search's overhead over raw generator + CLIP forwards.

    clipspace eval --what glass-optimizers,glass-caption --report outputs/eval-glass
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..io import image_to_tensor
from ..search import OPTIMIZERS
from ..world.captions import CaptionParseError, caption_matches_scene, parse_caption
from ..world.datasets import batch_at, cached_split, scene_at
from .generation import mean_pairwise_distance
from .metrics import load_oracle, oracle_match

ATTRIBUTES = ("color", "shape", "size", "position")


def optimizer_comparison(
    pipe, prompts: list[str], *, generations: int = 24, population: int = 32, num_images: int = 2, seed: int = 0,
    eval_clip: str = "clip-eval", target_fraction: float = 0.98, front_plot: str | None = None,
) -> dict:
    """Every optimiser on the same prompts, seeds and budget (generations x population CLIP evaluations).

    Time to target: per prompt and seed, the target is `target_fraction` of the median final fitness over
    the optimisers; an optimiser's time is when its best-so-far first reached it (from the per-generation
    callback's clock). Also the final eval-CLIP score, oracle match and diversity (mean pairwise oracle
    feature distance among the images of a prompt).
    """
    from ..models.clip import ClipSpace

    clip = ClipSpace.from_pretrained(eval_clip)
    oracle = load_oracle()
    runs: dict[str, dict] = {}
    for opt in OPTIMIZERS:
        traces, images, texts, spread, evals = [], [], [], [], []
        for i, p in enumerate(prompts):
            for k in range(num_images):
                trace, t0 = [], time.perf_counter()
                out = pipe(p, num_images=1, seed=seed + 1000 * i + k, optimizer=opt, generations=generations,
                           population=population, callback=lambda info: trace.append((time.perf_counter() - t0, info.fitness)))
                traces.append(trace)
                images.append(image_to_tensor(out.images[0]))
                texts.append(p)
                evals.append(out.extras.get("evaluations", [np.nan])[0])
            spread.append(mean_pairwise_distance(oracle.read(torch.stack(images[-num_images:])).features))
        x = torch.stack(images)
        runs[opt] = {"traces": traces, "x": x, "texts": texts, "spread": spread, "evaluations": evals,
                     "front": out.extras.get("pareto_fronts", [None])[0] if opt == "nsga2" else None}
    finals = np.array([[t[-1][1] for t in runs[o]["traces"]] for o in OPTIMIZERS])  # (optimisers, runs)
    targets = target_fraction * np.median(finals, axis=0)
    report = {"budget": {"generations": generations, "population": population, "clip_evaluations": generations * population},
              "prompts": len(prompts), "images_per_prompt": num_images, "target_fraction": target_fraction}
    for o in OPTIMIZERS:
        r = runs[o]
        hit = [next((t for t, f in tr if f >= tg), None) for tr, tg in zip(r["traces"], targets)]
        reached = [h for h in hit if h is not None]
        match = oracle_match(r["x"], r["texts"], oracle)
        score = (clip.encode_image(r["x"]) * clip.encode_text(r["texts"])).sum(-1)
        report[o] = {
            "reached_target": len(reached) / len(hit),
            "seconds_to_target": float(np.mean(reached)) if reached else None,
            "seconds_per_search": float(np.mean([tr[-1][0] for tr in r["traces"]])),
            "clip_evaluations": float(np.nanmean(r["evaluations"])),
            "final_fitness": float(np.mean([tr[-1][1] for tr in r["traces"]])),
            "eval_clip_score": float(score.mean()),
            "oracle_full_match": match["all"]["full_match"],
            "diversity": float(np.mean(r["spread"])),
        }
    if front_plot and runs["nsga2"]["front"] is not None:
        plot_front(np.asarray(runs["nsga2"]["front"]), prompts[-1], front_plot)
        report["nsga2_front_plot"] = front_plot
    return report


def plot_front(front: np.ndarray, prompt: str, path: str) -> None:
    """NSGA-II's Pareto front: CLIP fitness against the critic's realism."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(front[:, 0])
    fig, ax = plt.subplots(figsize=(4.5, 3.5), dpi=120)
    ax.plot(front[order, 0], front[order, 1], "o-", ms=4)
    ax.set_xlabel("CLIP fitness (cosine to the prompt)")
    ax.set_ylabel("realism (critic)")
    ax.set_title(f"NSGA-II front: {prompt!r}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def caption_attributes(caption: str, scene) -> dict[str, bool]:
    """Which attributes of the scene the caption names correctly: its first object mention is matched to
    the scene object it agrees with most; an attribute it does not name counts as wrong. Stricter, over the whole
    caption: true_of_scene (one mention per object, every word and the relation true: caption_matches_scene) and
    complete (true, and every object's four attributes named)."""
    try:
        parsed = parse_caption(caption)
        m = parsed.objects[0]
    except (CaptionParseError, IndexError):
        return {a: False for a in ATTRIBUTES} | {f"{a}_named": False for a in ATTRIBUTES} | {"parsed": False, "true_of_scene": False, "complete": False}
    said = {a: getattr(m, a) for a in ATTRIBUTES}
    best = max(scene.objects, key=lambda o: sum(said[a] == getattr(o, a) for a in ATTRIBUTES))
    true = caption_matches_scene(parsed, scene)
    complete = true and all(getattr(o, a) is not None for o in parsed.objects for a in ATTRIBUTES)
    return ({a: said[a] == getattr(best, a) for a in ATTRIBUTES} | {f"{a}_named": said[a] is not None for a in ATTRIBUTES}
            | {"parsed": True, "true_of_scene": true, "complete": complete})


def caption_report(pipe, n: int = 500, decoders: tuple[str, ...] = ("guided", "ga", "ga-random"), split: str = "test", **kwargs) -> dict:
    """Image -> text on n images of a split: per-attribute accuracy and seconds per image, per decoder
    ("ga-random": the prefix search started from uniformly random prefixes, as the paper does)."""
    images = batch_at(cached_split(split, n), np.arange(n))
    scenes = [scene_at(split, i) for i in range(n)]
    out = {"n": n, "split": split}
    for d in decoders:
        t0 = time.perf_counter()
        method, extra = ("ga", {"lm_start": False}) if d == "ga-random" else (d, {})
        captions = [pipe.caption(images[i : i + 1], method=method, num_captions=1, **extra, **kwargs).captions[0][0] for i in range(n)]
        seconds = (time.perf_counter() - t0) / n
        rows = [caption_attributes(c, s) for c, s in zip(captions, scenes)]
        acc = {a: float(np.mean([r[a] for r in rows])) for a in ATTRIBUTES}
        named = {f"{a}_named": float(np.mean([r[f"{a}_named"] for r in rows])) for a in ATTRIBUTES}
        when_named = {f"{a}_right_when_named": float(np.mean([r[a] for r in rows if r[f"{a}_named"]] or [np.nan])) for a in ATTRIBUTES}
        out[d] = {**acc, "mean_attribute_accuracy": float(np.mean(list(acc.values()))), **named, **when_named,
                  "parse_rate": float(np.mean([r["parsed"] for r in rows])), "seconds_per_image": seconds,
                  "true_of_scene": float(np.mean([r["true_of_scene"] for r in rows])), "complete": float(np.mean([r["complete"] for r in rows])),
                  "examples": [{"caption": captions[i], "truth": [f"{o.size} {o.color} {o.shape} at {o.position}" for o in scenes[i].objects]}
                               for i in range(3)]}
    return out


@torch.no_grad()
def search_overhead(pipe, generations: int = 24, population: int = 32, seed: int = 0, repeats: int = 3) -> dict:
    """Wall time of a default search (GA) over `generations` x `population` candidates divided by the wall time of
    the same number of raw generator + CLIP forwards at the same batch size."""
    g = torch.Generator().manual_seed(seed)
    gen, clip = pipe.generator, pipe.clip
    pipe("a red circle", num_images=1, seed=seed, generations=2, population=population)  # warm-up
    search, raw = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        pipe("a red circle", num_images=1, seed=seed + r, generations=generations, population=population)
        search.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(generations):
            clip.encode_image(gen.synthesize(gen.sample_w(population, g)))
        raw.append(time.perf_counter() - t0)
    return {"generations": generations, "population": population, "search_seconds": float(np.median(search)),
            "raw_seconds": float(np.median(raw)), "overhead": float(np.median(search) / np.median(raw))}
