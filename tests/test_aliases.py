"""Initializer names as users know them: Keras' and PyTorch's names and the common ones,
any case, resolved to the registry's own name, which the records keep; `--inits all`;
the nearest name for a typo; and the names that would mean another distribution refused
with what to use instead."""

from __future__ import annotations

import json

import pytest

from initcmp.config import schema
from initcmp.inits import aliases
from initcmp.inits import registry
from initcmp.errors import ConfigError
from helpers import SYNTHETIC_ARGS, load_config, run_cli


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("xavier", "glorot"),
        ("Xavier", "glorot"),
        ("xavier_uniform", "glorot"),
        ("xavier_uniform_", "glorot"),  # PyTorch's function name
        ("glorot_uniform", "glorot"),
        ("GlorotUniform", "glorot"),  # Keras' class
        ("HE", "he"),
        ("he_uniform", "he"),
        ("HeUniform", "he"),
        ("kaiming", "he"),
        ("kaiming_uniform", "he"),
        ("Glorot", "glorot"),
        ("glorot_normal", "glorot_normal"),
        ("HeNormal", "he_normal"),  # Keras' HeNormal is the registry's he_normal
        ("LSUV", "lsuv"),
        ("orthogonal_", "orthogonal"),
        ("TruncatedNormal", "truncated_normal"),
    ],
)
def test_an_alias_resolves_to_the_registry_name(typed, canonical):
    assert aliases.resolve(typed) == canonical
    assert load_config(init=typed).init.name == canonical
    assert load_config(overrides=(f"compare.inits=[{typed}]",)).compare.inits == (canonical,)


def test_the_run_folder_and_records_use_the_registry_name():
    cfg = load_config(init="Xavier", seed=2)
    assert cfg.run_name == "glorot-s2"
    assert cfg == load_config(init="glorot", seed=2)
    assert "name: glorot\n" in schema.dump_yaml(cfg)


def test_an_alias_keeps_the_parameters_of_its_own_initializer(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("init:\n  name: glorot\n  gain: tanh\n")
    # `--init xavier` is `--init glorot`: the file's glorot gain stays, as it would.
    assert load_config(path, init="xavier").init.params["gain"] == "tanh"
    assert load_config(path, init="he").init.params == {"mode": "fan_in"}


@pytest.mark.parametrize("name", ["xavier_normal", "kaiming_normal", "Kaiming_Normal_"])
def test_a_name_that_means_another_distribution_is_refused_with_what_to_use(name):
    with pytest.raises(ConfigError) as info:
        load_config(init=name)
    message = str(info.value)
    assert "\n" not in message
    assert "untruncated" in message and "variance_scaling" in message
    with pytest.raises(ConfigError, match="untruncated"):
        load_config(overrides=(f"compare.inits=[he, {name}]",))


def test_random_normal_is_refused_naming_both_defaults():
    message = str(pytest.raises(ConfigError, lambda: load_config(init="random_normal")).value)
    assert "0.05" in message and "random" in message


@pytest.mark.parametrize(
    "typed, nearest",
    [
        ("gloro", "glorot"),
        ("xaviar", "xavier"),
        ("orthogonl", "orthogonal"),
        ("kaimnig", "kaiming"),
    ],
)
def test_an_unknown_name_suggests_the_nearest(typed, nearest):
    message = str(pytest.raises(ConfigError, lambda: load_config(init=typed)).value)
    assert f"unknown initializer {typed!r}" in message
    assert f"did you mean {nearest!r}" in message
    assert "valid names" in message
    inits = str(
        pytest.raises(
            ConfigError, lambda: load_config(overrides=(f"compare.inits=[{typed}]",))
        ).value
    )
    assert f"did you mean {nearest!r}" in inits


def test_inits_all_is_every_initializer_and_duplicates_are_one_run():
    assert load_config(overrides=("compare.inits=[all]",)).compare.inits == tuple(registry.REGISTRY)
    result = run_cli("config", "--inits", "xavier,glorot,HE", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["compare"]["inits"] == ["glorot", "he"]


def test_the_command_line_accepts_aliases_and_all(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", "--init", "Xavier", *SYNTHETIC_ARGS, "--set", "train.epochs=1")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "logs" / "mnist_mlp" / "glorot-s0" / "result.json").is_file()
    again = run_cli("train", "--init", "glorot", *SYNTHETIC_ARGS, "--json")
    assert json.loads(again.stdout)["resumed_from_step"] == 24  # the same run, finished
    every = run_cli("config", "--inits", "all", "--json")
    assert json.loads(every.stdout)["compare"]["inits"] == list(registry.REGISTRY)


def test_inits_lists_the_aliases():
    rows = {row["name"]: row for row in json.loads(run_cli("inits", "--json").stdout)}
    assert {"xavier", "glorot_uniform", "xavier_uniform"} <= set(rows["glorot"]["aliases"])
    assert {"kaiming", "he_uniform", "kaiming_uniform"} <= set(rows["he"]["aliases"])
    assert rows["random"]["aliases"] == []
    text = run_cli("inits").stdout
    assert "xavier" in text and "kaiming" in text


def test_every_alias_is_unambiguous():
    seen = {}
    for spec in registry.REGISTRY.values():
        for name in (spec.name, *spec.aliases):
            assert aliases.resolve(name) == spec.name
            key = name.lower().replace("_", "")
            assert seen.setdefault(key, spec.name) == spec.name, name
