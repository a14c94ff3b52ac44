import numpy as np
import torch

from clipspace.models.generator import BG_DIM, SLOT_DIM, W_DIM, scene_to_w
from clipspace.world.scene import SHAPES, Scene, SceneObject
from tests.tiny import tiny_generator


def _scene(*objects: SceneObject) -> Scene:
    return Scene("gray", tuple(objects))


def test_scene_code_layout_orders_objects_by_cell():
    a = SceneObject("star", "red", (220, 40, 40), "large", 26.0, 8, 48.0, 48.0)
    b = SceneObject("circle", "blue", (40, 80, 220), "small", 16.0, 0, 16.0, 16.0)
    w = scene_to_w(_scene(a, b))
    assert w.shape == (W_DIM,) and w[:BG_DIM].tolist() == [0, 1, 0]
    first, second = w[BG_DIM : BG_DIM + SLOT_DIM], w[BG_DIM + SLOT_DIM :]
    assert first[0] == 1 and first[1 + SHAPES.index("circle")] == 1 and np.allclose(first[9:], [16 / 64, -0.5, -0.5])
    assert second[1 + SHAPES.index("star")] == 1 and np.allclose(second[6:9], np.array([220, 40, 40]) / 255)
    assert not scene_to_w(_scene(b))[BG_DIM + SLOT_DIM :].any()  # an empty slot is all zeros


def test_objects_are_drawn_only_inside_their_box_and_only_when_present():
    g = tiny_generator()
    obj = SceneObject("square", "red", (220, 40, 40), "large", 20.0, 0, 16.0, 16.0)
    w = torch.from_numpy(np.stack([scene_to_w(_scene(obj)), scene_to_w(_scene())]))
    x = g.synthesize(w)
    bg = x[1, :, 0, 0]
    assert torch.allclose(x[1], bg[:, None, None].expand_as(x[1]))  # no object: one colour
    half = 20.0 / 2 * 1.25 * (1 + 1 / 8)  # the sprite: the extent box grown by SPRITE_MARGIN, + half a sprite pixel each side
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[int(16 - half) : int(16 + half) + 1, int(16 - half) : int(16 + half) + 1] = False
    assert torch.allclose(x[0][:, outside], bg[:, None], atol=1e-6)
    assert not torch.allclose(x[0], x[1])


def test_synthesis_is_differentiable_in_the_object_position():
    g = tiny_generator()
    obj = SceneObject("circle", "red", (220, 40, 40), "large", 26.0, 4, 32.0, 32.0)
    w = torch.from_numpy(scene_to_w(_scene(obj)))[None].requires_grad_()
    g.synthesize(w).sum().backward()
    x_grad = w.grad[0, BG_DIM + 10 : BG_DIM + 12]
    assert torch.isfinite(w.grad).all() and x_grad.abs().sum() > 0


def test_project_keeps_real_codes_and_makes_any_code_a_scene():
    from clipspace.models.generator import PRESENCE, RGB, SHAPE, SIZE, SLOTS, X, project
    from clipspace.world.datasets import scene_at
    from clipspace.world.scene import COLORS

    real = torch.tensor(np.stack([scene_to_w(scene_at("val", i)) for i in range(200)]))
    torch.testing.assert_close(project(real), real)  # a scene code is its own projection
    w = real + 0.3 * torch.randn(real.shape, generator=torch.Generator().manual_seed(0))
    p = project(w)
    torch.testing.assert_close(project(p), p)
    assert (p[:, :BG_DIM].sum(1) == 1).all() and set(p[:, :BG_DIM].unique().tolist()) == {0.0, 1.0}
    slots = p[:, BG_DIM:].view(len(p), SLOTS, SLOT_DIM)
    present = slots[:, :, PRESENCE] == 1
    assert present.any(1).all() and ((slots[:, :, PRESENCE] == 0) | present).all()  # 1 or 2 objects, presence 0/1
    assert (slots[~present] == 0).all()  # absent slots are zero, as scene_to_w writes them
    on = slots[present]
    assert (on[:, SHAPE].sum(1) == 1).all() and (on[:, SHAPE].max(1).values == 1).all()
    palette = torch.tensor(list(COLORS.values()), dtype=torch.float32) / 255
    assert ((on[:, None, RGB] - palette).abs().amax(-1).min(1).values <= 10 / 255 + 1e-5).all()  # within the colour jitter
    s = on[:, SIZE] * 64
    assert (((s >= 14 - 1e-4) & (s <= 18 + 1e-4)) | ((s >= 24 - 1e-4) & (s <= 30 + 1e-4))).all()
    cx = (on[:, X] + 1) * 32
    assert (((cx - 16).abs() <= 3 + 1e-4) | ((cx - 32).abs() <= 3 + 1e-4) | ((cx - 48).abs() <= 3 + 1e-4)).all()


def test_snapped_latent_space_draws_projected_codes_and_passes_gradients():
    from clipspace.models.generator import project
    from clipspace.search.latents import LatentSpace

    gen = tiny_generator()
    x = gen.sample_w(4, torch.Generator().manual_seed(1)) + 0.2
    x.requires_grad_(True)
    space = LatentSpace(gen, "w", snap=True)
    images = space.images(x)
    torch.testing.assert_close(images, gen.synthesize(project(x.detach())))
    images.mean().backward()  # straight through: Adam still moves x
    assert x.grad is not None and x.grad.abs().sum() > 0
