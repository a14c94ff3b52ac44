import torch

from clipspace.search.target import augment


def test_augment_views_are_small_seeded_differentiable_perturbations():
    from clipspace.world.datasets import batch_at, cached_split

    x = batch_at(cached_split("val", 8), torch.arange(4).numpy()).requires_grad_()
    v = augment(x, 3, torch.Generator().manual_seed(0))
    assert v.shape == (12, 3, 64, 64) and 0 <= v.min() and v.max() <= 1
    assert torch.equal(v, augment(x, 3, torch.Generator().manual_seed(0)))
    diff = (v.view(3, 4, 3, 64, 64) - x[None]).abs().mean((1, 2, 3, 4))
    assert (diff > 0.005).all() and (diff < 0.15).all()
    v.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
