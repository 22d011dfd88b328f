"""Which tests need TensorFlow, read from their source: the rule conftest.py marks the
tiers by (its docstring says it in words).

A test needs TensorFlow when the code it runs does one of four things:

- imports `tensorflow`, `keras` or `tensorboard` (or `pytest.importorskip`s one; an
  import at the top of its module counts for each of its tests);
- calls one of initcmp's ways into TensorFlow (LIBRARY: what loads TensorFlow, builds a
  model, evaluates or trains);
- runs a notebook in a Jupyter kernel (imports nbclient: KERNELS);
- runs a command that trains or builds a model (COMMANDS, without `--dry-run`) on data:
  the synthetic set (`data.name=synthetic` among its strings) or the session's MNIST
  (the `mnist` fixture), through the CLI in this process or as a process of its own.
  (A command refused before it loads anything counts too: which are refused is not in
  the source.)

The code a test runs is read with `ast`, never imported or run: the test function (not
its decorators: a parametrized test's own values come from its callspec), the fixtures
it requests (pytest's closure of them), and the functions, classes and constants of its
module and of the tests' own modules (helpers.py, fingerprint.py) they name, followed
transitively. A string holding Python code (`python -c CODE`) is read as code too.
Calls on objects (`stack.evaluate()`) are not followed: the object came from a call
that is. A function's own variables hide the module's names they share.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOTS = ("tensorflow", "keras", "tensorboard")

# initcmp's ways into TensorFlow that tests call, by qualified name: a name here, or any
# name under it. Each loads TensorFlow itself (directly or through what it calls).
LIBRARY = (
    "initcmp.engine.runtime.tensorflow",
    "initcmp.engine.runtime.release",
    "initcmp.engine.train.run",
    "initcmp.engine.train.run_many",
    "initcmp.engine.fused.StackedRuns",
    "initcmp.engine.fused.ordered_sum",
    "initcmp.engine.fused.dense",
    "initcmp.engine.fused.cross_entropy",
    "initcmp.engine.models.build_model",
    "initcmp.engine.models.build_optimizer",
    "initcmp.engine.models.bias_initializer",
    "initcmp.engine.models.flat_images",
    "initcmp.engine.models.pre_activation",
    "initcmp.engine.models.forward",
    "initcmp.engine.batches.epoch_blocks",
    "initcmp.engine.checkpoints.RunState",
    "initcmp.engine.checkpoints.restore_for_eval",
    "initcmp.engine.evaluate",
    "initcmp.engine.lsuv",
    "initcmp.engine.measure",
    "initcmp.engine.tensorboard",
    "initcmp.analysis.diagnose.inspect",
    "initcmp.experiments.compare.run",
    "initcmp.experiments.sweep.run",
    "initcmp.experiments.launch.train_missing",
    "initcmp.experiments.on_ray.run",
    "initcmp.engine.coord_check",
    "initcmp.analysis.width_theory.coordinate_check",
    # The Python API's functions that build a model or train (initcmp/api), by each name
    # they are reached by: `initcmp.compare`, `initcmp.api.compare`, `api.commands...`.
    *(
        f"{where}.{name}"
        for where in ("initcmp", "initcmp.api", "initcmp.api.commands")
        for name in ("train", "evaluate", "compare", "sweep", "inspect", "coord_check")
    ),
)
# Running a notebook (examples/initcmp.ipynb) in a Jupyter kernel: it trains there.
KERNELS = ("nbclient",)
COMMANDS = {"train", "eval", "compare", "sweep", "inspect", "coord-check"}
SYNTHETIC = "data.name=synthetic"


class Module:
    """One Python source read for its names: its top-level functions, classes and
    constants, and what each imported name stands for (qualified)."""

    def __init__(self, name: str, tree: ast.Module):
        self.name = name
        self.defs: dict[str, ast.AST] = {}
        self.imports: dict[str, str] = {}
        self.top_imports = [  # the modules it imports at its top level
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            self.defs[name.id] = node.value
        for node in ast.walk(tree):  # imports inside functions count too
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"


@functools.cache
def module(name: str) -> Module | None:
    """A module of tests/ (test_x, conftest, helpers, fingerprint) by name."""
    path = TESTS / f"{name}.py"
    return Module(name, ast.parse(path.read_text(), str(path))) if path.is_file() else None


def library_entry(qualified: str) -> bool:
    """Whether `qualified` is in LIBRARY, or under a name there."""
    return any(qualified == e or qualified.startswith(e + ".") for e in LIBRARY)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` as a string, if it is a chain of names."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def flatten(value):
    """The strings inside a parameter's value (lists, tuples, dicts of them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from flatten(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from flatten(v)


