"""initcmp from Python (initcmp/api): the functions give the numbers the commands give
(the CLI calls them), raise the library's exceptions with the line the CLI prints, print
nothing, and return results with rows, a DataFrame, a figure, a table and the runs'
records. Synthetic data, a few steps a run."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

import initcmp
from helpers import SYNTHETIC_ARGS, error_line, python
from initcmp.errors import ConfigError, InitcmpError, MissingDependencyError, NoResultsError

SYNTHETIC = {"data.name": "synthetic"}
# Short runs: 6 steps, train-set accuracy on 100 images.
SHORT = {**SYNTHETIC, "eval.train_images": 100}
SHORT_ARGS = [*SYNTHETIC_ARGS, "--set", "eval.train_images=100"]


def cli(*args):
    """`initcmp ARGS...` in this process; stdout and stderr apart."""
    from initcmp.cli.main import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def without_time(value):
    """`value` without its wall-clock keys (`seconds`), recursively."""
    if isinstance(value, dict):
        return {k: without_time(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_time(v) for v in value]
    return value


def weights(root) -> dict:
    """{run folder: weights_sha256} of every finished run under `root/logs`."""
    return {
        p.parent.name: json.loads(p.read_text())["weights_sha256"]
        for p in sorted((root / "logs").rglob("result.json"))
    }


def dirs(root) -> dict:
    return {"checkpoint_dir": root / "ck", "log_dir": root / "logs"}


def dir_args(root) -> list[str]:
    return ["--checkpoint-dir", str(root / "ck"), "--log-dir", str(root / "logs")]


# --- import: nothing heavy ---------------------------------------------------------------


def test_importing_initcmp_loads_neither_tensorflow_ray_matplotlib_nor_pandas():
    done = python(
        "-c",
        "import sys, initcmp; [getattr(initcmp, name) for name in initcmp.__all__]; "
        "print(sorted({'tensorflow', 'keras', 'ray', 'matplotlib', 'pandas'} & set(sys.modules)))",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_public_names_are_the_apis_and_each_says_what_it_does():
    from initcmp import api

    assert set(initcmp.__all__) <= set(api.__all__)
    for name in ("train", "evaluate", "compare", "sweep", "load", "theory", "inspect"):
        function = getattr(initcmp, name)
        assert function is getattr(api, name)
        doc = function.__doc__
        assert "Args:" in doc and "Returns:" in doc and "Raises:" in doc, name
    with pytest.raises(AttributeError):
        initcmp.no_such_name  # noqa: B018


def test_nothing_outside_the_cli_exits_the_process():
    import ast
    from pathlib import Path

    package = Path(initcmp.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
            if name in ("exit", "_exit", "SystemExit") and not isinstance(node, ast.arg):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == []


# --- errors: the library's, with the line the CLI prints -------------------------------


def cli_message(*args) -> str:
    """The message of the one error line `initcmp ARGS...` ends with."""
    return error_line(cli(*args), code=2).removeprefix("initcmp: error: ")


@pytest.mark.parametrize(
    "call, args",
    [
        (
            lambda: initcmp.make_config(overrides={"model.dpth": 3}),
            ["config", "--set", "model.dpth=3"],
        ),
        (
            lambda: initcmp.make_config(seeds=0),
            ["config", "--seeds", "0"],
        ),
        (
            lambda: initcmp.make_config(grid={"model.depth": [2, -1]}),
            ["config", "--grid", "model.depth=2,-1"],
        ),
        (
            lambda: initcmp.make_config(grid={"init.scale": "1:x"}),
            ["config", "--grid", "init.scale=1:x"],
        ),
        (
            lambda: initcmp.theory(init="lsuv", overrides=SYNTHETIC),
            ["theory", "--init", "lsuv", *SYNTHETIC_ARGS],
        ),
    ],
    ids=["bad key", "bad seeds", "bad grid value", "bad range", "no theory for lsuv"],
)
def test_a_mistake_raises_a_config_error_with_the_clis_line(call, args):
    with pytest.raises(ConfigError) as raised:
        call()
    assert str(raised.value) == cli_message(*args)
    assert "\n" not in str(raised.value)


def test_a_missing_comparison_or_sweep_raises_no_results_with_the_clis_line(tmp_path):
    with pytest.raises(NoResultsError) as raised:
        initcmp.load(**dirs(tmp_path))
    assert str(raised.value) == cli_message("report", *dir_args(tmp_path))
    with pytest.raises(NoResultsError) as raised:
        initcmp.load(sweep="depth-0000", **dirs(tmp_path))
    assert str(raised.value) == cli_message("report", "--sweep", "depth-0000", *dir_args(tmp_path))
    assert "no sweep 'depth-0000'" in str(raised.value)


def test_compare_and_sweep_raise_before_anything_trains(tmp_path):
    with pytest.raises(ConfigError) as raised:
        initcmp.compare(overrides={**SYNTHETIC, "model.dpth": 3}, **dirs(tmp_path))
    assert str(raised.value) == cli_message(
        "compare", *SYNTHETIC_ARGS, "--set", "model.dpth=3", *dir_args(tmp_path)
    )
    with pytest.raises(ConfigError) as raised:
        initcmp.sweep(grid={"model.depth": [1, 0]}, overrides=SYNTHETIC, **dirs(tmp_path))
    assert str(raised.value) == cli_message(
        "sweep", "--grid", "model.depth=1,0", *SYNTHETIC_ARGS, *dir_args(tmp_path)
    )
    with pytest.raises(ConfigError, match="the sweep grid is empty"):
        initcmp.sweep(overrides=SYNTHETIC, **dirs(tmp_path))
    assert not (tmp_path / "logs").exists()  # nothing written


# --- theory: no training, no TensorFlow --------------------------------------------------


def test_theory_gives_the_clis_numbers_table_and_figure(tmp_path):
    deep = {**SYNTHETIC, "model.depth": 20, "model.activation": "tanh"}
    result = initcmp.theory(init="glorot", overrides=deep, critical=True)
    args = ["theory", "--init", "glorot", *SYNTHETIC_ARGS, "--critical"]
    args += ["--set", "model.depth=20", "--set", "model.activation=tanh"]
    assert result.summary == json.loads(cli(*args, "--json").stdout)
    assert result.rows == result.summary["layers"] and len(result.rows) == 21
    assert str(result) == cli(*args).stdout  # the table as the command prints it
    markdown = result._repr_markdown_()
    assert "| layer | σ_w² | q | act std | χ | δ | grad |" in markdown
    assert result.summary["meaning"] in markdown
    figure = result.plot(tmp_path / "phase.png")
    assert type(figure).__name__ == "Figure" and len(figure.axes) == 2
    assert (tmp_path / "phase.png").read_bytes()[:4] == b"\x89PNG"


def test_to_pandas_has_the_rows_or_says_how_to_install_pandas(monkeypatch):
    result = initcmp.theory(overrides=SYNTHETIC)
    frame = result.to_pandas()
    assert list(frame["fan_in"]) == [r["fan_in"] for r in result.rows]
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(MissingDependencyError) as raised:
        result.to_pandas()
    assert str(raised.value) == "pandas is not installed: pip install 'initcmp[notebook]'"
    assert isinstance(raised.value, (InitcmpError, ImportError))


def test_the_api_prints_nothing_unless_asked(capfd):
    initcmp.theory(overrides=SYNTHETIC)
    with pytest.raises(ConfigError):
        initcmp.make_config(overrides={"nope": 1})
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# --- the same numbers as the command line ------------------------------------------------


def test_compare_gives_the_rows_of_compare_json_and_the_same_weights(tmp_path, capfd):
    api_root, cli_root = tmp_path / "api", tmp_path / "cli"
    result = initcmp.compare(
        inits="glorot,he", seeds=2, overrides={**SHORT, "train.steps": 6}, **dirs(api_root)
    )
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # progress is off by default
    done = cli(
        "compare", "--inits", "glorot,he", "--seeds", "2", *SHORT_ARGS,
        "--set", "train.steps=6", "--json", *dir_args(cli_root),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    assert without_time(result.summary) == without_time(printed)
    assert [r["init"] for r in result.rows] == ["glorot", "he"]
    assert weights(api_root) == weights(cli_root) and len(weights(api_root)) == 4
    # the same files the command writes, and the command reads the API's runs back
    assert sorted(f.name for f in result.files) == [
        "compare.csv", "compare.json", "compare.md", "compare.png",
    ]  # fmt: skip
    again = cli(
        "compare", "--inits", "glorot,he", "--seeds", "2", *SHORT_ARGS,
        "--set", "train.steps=6", "--json", *dir_args(api_root),
    )  # fmt: skip
    assert json.loads(again.stdout) == result.summary  # read back: equal, seconds too
    loaded = initcmp.load(**dirs(api_root))
    assert loaded.summary == result.summary
    assert loaded.files == []  # load writes nothing unless asked

    # the runs' records: per-step curves, up to the step the comparison reads
    assert [(r.init, r.seed) for r in result.runs] == [
        ("glorot", 0), ("glorot", 1), ("he", 0), ("he", 1),
    ]  # fmt: skip
    metrics = result.runs[0].metrics()
    assert metrics[-1]["step"] == 6 and "test_accuracy" in metrics[-1]
    curves = result.curves()
    assert {(c["init"], c["seed"]) for c in curves} == {(r.init, r.seed) for r in result.runs}
    last = [c for c in curves if c["init"] == "he" and c["seed"] == 1][-1]
    assert last["test_accuracy"] == result.rows[1]["runs_detail"][1]["test_accuracy"]

    # how it shows: the command's table, Markdown in Jupyter, a DataFrame, the figure
    assert "test accuracy by initializer" in str(result)
    markdown = result._repr_markdown_()
    assert "| init | runs | acc % ± std |" in markdown and "paired by seed" in markdown
    frame = result.to_pandas()
    assert list(frame["init"]) == ["glorot", "he"]
    assert frame["ci95_low"].tolist() == [r["ci95"][0] for r in result.rows]
    figure = result.plot()
    assert len(figure.axes) == 2


def test_sweep_gives_the_cells_of_sweep_json_and_load_finds_it_by_name(tmp_path):
    api_root, cli_root = tmp_path / "api", tmp_path / "cli"
    result = initcmp.sweep(
        grid={"model.depth": [1, 2], "init.name": "glorot,he"},
        seeds=1,
        steps=6,
        overrides=SHORT,
        **dirs(api_root),
    )
    done = cli(
        "sweep", "--grid", "model.depth=1:2", "--grid", "init.name=glorot,he", "--seeds", "1",
        "--steps", "6", *SHORT_ARGS, "--json", *dir_args(cli_root),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    assert without_time(result.summary) == without_time(printed)
    assert len(result.rows) == 4 and result.rows[0]["values"] == {
        "model.depth": 1,
        "init.name": "glorot",
    }
    assert weights(api_root) == weights(cli_root) and len(weights(api_root)) == 4
    # by name, as `report --sweep NAME` rebuilds it
    assert result.name in done.stderr  # the folder the command wrote
    loaded = initcmp.load(sweep=result.name, **dirs(api_root))
    assert loaded.summary == result.summary and loaded.name == result.name
    report = cli("report", "--sweep", result.name, "--json", *dir_args(api_root))
    assert json.loads(report.stdout) == result.summary
    assert {r.values["model.depth"] for r in result.runs} == {1, 2}
    assert result.curves()[0]["model.depth"] == 1
    frame = result.to_pandas()
    assert list(frame["model.depth"]) == [1, 1, 2, 2]
    assert "| depth | init | runs |" in result._repr_markdown_()
    assert len(result.plot().axes) >= 2


def test_train_and_inspect_give_the_clis_json(tmp_path):
    api_root, cli_root = tmp_path / "api", tmp_path / "cli"
    result = initcmp.train(init="glorot", overrides={**SHORT, "train.steps": 6}, **dirs(api_root))
    done = cli(
        "train", "--init", "glorot", *SHORT_ARGS, "--set", "train.steps=6", "--json",
        *dir_args(cli_root),
    )  # fmt: skip
    printed = json.loads(done.stdout)
    keep = ("test_accuracy", "test_loss", "step", "weights_sha256")
    assert {k: result.summary[k] for k in keep} == {k: printed[k] for k in keep}
    assert result.run.metrics()[-1]["step"] == 6
    assert cli("train", "--init", "glorot", *SHORT_ARGS, "--set", "train.steps=6",
               *dir_args(api_root)).stdout.strip() == result.line()  # fmt: skip

    seen = initcmp.inspect(inits=["glorot", "he"], overrides=SYNTHETIC, batch=32)
    printed = json.loads(cli("inspect", "--init", "glorot", "--init", "he", *SYNTHETIC_ARGS,
                             "--batch", "32", "--json").stdout)  # fmt: skip
    assert seen.summary == printed
    assert [r["init"] for r in seen.rows] == ["glorot"] * 3 + ["he"] * 3
    assert seen.findings["he"] == printed["inits"][1]["findings"]
    assert len(seen.plot().axes) == 2


def test_the_five_line_example_runs_from_a_clean_folder(tmp_path):
    """The README's example, in a process of its own, in an empty folder."""
    code = (
        "import initcmp, sys\n"
        "r = initcmp.compare(seeds=1, overrides={'data.name': 'synthetic', 'train.steps': 6})\n"
        "print(r.rows[0]['init'])\n"
    )
    done = python("-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "random\n" and done.stderr == ""
    assert (tmp_path / "logs" / "mnist_mlp" / "compare.png").is_file()


def test_the_example_notebook_runs_end_to_end(tmp_path, monkeypatch):
    """examples/initcmp.ipynb in a real Jupyter kernel, in a scratch folder, on the
    synthetic set (INITCMP_EXAMPLE_QUICK): every cell runs and shows what it should."""
    from pathlib import Path

    import nbclient
    import nbformat

    path = Path(__file__).resolve().parent.parent / "examples" / "initcmp.ipynb"
    notebook = nbformat.read(path, as_version=4)
    monkeypatch.setenv("INITCMP_EXAMPLE_QUICK", "1")
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o.get("data", {}) for o in outputs]
    markdown = "\n".join(d["text/markdown"] for d in shown if "text/markdown" in d)
    assert "| init | runs |" in markdown  # the comparison's table
    assert "q* =" in markdown  # the theory's summary
    assert "| depth | scale |" in markdown  # the sweep's table
    assert sum("image/png" in d for d in shown) >= 3  # comparison, heatmap, curves
    assert (tmp_path / "logs" / "mnist_mlp" / "compare.png").is_file()  # there, not in examples/


def test_coord_check_gives_the_clis_numbers_and_figure(tmp_path):
    small = {**SYNTHETIC, "model.base_width": 16}
    result = initcmp.coord_check(
        parametrizations=["standard", "mup"], widths=[16, 32], steps=1, seeds=1, overrides=small
    )
    args = ["coord-check", "--parametrization", "standard", "--parametrization", "mup"]
    args += ["--widths", "16,32", "--steps", "1", "--seeds", "1", *SYNTHETIC_ARGS]
    args += ["--set", "model.base_width=16"]
    assert result.summary == json.loads(cli(*args, "--json").stdout)
    assert {r["parametrization"] for r in result.rows} == {"standard", "mup"}
    assert "| layer |" in result._repr_markdown_()
    figure = result.plot(tmp_path / "coord.png")
    assert type(figure).__name__ == "Figure" and len(figure.axes) == 4  # 2 rows x t = 0, 1
