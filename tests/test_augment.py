import pytest
import torch

from ganrator import augment as A


def batch(n=64, c=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, 28, 28, generator=g), torch.eye(10)[torch.arange(n) % 10]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


FULL = A.AugmentConfig(strength=1.0, flip=0.5, translate=3, rotate=15, scale=0.1, erase=0.5, mixup=0.4, cutmix=1.0)


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_dtype_and_targets_stay_distributions(channels):
    x, y = batch(c=channels)
    out, t = A.augment(x, y, FULL, gen())
    assert out.shape == x.shape and out.dtype == x.dtype and t.shape == y.shape
    assert torch.allclose(t.sum(1), torch.ones(len(t)))
    assert not torch.equal(out, x)


def test_strength_zero_is_exactly_identity():
    x, y = batch()
    cfg = A.AugmentConfig(**{**FULL.__dict__, "strength": 0.0})
    out, t = A.augment(x, y, cfg, gen())
    assert torch.equal(out, x) and torch.equal(t, y)


def test_determinism_under_seed_and_variation_across_seeds():
    x, y = batch()
    a = A.augment(x, y, FULL, gen(7))
    b = A.augment(x, y, FULL, gen(7))
    c = A.augment(x, y, FULL, gen(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_flip_mirrors_only_chosen_images():
    x, _ = batch(256)
    out = A.hflip(x, 0.5, gen())
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert torch.all(flipped ^ kept)  # per image: exactly mirrored or untouched
    assert 80 < flipped.sum() < 176  # about half, per-image random


def test_translate_moves_a_pixel_by_the_shift():
    x = torch.zeros(200, 1, 28, 28)
    x[:, :, 14, 14] = 1.0
    out = A.translate(x, 2, gen())
    pos = out.flatten(1).argmax(1)
    dy, dx = pos // 28 - 14, pos % 28 - 14
    assert torch.all(out.flatten(1).sum(1) == 1)  # the pixel survives, nothing else appears
    assert dy.abs().max() == 2 and dx.abs().max() == 2  # shifts reach the radius...
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 15  # ...and differ between images


def test_translate_fills_border_with_zero():
    x = torch.ones(100, 1, 28, 28)
    out = A.translate(x, 3, gen())
    shifted = (out == 0).flatten(1).any(1)
    assert shifted.float().mean() > 0.5 and torch.all((out == 0) | (out == 1))


def test_erase_zeroes_one_rectangle():
    x = torch.ones(100, 1, 28, 28)
    out = A.erase(x, 1.0, 0.25, gen())
    zero_share = (out == 0).flatten(1).float().mean(1)
    assert torch.all(zero_share > 0) and torch.all(zero_share <= 0.3)


def test_affine_rotation_keeps_mass_roughly():
    x = torch.zeros(10, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    out = A.affine(x, 30, 0.0, gen())
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.1)
    assert not torch.allclose(out, x)


def test_mixup_labels_match_pixel_blend():
    # Image i is constant at value class_i / 10, so a blend's pixel value must equal its label's mean class / 10.
    cls = torch.arange(40) % 10
    x = (cls.float() / 10)[:, None, None, None].expand(40, 1, 28, 28).clone()
    out, t = A.mix(x, torch.eye(10)[cls], 0.4, 0.0, gen())
    expected = (t * torch.arange(10).float() / 10).sum(1)
    assert torch.allclose(out.mean((1, 2, 3)), expected, atol=1e-5)
    assert (t.max(1).values < 0.999).sum() > 10  # most images really are mixed


def test_cutmix_label_weight_is_pasted_area():
    x = torch.zeros(64, 1, 28, 28)
    x[torch.arange(64) % 2 == 1] = 1.0  # odd images white, even black
    y = torch.eye(10)[torch.arange(64) % 2]
    out, t = A.mix(x, y, 0.0, 1.0, gen())
    white_share = out.flatten(1).mean(1)
    assert torch.allclose(t[:, 1], white_share, atol=1e-6)


def test_strength_out_of_range():
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\]"):
        A.AugmentConfig(strength=1.5)
