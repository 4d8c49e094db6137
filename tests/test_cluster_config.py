"""cluster.yaml and cluster-local.yaml pass Ray's own cluster-launcher validation, and say what matters."""
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_cluster_config_passes_ray_validation(name):
    config = yaml.safe_load((ROOT / name).read_text())
    validate_config(prepare_config(config))  # what `ray up` does before contacting the provider
    setup = " ".join(config["setup_commands"])
    assert "dataset-fashion-mnist" in setup and "pip install" in setup
    assert config["file_mounts"]["~/ganrator"] == "."
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if "ray start" in c)


def test_aws_cluster_has_cpu_head_and_autoscaling_gpu_workers():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    assert config["provider"]["type"] == "aws"
    workers = config["available_node_types"]["gpu_worker"]
    assert workers["min_workers"] == 0 < workers["max_workers"]
    assert config["available_node_types"][config["head_node_type"]]["resources"] == {"CPU": 0}


def test_validation_really_rejects_a_broken_config():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["available_node_types"]["gpu_worker"]["max_workers"] = "many"
    with pytest.raises(jsonschema.ValidationError, match="'many' is not of type 'integer'"):
        validate_config(prepare_config(config))
