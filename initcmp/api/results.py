"""What initcmp's Python functions return: the numbers as data.

Each result holds `summary` (the object its command's `--json` prints, as plain Python:
dicts, lists, numbers, strings) and `rows` (that object's table: one plain dict per row,
with `--json`'s keys), and gives the same again as a pandas DataFrame (`to_pandas`,
with the `notebook` extra), the command's figure (`plot`), its table as the command
prints it (`str(result)`, `show()`, and Markdown for Jupyter), and the runs behind it
(`runs`, each with its `metrics()`; `curves()` for all of them). Nothing here trains;
matplotlib and pandas are imported only when asked for.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initcmp.config.schema import Config
from initcmp.errors import MissingDependencyError
from initcmp.store import records
from initcmp.store.records import RunPaths

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Run:
    """One run behind a result: its folders and the step it is read at."""

    name: str  #: its folder's name, `he-s0`, `depth=20,he-s0`
    init: str
    seed: int
    checkpoint_dir: Path
    log_dir: Path
    step: int | None  #: the step the result reads it at (its budget's end); None: unfinished
    values: dict = field(default_factory=dict)  #: a sweep cell's grid values, {key: value}

    @classmethod
    def of(cls, cfg: Config, checkpoint_root, log_root, values: dict | None = None) -> "Run":
        """The run `cfg` plans, read at `cfg`'s budget."""
        paths = RunPaths.of(cfg, checkpoint_root, log_root)
        found = records.finished(cfg, paths)
        return cls.at(cfg, paths, found["step"] if found else None, values)

    @classmethod
    def at(cls, cfg: Config, paths: RunPaths, step: int | None, values=None) -> "Run":
        """The run `cfg` in `paths`, read at `step`."""
        return cls(
            cfg.run_name, cfg.init.name, cfg.seed, paths.checkpoints, paths.logs, step, values or {}
        )

    def metrics(self) -> list[dict]:
        """Its metrics.jsonl rows up to the step it is read at (every evaluation:
        `step`, `epoch`, `train_loss`, `train_accuracy`, `test_loss`, `test_accuracy`,
        ..., `seconds`)."""
        rows = records.read_metrics(RunPaths(self.checkpoint_dir, self.log_dir))
        return [r for r in rows if self.step is None or r["step"] <= self.step]

    def result(self) -> dict | None:
        """Its result.json (at the step it last trained to), or None."""
        return records.read_result(RunPaths(self.checkpoint_dir, self.log_dir))

    def config(self) -> Config | None:
        """The config it recorded (its config.yaml), or None."""
        return records.read_config(self.log_dir)