def body(node: ast.AST) -> list[ast.AST]:
    """What of a definition runs when it is used: a function's arguments' defaults and
    body, not its decorators; a class's bases and body; a constant's value."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        defaults = [d for d in node.args.kw_defaults if d is not None]
        return [*node.args.defaults, *defaults, *node.body]
    if isinstance(node, ast.ClassDef):
        return [*node.bases, *node.body]
    return [node]


def code_in(text: str) -> Module | None:
    """`text` as Python, if it is code (a snippet run with `python -c`)."""
    if "import" not in text or ("\n" not in text and ";" not in text):
        return None
    try:
        tree = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return None
    snippet = Module("<snippet>", tree)
    snippet.defs["<main>"] = tree
    return snippet


def needs_tensorflow(test_module: str, function: str, fixtures, params=()) -> str | None:
    """Why the test `function` of tests/`test_module`.py needs TensorFlow, or None. It
    requests `fixtures` (names); `params`: its parametrized values."""
    here = module(test_module)
    conftest = module("conftest")
    for name in here.top_imports:
        if name.split(".")[0] in ROOTS:
            return f"its module imports {name}"
    if not isinstance(here.defs.get(function), ast.FunctionDef):
        return f"not read: {function} is no top-level function of its module"  # say slow
    todo: list[tuple[Module, ast.AST]] = [(here, here.defs[function])]
    for name in fixtures:
        for owner in (here, conftest):
            if owner is not None and isinstance(owner.defs.get(name), ast.FunctionDef):
                todo.append((owner, owner.defs[name]))
                break
    strings = set(flatten(list(params)))
    seen: set[int] = set()
    while todo:
        owner, node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes = node.body if isinstance(node, ast.Module) else body(node)
        hidden = own_names(node)
        for top in nodes:
            for sub in ast.walk(top):
                why = _look(owner, sub, strings, todo, hidden)
                if why:
                    return why
    data = "the synthetic set" if SYNTHETIC in strings else "MNIST" if "mnist" in fixtures else ""
    if strings & COMMANDS and data and "--dry-run" not in strings:
        return f"runs `initcmp {sorted(strings & COMMANDS)[0]}` on {data}"
    return None


def own_names(node: ast.AST) -> set[str]:
    """The names a function binds itself (its arguments, what it assigns)."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return set()
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    names = {a.arg for a in every if a is not None}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
    return names


def _look(owner: Module, node: ast.AST, strings: set, todo: list, hidden: set) -> str | None:
    """What `node` says: a reason it needs TensorFlow, or more code to read (appended to
    `todo`), or strings (added to `strings`). `hidden`: names that are the function's
    own."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in ROOTS:
                return f"imports {alias.name}"
            if alias.name.split(".")[0] in KERNELS:
                return f"runs a notebook ({alias.name})"
    elif isinstance(node, ast.ImportFrom) and node.module:
        if node.module.split(".")[0] in ROOTS:
            return f"imports {node.module}"
        if node.module.split(".")[0] in KERNELS:
            return f"runs a notebook ({node.module})"
    elif isinstance(node, ast.Call):
        name = dotted(node.func) or ""
        args = node.args
        if name.split(".")[-1] == "importorskip" and args and isinstance(args[0], ast.Constant):
            if str(args[0].value).split(".")[0] in ROOTS:
                return f"imports {args[0].value}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        strings.add(node.value)
        snippet = code_in(node.value)
        if snippet is not None:
            todo.append((snippet, snippet.defs["<main>"]))
    elif isinstance(node, (ast.Name, ast.Attribute)):
        chain = dotted(node)
        if chain is None:
            return None
        first, _, rest = chain.partition(".")
        if first in hidden:
            return None
        if first in owner.imports:
            qualified = owner.imports[first] + (f".{rest}" if rest else "")
            if library_entry(qualified):
                return f"calls {qualified}"
            mod, _, attr = owner.imports[first].partition(".")
            other = module(mod) if mod.isidentifier() else None  # one of tests/: follow it
            if other is not None:
                target = attr or rest.split(".")[0]
                if target in other.defs:
                    todo.append((other, other.defs[target]))
        elif not rest and first in owner.defs:
            todo.append((owner, owner.defs[first]))
    return None
