"""`make readme`: rerun every experiment the README and the documentation site show and
write its tables, figures and measured lines back into their pages, so that no result there
is typed by hand.

Each block between `<!-- make readme: NAME -->` and `<!-- /make readme -->`, in README.md
or in any page under docs/, is replaced by what BLOCKS[NAME] prints, run once from fresh
checkpoint and log folders (the MNIST and XLA caches are kept, as for a user's second
command); a block shown on two pages gets the same text on both. Figures go to docs/.
Timings and peak memory are this machine's, measured on the command as a whole, and
carry its hardware.

usage: python docs/make_readme.py [NAME ...]   (default: every block)
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def pages() -> list[Path]:
    """Every page a block may be on: the README and the site's pages."""
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


INITCMP = [sys.executable, "-m", "initcmp"]
DEEP = ["--config", "configs/deep_mlp.yaml"]
SIGMOID = ["--config", "configs/sigmoid_mlp.yaml"]
TANH = ["--config", "configs/tanh_mlp.yaml"]


def run(args: list[str], cwd: Path) -> tuple[str, float, float]:
    """`initcmp ARGS` in `cwd`: its stdout, wall seconds and peak memory (GB)."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([*INITCMP, *args], cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"make readme: `initcmp {' '.join(args)}` failed; rerun it to see why")
    return text, seconds, usage.ru_maxrss / 1e6  # ru_maxrss is in kB on Linux


def command(args: list[str]) -> str:
    shown = [a if " " not in a else repr(a) for a in args if a != "--json"]
    return "initcmp " + " ".join(shown)


def compare(args: list[str], figure: str | None = None):
    """A comparison's two tables (its compare.md), its figure, and how long it took."""

    def block(cwd: Path) -> str:
        text, seconds, peak = run(["compare", *args, "--json"], cwd)
        summary = json.loads(text)
        runs = sum(r["runs"] for r in summary["rows"])
        name = next((cwd / "logs").iterdir()).name
        table = (cwd / "logs" / name / "compare.md").read_text()
        if figure:
            shutil.copy(cwd / "logs" / name / "compare.png", ROOT / "docs" / figure)
        return (
            f"`{command(['compare', *args])}`: {runs} runs, {seconds:.0f} s, peak memory "
            f"{peak:.2f} GB ({machine()}, fresh folders).\n\n{table}"
        )

    return block


def inspect(args: list[str], figure: str | None = None):
    """Per initializer, what `inspect` finds (its first sentences), and the figure."""

    def block(cwd: Path) -> str:
        plot = ["--plot", f"docs/{figure}"] if figure else []
        text, _, _ = run(["inspect", *args, "--json", *plot], cwd)
        if figure:
            shutil.copy(cwd / "docs" / figure, ROOT / "docs" / figure)
        found = json.loads(text)
        results = found["inits"] if "inits" in found else [found]
        lines = [f"`{command(['inspect', *args, *plot])}`:\n"]
        for r in results:
            params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
            lines.append(f"- **{r['init']}**{f' ({params})' if params else ''}:")
            lines += [f"  - {finding}" for finding in r["findings"]]
        return "\n".join(lines) + "\n"

    return block


def theory(args: list[str], figure: str):
    """What `initcmp theory` says (its numbers and its sentence), and its phase diagram."""

    def block(cwd: Path) -> str:
        plot = ["--plot", f"docs/{figure}"]
        text, seconds, _ = run(["theory", *args, "--json", *plot], cwd)
        shutil.copy(cwd / "docs" / figure, ROOT / "docs" / figure)
        r = json.loads(text)
        critical = r.get("critical_weight_variance")
        numbers = ", ".join(
            f"{k} = {_number(r[k])}"
            for k in (
                "weight_variance",
                "bias_variance",
                "q_star",
                "chi_1",
                "c_star",
                "chi_c",
                "xi_c",
                "xi_q",
            )
        )
        return (
            f"`{command(['theory', *args, *plot])}` ({seconds:.1f} s on {machine()}): {numbers}; "
            f"phase "
            f"{r['phase']}"
            + (f"; critical σ_w² = {_number(critical)}" if critical else "")
            + f". {r['meaning'][0].upper()}{r['meaning'][1:]}.\n"
        )

    return block


def _number(value) -> str:
    return value if isinstance(value, str) else f"{value:.4g}"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "CPU",
    )
    return f"{os.cpu_count()} cores, {cpu}"


BLOCKS = {
    "results": compare([], "compare.png"),
    "deep-inspect": inspect(
        [
            *DEEP,
            "--init",
            "random",
            "--init",
            "glorot",
            "--init",
            "he",
            "--init",
            "orthogonal",
            "--init",
            "lsuv",
        ],
        "deep_inspect.png",
    ),
    "deep-compare": compare(DEEP, "deep_compare.png"),
    "deep-adam": compare(
        [
            *DEEP,
            "--set",
            "name=deep_adam",
            "--set",
            "train.optimizer=adam",
            "--set",
            "train.learning_rate=0.001",
            "--inits",
            "glorot,he,orthogonal",
            "--seeds",
            "1",
        ]
    ),
    "sigmoid-compare": compare(SIGMOID),
    "sigmoid-inspect": inspect(
        [*SIGMOID, "--init", "random", "--init", "glorot", "--init", "he", "--init", "lsuv"],
        "sigmoid_inspect.png",
    ),
    "sigmoid-glorot-gain-1": inspect([*SIGMOID, "--init", "glorot", "--set", "init.gain=1"]),
    "tanh-compare": compare(TANH),
    "theory-tanh": theory(
        ["--set", "model.activation=tanh", "--set", "init.bias_variance=0.05", "--critical"],
        "tanh_phase.png",
    ),
    "theory-tanh-inspect": inspect(
        [
            *DEEP,
            "--set",
            "model.activation=tanh",
            "--init",
            "variance_scaling",
            "--set",
            "init.scale=2",
            "--set",
            "init.distribution=untruncated_normal",
        ],
        "tanh_theory_inspect.png",
    ),
}


def block_pattern(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- make readme: {re.escape(name)} -->\n).*?(<!-- /make readme -->)", re.DOTALL
    )


def replace_block(page: str, name: str, body: str) -> str:
    return block_pattern(name).sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), page)


def holding(name: str) -> list[Path]:
    """The pages that show block `name`; none is an error."""
    found = [p for p in pages() if block_pattern(name).search(p.read_text())]
    if not found:
        sys.exit(f"make readme: no page has a block `<!-- make readme: {name} -->`")
    return found


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        sys.exit(f"make readme: unknown block {unknown[0]!r}; blocks: {', '.join(BLOCKS)}")
    for name in names or list(BLOCKS):
        targets = holding(name)  # before the work: a missing block fails at once
        with tempfile.TemporaryDirectory() as scratch:
            cwd = Path(scratch)
            (cwd / "configs").symlink_to(ROOT / "configs")
            body = BLOCKS[name](cwd)
        for page in targets:
            page.write_text(replace_block(page.read_text(), name, body))
        shown = ", ".join(str(p.relative_to(ROOT)) for p in targets)
        print(f"make readme: {name} written to {shown}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
