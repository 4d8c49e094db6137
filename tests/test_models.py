import pytest
import torch

from ganrator.models import create_model, list_models, model_kwargs, profile


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.randn(2, 1, 28, 28)
    out = model(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.logsumexp(1).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_registry_has_the_families():
    assert {"mlp", "cnn", "resnet", "wrn"} <= set(list_models())


def test_profile_counts_grow_with_width():
    small, big = profile(create_model("cnn", width=16)), profile(create_model("cnn", width=32))
    assert big["params"] > 3 * small["params"] and big["flops"] > 3 * small["flops"]
    # mlp 784-256-256-10: exact parameter count
    assert profile(create_model("mlp"))["params"] == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10


def test_bad_model_and_kwargs_name_the_choices():
    with pytest.raises(ValueError, match=r"unknown model 'vit'; registered models: .*cnn"):
        create_model("vit")
    with pytest.raises(ValueError, match=r"model 'cnn' has no argument\(s\) widht; valid: .*width"):
        create_model("cnn", widht=3)
    with pytest.raises(ValueError, match="wrn depth must be 6n\\+4"):
        create_model("wrn", depth=15)
    assert "width" in model_kwargs("cnn")


@pytest.mark.parametrize("name", list_models())
def test_forward_flops_hooks_count_what_torchs_counter_counts(name):
    from ganrator.models.flops import _torch_forward_flops, forward_flops

    model = create_model(name)
    assert forward_flops(model) == _torch_forward_flops(model) > 0
