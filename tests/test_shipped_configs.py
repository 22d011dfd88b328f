"""The example configs ship with the package: `--config deep_mlp` works from any folder,
the repo's configs/ is the same files, and a path not found names the shipped ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from initcmp.config import yaml_files
from initcmp.errors import ConfigError
from helpers import load_config, run_cli

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ROOT / "initcmp" / "config" / "presets"
NAMES = [
    "deep_mlp",
    "edge_of_chaos",
    "he_depth",
    "mnist_mlp",
    "sigmoid_mlp",
    "tanh_mlp",
    "width_coord_check",
    "width_lr_transfer",
]


def test_the_configs_are_shipped_and_the_repos_folder_is_the_same_files():
    assert yaml_files.shipped() == NAMES
    assert (ROOT / "configs").resolve() == (PRESETS).resolve()  # one copy
    for name in NAMES:
        assert (ROOT / "configs" / f"{name}.yaml").read_bytes() == (
            PRESETS / f"{name}.yaml"
        ).read_bytes()


def test_the_package_data_takes_every_shipped_config():
    """What a non-editable install (a wheel) copies: pyproject's package-data patterns."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["initcmp.config"]
    packaged = {
        p.relative_to(PRESETS.parent) for pattern in patterns for p in PRESETS.parent.glob(pattern)
    }
    assert {Path("presets") / f"{name}.yaml" for name in NAMES} <= packaged


@pytest.mark.parametrize("name", NAMES)
def test_a_config_by_name_from_any_folder(name, tmp_path, monkeypatch):
    from_repo = load_config(ROOT / "configs" / f"{name}.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_config(name) == from_repo
    assert load_config(f"{name}.yaml") == from_repo
    result = run_cli("config", "--config", name, "--json")
    assert result.exit_code == 0, result.stderr
    assert f'"name": "{name}"' in result.stdout


def test_a_file_in_the_folder_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep_mlp.yaml").write_text("name: mine\n")
    assert load_config("deep_mlp.yaml").name == "mine"
    assert load_config("deep_mlp").name == "deep_mlp"  # no such file here: the shipped one


@pytest.mark.parametrize("path", ["x.yaml", "configs/deep_mlp.yaml", "deep_mlp.yml", "dir/x"])
def test_a_path_not_found_names_the_shipped_configs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: config file not found; the shipped configs are: "
        "deep_mlp, edge_of_chaos, he_depth, mnist_mlp, sigmoid_mlp, tanh_mlp, "
        "width_coord_check, width_lr_transfer (`--config NAME`, from any folder)"
    )


def test_each_header_names_a_command_that_works_from_anywhere():
    for name in NAMES:
        text = (PRESETS / f"{name}.yaml").read_text()
        assert "--config configs/" not in text
        assert f"--config {name}\n" in text or f"--config {name} " in text
