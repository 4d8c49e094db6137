import optuna
import pytest

from search_spaces.loader import SpaceError, list_spaces, load_space

SHIPPED = ["smoke", "cnn_aug", "augment", "optimizers", "resnet", "scaling", "aug_size", "aug_size_shared", "classical",
           "classical_svm"]
CROSS = ("scientific:\n  data_fraction: {feasible_points: [0.1, 1.0]}\n  aug_strength: {feasible_points: [0.0, 0.5]}\n"
         "  lr: {min: 0.1, max: 1}\nnuisance:\n  weight_decay: {min: 0.0001, max: 0.01}\n")


def test_aug_size_shared_gives_every_cell_the_recipe_s_settings():
    from ganrator.recipe import TrainConfig

    space = load_space("aug_size_shared")
    assert not [p for p in space.params if p.role == "nuisance"]
    for frac in (0.1, 0.25):
        for aug in (0.0, 0.5, 1.0):
            cfg = space.train_config({"data_fraction": frac, "aug_strength": aug})
            assert (cfg.lr, cfg.weight_decay, cfg.steps) == (TrainConfig.lr, TrainConfig.weight_decay, 1500)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_spaces_load_and_sample(name):
    space = load_space(name)
    assert space.description and set(space.roles.values()) <= {"scientific", "nuisance", "fixed"}
    assert "scientific" in space.roles.values()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        space.sample(trial)
        space.config(trial.params)
        study.tell(trial, 0.5)


def test_list_spaces_has_descriptions():
    spaces = list_spaces()
    assert set(SHIPPED) <= set(spaces) and all(spaces[s] and "invalid" not in spaces[s] for s in SHIPPED)


def test_conditionals_and_parametrizations():
    space = load_space("cnn_aug")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        space.sample(trial)
        p = trial.params
        cfg = space.train_config(p)
        seen.add((p["model"], p["optimizer"]))
        assert ("one_minus_momentum" in p) == (p["optimizer"] == "nesterov")
        assert ("one_minus_beta1" in p) == (p["optimizer"] == "adamw")
        if "one_minus_beta1" in p:
            assert cfg.beta1 == pytest.approx(1 - p["one_minus_beta1"])
        # model kwargs are sampled only for their model and reach model_kwargs
        assert all(k.split(".")[0] == p["model"] for k in p if "." in k)
        if p["model"] == "cnn":
            assert cfg.model_kwargs == {"width": p["cnn.width"], "depth": p["cnn.depth"]}
        if p["model"] == "resnet":
            assert cfg.model_kwargs == {"width": p["resnet.width"], "depth": 20}  # fixed resnet.depth applies
        study.tell(trial, 0.5)
    assert len(seen) == 6


def write(tmp_path, text):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize("text, message", [
    ("scientific:\n  lrate: {min: 0.1, max: 1}\n", r"bad\.yaml: lrate: unknown key; valid keys: model, optimizer, lr"),
    ("scientific:\n  lr: {min: 0.5, max: 0.1}\n", r"bad\.yaml: lr: min 0\.5 > max 0\.1"),
    ("scientific:\n  lr: {min: 0.1, max: 0.1}\n", r"bad\.yaml: lr: empty range"),
    ("scientific:\n  lr: {min: 0.0, max: 0.1, scaling: log}\n", r"bad\.yaml: lr: log scaling needs min > 0, got 0\.0"),
    ("scientific:\n  model: {feasible_points: [cnn, vit]}\n", r"bad\.yaml: model: unknown model\(s\) vit; registered: .*cnn"),
    ("scientific:\n  cnn.widht: {feasible_points: [8]}\n", r"bad\.yaml: cnn\.widht: model 'cnn' has no argument 'widht'; valid: .*width"),
    ("scientific:\n  optimizer: {feasible_points: [sgd, lion]}\n", r"bad\.yaml: sampled config .* rejected: optimizer='lion' is not one of"),
    ("scientific:\n  lr: {min: 0.1, max: 1, step: 2}\n", r"bad\.yaml: lr: unknown field\(s\) step; valid: min, max"),
    ("scientific:\n  lr: {feasible_points: []}\n", r"bad\.yaml: lr: feasible_points must be a non-empty list"),
    ("scientfic:\n  lr: {min: 0.1, max: 1}\n", r"bad\.yaml: unknown top-level key\(s\) scientfic; valid: description"),
    ("fixed:\n  epochs: 3\n", r"bad\.yaml: no scientific or nuisance parameter"),
    ("scientific:\n  lr: {min: 0.1, max: 1}\nfixed:\n  lr: 0.1\n", r"bad\.yaml: lr appear\(s\) in more than one role"),
    ("scientific:\n  momentum: {min: 0.1, max: 0.9, when: {optimizer: [sgd]}}\n",
     r"bad\.yaml: momentum: `when` refers to 'optimizer', which is not fixed or sampled before it"),
    ("scientific: [1, 2\n", r"bad\.yaml: not valid YAML"),
    ("scientific:\n  lr: {min: 0.1, max: 1}\nfixed:\n  steps: -5\n",
     r"bad\.yaml: sampled config .* rejected: steps must be an integer >= 0 \(0 = train for `epochs`\), got -5"),
    ("scientific:\n  lr: {min: 0.1, max: 1}\nfixed:\n  warmup_steps: 2.5\n",
     r"bad\.yaml: sampled config .* rejected: warmup_steps must be an integer >= 0"),
    (CROSS + "confirm: {crosss: [data_fraction, aug_strength]}\n",
     r"bad\.yaml: confirm: unknown key\(s\) crosss; valid: cross"),
    (CROSS + "confirm: [data_fraction]\n", r"bad\.yaml: confirm: must be a mapping with key\(s\) cross"),
    (CROSS + "confirm: {cross: [data_fraction]}\n", r"bad\.yaml: confirm\.cross: must list at least two different "
     r"scientific parameters, got \['data_fraction'\]; candidates: data_fraction, aug_strength"),
    (CROSS + "confirm: {cross: [data_fraction, weight_decay]}\n", r"bad\.yaml: confirm\.cross: 'weight_decay' is not "
     r"a scientific parameter of this space; candidates: data_fraction, aug_strength"),
    (CROSS + "confirm: {cross: [data_fraction, lr]}\n", r"bad\.yaml: confirm\.cross: 'lr' needs feasible_points"),
])
def test_bad_space_files_name_file_key_and_choices(tmp_path, text, message):
    with pytest.raises(SpaceError, match=message):
        load_space(write(tmp_path, text))


