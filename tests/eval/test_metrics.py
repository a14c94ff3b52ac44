
from clipspace.eval import check_reading, oracle_match, prompt_group
from clipspace.io import load_images
from clipspace.world import parse_caption, render
from clipspace.world.datasets import scene_at


def _read(*objs, background="black"):
    return {"background": background, "objects": [dict(cell=c, position=p, color=col, shape=s, size=z) for c, p, col, s, z in objs]}


def test_check_reading_attributes_and_relation():
    read = _read((0, "top left", "red", "circle", "small"), (8, "bottom right", "blue", "star", "large"))
    ok = check_reading(parse_caption("a red circle above a big blue star"), read)
    assert ok["full_match"] and ok["relation"] and ok["count"]
    bad = check_reading(parse_caption("a red circle below a big blue star"), read)
    assert not bad["full_match"] and not bad["relation"] and bad["color"]
    one = check_reading(parse_caption("a red circle"), read)
    assert one["color"] and one["shape"] and not one["count"] and not one["full_match"]
    missing = check_reading(parse_caption("a green square on a black background"), _read())
    assert not missing["color"] and missing["background"] and not missing["full_match"]


def test_prompt_groups():
    assert prompt_group(parse_caption("a purple star")) == "held_out"
    assert prompt_group(parse_caption("a red star")) == "seen"
    assert prompt_group(parse_caption("a purple shape")) == "other"


def test_oracle_match_on_real_scenes_and_wrong_prompts():
    scenes = [scene_at("test", i) for i in range(60)]
    images = load_images([render(s) for s in scenes])
    from clipspace.world import caption_scene
    import numpy as np

    rng = np.random.default_rng(0)
    prompts = [caption_scene(s, rng, hold_out=False) for s in scenes]
    res = oracle_match(images, prompts)
    assert res["all"]["full_match"] >= 0.95 and res["all"]["n"] == 60
    assert len(res["per_image"]) == 60
    wrong = oracle_match(images, ["a tiny green diamond in the center on a white background"] * 60)
    assert wrong["all"]["full_match"] < 0.2
    assert wrong["held_out"]["n"] == 60 and wrong["seen"]["n"] == 0
