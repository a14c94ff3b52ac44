"""GLaSS's report: the optimiser comparison, image -> text attribute accuracy, search overhead (tiny models)."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

from clipspace.eval.glass_report import caption_attributes, caption_report, optimizer_comparison, search_overhead
from clipspace.pipelines.glass import GlassPipeline
from clipspace.search import OPTIMIZERS
from tests.tiny import tiny_caption_lm, tiny_clip, tiny_critic, tiny_generator


@pytest.fixture(scope="module")
def pipe():
    return GlassPipeline(tiny_generator(), tiny_clip(), tiny_critic(), tiny_caption_lm())


def _scene():
    return NS(background="white", objects=[
        NS(shape="circle", color="red", size="small", position="top left"),
        NS(shape="star", color="blue", size="large", position="center"),
    ])


def test_caption_attributes_match_the_closest_object_and_count_silence_as_wrong():
    r = caption_attributes("a large blue star in the center", _scene())
    assert {k: r[k] for k in ("color", "shape", "size", "position", "parsed")} == dict.fromkeys(("color", "shape", "size", "position", "parsed"), True)
    assert all(r[f"{a}_named"] for a in ("color", "shape", "size", "position"))
    r = caption_attributes("a red star", _scene())  # red matches the circle, star the other: one object wins
    assert r["size"] is False and r["position"] is False and r["color"] != r["shape"]
    assert r["color_named"] and not r["size_named"]
    assert caption_attributes("no such words here", _scene())["parsed"] is False
    # over the whole caption: one mention per object, all true; complete when every attribute is named
    assert not r["true_of_scene"] and not caption_attributes("a large blue star in the center", _scene())["true_of_scene"]
    r = caption_attributes("a red circle and a blue star", _scene())
    assert r["true_of_scene"] and not r["complete"]
    r = caption_attributes("a small red circle in the top left and a large blue star in the center", _scene())
    assert r["true_of_scene"] and r["complete"]
    assert not caption_attributes("a small red circle in the top left and a large blue star at the top", _scene())["true_of_scene"]


def test_optimizer_comparison_reports_every_optimizer(pipe, tmp_path):
    tiny_clip(1).save_pretrained(tmp_path / "eval-clip")
    rep = optimizer_comparison(pipe, ["a red circle", "a blue star"], generations=3, population=4, num_images=2,
                               eval_clip=str(tmp_path / "eval-clip"), front_plot=str(tmp_path / "front.png"))
    for o in OPTIMIZERS:
        r = rep[o]
        assert 0 <= r["reached_target"] <= 1 and -1 <= r["eval_clip_score"] <= 1 and 0 <= r["oracle_full_match"] <= 1
        assert r["clip_evaluations"] >= 3 * 4 - 4  # roughly the same budget for all (pymoo drops duplicates)
    assert max(rep[o]["reached_target"] for o in OPTIMIZERS) > 0  # the median optimiser reaches 98 % of itself
    assert (tmp_path / "front.png").stat().st_size > 0


def test_caption_report_and_search_overhead(pipe):
    rep = caption_report(pipe, n=3, decoders=("guided", "ga-random"), top_k=3, beam=2, generations=1, population=4)
    for d in ("guided", "ga-random"):
        g = rep[d]
        assert all(0 <= g[a] <= 1 for a in ("color", "shape", "size", "position")) and g["seconds_per_image"] > 0
    ov = search_overhead(pipe, generations=2, population=4, repeats=1)
    assert ov["overhead"] > 0 and np.isfinite(ov["overhead"])