OPT = "scientific:\n  optimizer: {feasible_points: [sgd, adamw]}\n"


@pytest.mark.parametrize("text, message", [
    # the reported case: the smoke space's cnn (fixed) against a `when` asking for another model
    ("nuisance:\n  lr: {min: 0.01, max: 0.5}\n  cnn.width: {feasible_points: [4, 8], when: {model: [cnnx]}}\n"
     "fixed:\n  model: cnn\n", "cnn.width: `when` model in ['cnnx'] can never hold: model is fixed to 'cnn'"),
    (OPT + "  one_minus_beta1: {min: 0.01, max: 0.3, when: {optimizer: [adam]}}\n",
     "one_minus_beta1: `when` optimizer: 'adam' is not a value of optimizer (choices: 'sgd', 'adamw')"),
    ("scientific:\n  epochs: {min: 1, max: 3}\n  lr: {min: 0.1, max: 1, when: {epochs: [5]}}\n",
     "lr: `when` epochs: 5 is not a value of epochs (an integer from 1 to 3)"),
    ("scientific:\n  weight_decay: {min: 0.0, max: 0.1}\n  lr: {min: 0.1, max: 1, when: {weight_decay: [0.05]}}\n",
     "lr: `when` weight_decay in [0.05] can never hold: weight_decay is continuous (0 to 0.1)"),
    # sampled as a kwarg of cnn, but asked for only with resnet
    ("scientific:\n  model: {feasible_points: [cnn, resnet]}\n"
     "  cnn.width: {feasible_points: [4, 8], when: {model: [resnet]}}\n",
     "cnn.width: `when` model in ['resnet'] can never hold: cnn.width applies only when model is 'cnn'"),
    # through a conditional parameter: lr needs adamw, but the parameter it also needs exists only under sgd
    (OPT + "  one_minus_momentum: {feasible_points: [0.1, 0.01], when: {optimizer: [sgd]}}\n"
     "  lr: {min: 0.1, max: 1, when: {optimizer: [adamw], one_minus_momentum: [0.1]}}\n",
     "lr: `when` optimizer in ['adamw'] can never hold: one_minus_momentum is sampled only when optimizer in ['sgd']"),
])
def test_a_when_that_can_never_hold_names_the_parameter_and_why(tmp_path, text, message):
    with pytest.raises(SpaceError) as e:
        load_space(write(tmp_path, text))
    assert str(e.value).startswith(f"{tmp_path / 'bad.yaml'}: {message}"), str(e.value)
    assert "\n" not in str(e.value)


def test_a_when_that_can_hold_is_kept(tmp_path):
    text = (OPT + "  one_minus_momentum: {feasible_points: [0.1], when: {optimizer: [sgd]}}\n"
            "  lr: {min: 0.1, max: 1, when: {one_minus_momentum: [0.1]}}\nfixed:\n  model: cnn\n  cnn.width: 4\n")
    space = load_space(write(tmp_path, text))
    assert {p.name: p.when for p in space.params}["lr"] == {"one_minus_momentum": (0.1,)}


def test_unknown_space_name_lists_available():
    with pytest.raises(SpaceError, match=r"no search space 'cnn_agu' .*available: .*cnn_aug"):
        load_space("cnn_agu")


def test_tpe_sampler_explores_then_exploits_a_conditional_space():
    """The study's TPE (group-decomposed, startup trials from the budget) on the real cnn_aug space, with a
    planted objective: cnn is best, and so is a wider cnn. After the random start it must home in on both."""
    import warnings

    from tuning.search import make_sampler

    space = load_space("cnn_aug")
    startup, total = 12, 36
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "falls back to independent sampling" would fail here
        study = optuna.create_study(direction="maximize", sampler=make_sampler("tpe", seed=0, startup_trials=startup))
        for _ in range(total):
            trial = study.ask()
            space.sample(trial)
            p = trial.params
            value = 0.5 + 0.3 * (p["model"] == "cnn") + 0.1 * (p.get("cnn.width", 0) >= 32)
            study.tell(trial, value)
    models = [t.params["model"] for t in study.trials]
    start_share = models[:startup].count("cnn") / startup
    tpe_share = models[startup:].count("cnn") / (total - startup)
    assert tpe_share > max(start_share, 0.6), (start_share, tpe_share)
    widths = [t.params["cnn.width"] for t in study.trials[startup:] if "cnn.width" in t.params]
    assert sum(w >= 32 for w in widths) > len(widths) / 2, widths