class Result:
    """What every result has: `summary`, `rows`, `to_pandas()`, `runs` and `curves()`,
    `show()`, `str()` and a Markdown table for Jupyter."""

    summary: dict
    runs: list[Run] = []

    @property
    def rows(self) -> list[dict]:
        """The table: one plain dict per row, with `--json`'s keys."""
        raise NotImplementedError

    def _table(self) -> list[dict]:
        """The rows as flat columns, for `to_pandas`."""
        return self.rows

    def to_pandas(self):
        """The rows as a pandas DataFrame (nested values flattened into columns).

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        pandas = _require("pandas")
        return pandas.DataFrame(self._table())

    def curves(self) -> list[dict]:
        """Every run's metrics rows (`Run.metrics`), each with the run's name, its grid
        values (a sweep's), init and seed first: one row per run and evaluated step."""
        return [
            {"run": run.name, **run.values, "init": run.init, "seed": run.seed, **row}
            for run in self.runs
            for row in run.metrics()
        ]

    def _draw(self, console) -> None:
        """The command's tables on a rich console."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """The lines the command prints under its tables."""
        return []

    def show(self) -> None:
        """Print what the command prints on stdout (its tables and notes)."""
        self._draw(None)
        for line in self.notes():
            print(line)

    def __str__(self) -> str:
        """The tables and notes as the command prints them into a file (140 columns)."""
        from rich.console import Console

        buffer = io.StringIO()
        self._draw(Console(file=buffer, width=140, color_system=None, force_jupyter=False))
        return buffer.getvalue() + "".join(f"{line}\n" for line in self.notes())

    def markdown(self) -> str:
        raise NotImplementedError

    def _repr_markdown_(self) -> str:
        return self.markdown()


class Comparison(Result):
    """A comparison (`compare`, or `load` of one): per initializer its test accuracy
    over seeds, and each against the best, paired by seed.

    Attributes:
        name: The experiment (`mnist_mlp`).
        summary: `initcmp compare --json`'s object: `rows`, `best`, `paired`,
            `missing_runs`.
        records: Each finished run's result at the comparison's epochs, with its
            test-accuracy `curve` of (step, accuracy).
        runs: The runs, as `Run`s.
        folder: Where its files go (LOG_DIR/<name>/).
        files: The files written (compare.json, .csv, .md, .png), if any.
        kept: Why the files were left as they are (they cover runs this one does not),
            or None.
        missing: The planned runs that have not finished.
    """

    def __init__(self, name: str, outcome, folder: Path, files: list[Path], kept: str | None):
        self.name, self.folder, self.files, self.kept = name, folder, files, kept
        self._summary, self.records = outcome.summary, outcome.records
        self.summary = _plain(outcome.summary)
        self.missing, self.epochs, self._notes = outcome.missing, outcome.epochs, outcome.notes()
        self.runs = [
            Run.at(cfg, paths, record["step"])
            for (cfg, paths), record in zip(outcome.runs, outcome.records)
        ]

    @property
    def rows(self) -> list[dict]:
        """One per initializer: `init`, `runs`, `diverged`, `mean_accuracy`,
        `std_accuracy`, `ci95`, `min_accuracy`, `max_accuracy`, `mean_loss`, `epochs`,
        `seconds`, `notebook`, `runs_detail` (per seed)."""
        return self.summary["rows"]

    @property
    def paired(self) -> list[dict]:
        """Each initializer against the best, paired by seed: `init`, `best`,
        `mean_difference`, `p_value`, `shared_seeds`, ..."""
        return self.summary["paired"]

    @property
    def best(self) -> str | None:
        return self.summary["best"]

    def _table(self) -> list[dict]:
        out = []
        for row in self.rows:
            low, high = row["ci95"] or (None, None)
            flat = {k: v for k, v in row.items() if k not in ("ci95", "runs_detail")}
            out.append({**flat, "ci95_low": low, "ci95_high": high})
        return out

    def plot(self, path: str | Path | None = None) -> Figure:
        """compare.png's figure: test accuracy against step (mean, band min-max over
        seeds), and each initializer's final accuracy with its 95 % interval.

        Args:
            path: Also write it there as a PNG.

        Returns:
            The matplotlib Figure.

        Raises:
            OutputError: `path` cannot be written.
        """
        from initcmp.report import plots

        return _figure(plots.comparison_figure(self._summary, self.records), path)

    def _draw(self, console) -> None:
        from initcmp.report import render_compare

        render_compare.print_tables(self._summary, console)

    def notes(self) -> list[str]:
        return list(self._notes)

    def markdown(self) -> str:
        from initcmp.report import render_compare

        best = self.summary["best"]
        text = f"**{self.name}**: test accuracy by initializer, % (over seeds)\n\n"
        text += render_compare.to_markdown(
            self._summary,
            titles=(
                "",
                f"\neach initializer against the best ({best}), paired by seed\n\n",
            ),
        )
        return text + "".join(f"\n- {line}" for line in self.notes())

    def __repr__(self) -> str:
        inits = ", ".join(r["init"] for r in self.rows)
        return f"<Comparison {self.name}: {inits}; {len(self.runs)} runs>"


class Sweep(Result):
    """A sweep (`sweep`, or `load` of one): per cell of the grid its accuracy over
    seeds and mean-field theory's χ₁ and ξ_c.

    Attributes:
        name: The sweep's name, what `load(sweep=...)` takes.
        config: Its resolved config (the grid in `config.sweep.grid`).
        summary: `initcmp sweep --json`'s object: `name` (the experiment), `axes`,
            `seeds`, `budget`, `cells`, `missing_runs`, `missing`, `xi_c_curve`.
        runs: Its finished runs, as `Run`s with their cell's `values`.
        folder: Its folder (LOG_DIR/<experiment>/sweeps/<name>/).
        files: The files written (sweep.json, .csv, .md, .png), if any.
    """

    def __init__(self, cfg: Config, summary: dict, folder: Path, files: list[Path], runs):
        from initcmp.report import render_sweep

        self.config, self.folder, self.files, self.runs = cfg, folder, files, runs
        self.name = folder.name
        self._summary = summary
        self.summary = _plain(render_sweep.as_json(summary))

    @property
    def rows(self) -> list[dict]:
        """One per cell: `values` ({key: value}), `runs`, `diverged`, `mean_accuracy`,
        `std_accuracy`, `ci95_accuracy`, `mean_train_accuracy`, ..., `chi_1`, `xi_c`,
        `depth_over_xi_c`, `phase`."""
        return self.summary["cells"]

    def _table(self) -> list[dict]:
        out = []
        for cell in self.rows:
            flat = dict(cell["values"])
            for key, value in cell.items():
                if key.startswith("ci95_"):  # [low, high] or None: two columns
                    low, high = value or (None, None)
                    flat.update({f"{key}_low": low, f"{key}_high": high})
                elif key != "values":
                    flat[key] = value
            out.append(flat)
        return out

    def plot(self, path: str | Path | None = None) -> Figure:
        """sweep.png's figure: accuracy against one axis (a line per value of a named
        axis), or heatmaps over two axes (with depth = k·ξ_c where theory has them).

        Args:
            path: Also write it there as a PNG.

        Returns:
            The matplotlib Figure.
        """
        from initcmp.report import sweep_plots

        return _figure(sweep_plots.figure(self._summary), path)

    def _draw(self, console) -> None:
        from initcmp.report import render_sweep

        render_sweep.print_table(self._summary, console)

    def notes(self) -> list[str]:
        from initcmp.report import render_sweep

        return render_sweep.notes(self._summary)

    def markdown(self) -> str:
        from initcmp.report import render_sweep

        seeds = len(self.summary["seeds"])
        title = (
            f"**{self.summary['name']}**, sweep {self.name}: accuracy by cell, % (mean over "
            f"{seeds} seed{'' if seeds == 1 else 's'}, {self.summary['budget']})\n\n"
        )
        return (
            title
            + render_sweep.to_markdown(self._summary)
            + "".join(f"\n- {line}" for line in self.notes())
        )

    def __repr__(self) -> str:
        return f"<Sweep {self.name}: {len(self.rows)} cells, {len(self.runs)} runs>"


class Theory(Result):
    """Mean-field theory's prediction for a network (`theory`).

    Attributes:
        config: The network's resolved config.
        summary: `initcmp theory --json`'s object: `q_star`, `chi_1`, `c_star`,
            `chi_c`, `xi_c`, `xi_q`, `phase`, `meaning`, `layers`, ... (inf as "inf").
    """

    def __init__(self, cfg: Config, result: dict):
        self.config, self._result = cfg, result
        self.summary = _plain(records.json_safe(result, nonfinite=str))

    @property
    def rows(self) -> list[dict]:
        """One per layer: `fan_in`, `fan_out`, `weight_variance`, `q`,
        `activation_std`, `chi`, `gradient_ratio`, ..."""
        return self.summary["layers"]

    def plot(self, path: str | Path | None = None) -> Figure:
        """`theory --plot`'s figure: the activation's critical line χ₁ = 1 over σ_b², and
        ξ_c against σ_w² at the config's `init.bias_variance`.

        Args:
            path: Also write it there as a PNG.

        Returns:
            The matplotlib Figure.
        """
        from initcmp.report import plots

        cfg = self.config
        return _figure(plots.phase_figure(cfg.model.activation, cfg.init.bias_variance), path)

    def _draw(self, console) -> None:
        from initcmp.report import render_compare

        render_compare.print_theory(self.config, self._result, console)

    def markdown(self) -> str:
        from initcmp.report import render_compare, terminal

        notes = render_compare.theory_notes(self.config, self._result)
        table = terminal.markdown_table(
            render_compare.THEORY_COLUMNS, render_compare.theory_rows(self._result)
        )
        after = "".join(f"\n- {line}" for line in render_compare.theory_after(self._result))
        return "".join(f"- {line}\n" for line in notes) + "\n" + table + after

    def __repr__(self) -> str:
        s = self.summary
        return f"<Theory {s['activation']}: chi_1={s['chi_1']}, xi_c={s['xi_c']}, {s['phase']}>"


class Inspection(Result):
    """The untrained network measured layer by layer (`inspect`), one or more
    initializers.

    Attributes:
        summary: `initcmp inspect --json`'s object: one initializer's, or
            `{"inits": [...]}` for several (inf and NaN as "inf", "nan").
        results: Each initializer's measurement (`init`, `layers`, `findings`, ...).
        findings: {initializer: the sentences under its table}.
    """

    def __init__(self, results: list[dict]):
        from initcmp.analysis import diagnose

        self._results = results
        self.summary = _plain(diagnose.to_json(results))
        self.results = self.summary["inits"] if len(results) > 1 else [self.summary]
        self.findings = {r["init"]: r["findings"] for r in self.results}

    @property
    def rows(self) -> list[dict]:
        """One per layer of each initializer: `init`, then `--json`'s layer keys
        (`name`, `fan_in`, `fan_out`, `weight_std`, `activation_std`, `gradient_std`,
        `predicted_activation_std`, ...)."""
        return [{"init": r["init"], **layer} for r in self.results for layer in r["layers"]]

    def plot(self, path: str | Path | None = None) -> Figure:
        """`inspect --plot`'s figure: activation std and weight-gradient std against
        depth, a line per initializer, theory dashed.

        Args:
            path: Also write it there as a PNG.

        Returns:
            The matplotlib Figure.
        """
        from initcmp.report import plots

        return _figure(plots.signal_figure(self._results), path)

    def _draw(self, console) -> None:
        from initcmp.report import render_compare

        render_compare.print_inspection(self._results, console)

    def markdown(self) -> str:
        from initcmp.analysis import diagnose
        from initcmp.report import render_compare, terminal

        parts = []
        for result in self._results:
            columns = [c.replace("\n", " ") for c in diagnose.columns(result)]
            table = terminal.markdown_table(columns, diagnose.table_rows(result))
            findings = "".join(f"- {line}\n" for line in result["findings"])
            parts.append(f"**{render_compare.inspection_title(result)}**\n\n{table}\n{findings}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<Inspection {', '.join(self.findings)}: {len(self.rows)} layers>"


class CoordCheck(Result):
    """The coordinate check (`coord-check`): each layer's size against width, step by
    step, for one or more parametrizations, with fitted slopes and theory's exponents.

    Attributes:
        summary: `initcmp coord-check --json`'s list, one object per parametrization:
            its settings, `layers`, `size` and `change` (indexed `[t][width][seed][layer]`),
            `theory` and `slopes` (-inf as "-inf").
    """

    def __init__(self, results: list[dict]):
        self._results = results
        self.summary = _plain(records.json_safe(results, nonfinite=str))

    @property
    def rows(self) -> list[dict]:
        """One per parametrization and layer: the slope of its size at t = 0 and of its
        first update beside theory's exponents, and the last step's verdict."""
        from initcmp.analysis import width_theory

        return [
            {"parametrization": r["parametrization"], **row}
            for r in self._results
            for row in width_theory.summary_rows(r)
        ]

    def plot(self, path: str | Path | None = None) -> Figure:
        """`coord-check --plot`'s figure: a panel per step t and parametrization, mean |h|
        against width on log axes, a line per layer with a band over seeds.

        Args:
            path: Also write it there as a PNG.

        Returns:
            The matplotlib Figure.
        """
        from initcmp.report import width_report

        return _figure(width_report.figure(self._results), path)

    def _draw(self, console) -> None:
        from initcmp.report import width_report

        width_report.print_results(self._results, console)

    def markdown(self) -> str:
        from initcmp.report import width_report

        return width_report.markdown(self._results)

    def __repr__(self) -> str:
        names = ", ".join(r["parametrization"] for r in self._results)
        return f"<CoordCheck {names}: widths {self._results[0]['widths']}>"


class RunResult(Result):
    """One run's result (`train`, `evaluate`).

    Attributes:
        config: The run's resolved config.
        summary: `initcmp train --json`'s object: `test_accuracy`, `test_loss`, `step`,
            `epoch`, `weights_sha256`, `diverged`, `checkpoint_dir`, `log_dir`, ...
        run: The run, as a `Run` (`run.metrics()`: its curves).
        warnings: What `evaluate` says on stderr (e.g. a checkpoint older than the run).
    """

    def __init__(self, cfg: Config, result: dict, paths: RunPaths):
        self.config, self.summary = cfg, _plain(result)
        self.run = Run.at(cfg, paths, result.get("step"))
        self.runs = [self.run]
        self.warnings = list(result.get("warnings", []))

    @property
    def rows(self) -> list[dict]:
        return [self.summary]

    def line(self) -> str:
        """The line `initcmp train` prints."""
        r, run = self.summary, self.config.run_name
        if r.get("diverged"):
            return f"{run}: diverged at step {r['diverged_step']} (loss became NaN or inf)"
        accuracy = "n/a" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2%}"
        loss = "n/a" if r["test_loss"] is None else f"{r['test_loss']:.4f}"
        return (
            f"{run}: test accuracy {accuracy}, test loss {loss} "
            f"(step {r['step']}, epoch {r['epoch']:g}) in {r['checkpoint_dir']}"
        )

    def _draw(self, console) -> None:
        pass

    def notes(self) -> list[str]:
        return [self.line()]

    def markdown(self) -> str:
        return self.line()

    def __repr__(self) -> str:
        return f"<RunResult {self.line()}>"


def _plain(value: Any) -> Any:
    """`value` as its `--json` reads back: plain dicts, lists, numbers and strings."""
    return json.loads(json.dumps(value))


def _figure(fig, path):
    """`fig` written at `path` if given, and let go by pyplot (report/plots.py)."""
    from initcmp.report import plots

    if path is not None:
        plots.save(fig, Path(path))  # closes it
        return fig
    return plots.detached(fig)


def _require(module: str):
    """An optional package, or an error saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{module} is not installed: pip install 'initcmp[notebook]'"
        ) from None
