"""initcmp: how much does the weight initializer matter, and why?

The packages, in the order data flows (each imports only from those after it; the
contract is in pyproject.toml and `make check` enforces it):

    cli          the command line: parse, call one library function, print
    api          the same functions from Python (`initcmp.compare(...)`), returning data
    experiments  a comparison's or a sweep's runs: plan, launch, read back
    report       statistics, tables, figures, progress
    analysis     mean-field theory, and `inspect`'s measurement in words
    engine       TensorFlow: models, the stacked engine, training, checkpoints
    data         MNIST, offline and verified; the synthetic set
    store        one run on disk: folders, lock, plain-file records
    config       what an experiment is, checked at the door
    inits        the initializer registry
    errors, text the exception types; how numbers and lists read

From Python, the commands are functions that return their numbers (initcmp/api):

    import initcmp
    result = initcmp.compare(seeds=3, overrides={"data.train_limit": 2000})
    result.rows          # the rows `initcmp compare --json` prints
    result.plot()        # compare.png's figure

Importing this package imports neither TensorFlow, Keras, Ray nor matplotlib; the
functions and commands that need them import them when they run.
"""

__version__ = "0.1.0"

# The public names, from initcmp.api, imported on first use (PEP 562).
__all__ = [
    "make_config",
    "train",
    "evaluate",
    "compare",
    "sweep",
    "load",
    "theory",
    "inspect",
    "coord_check",
    "Result",
    "Comparison",
    "Sweep",
    "Theory",
    "Inspection",
    "CoordCheck",
    "RunResult",
    "Run",
]


def __getattr__(name: str):
    if name in __all__:
        from initcmp import api

        return getattr(api, name)
    raise AttributeError(f"module 'initcmp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
