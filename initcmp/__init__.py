"""initcmp: how much does the weight initializer matter, and why?

The packages, in the order data flows (each imports only from those after it; the
contract is in pyproject.toml and `make check` enforces it):

    cli          the command line: parse, call one library function, print
    experiments  a comparison's or a sweep's runs: plan, launch, read back
    report       statistics, tables, figures, progress
    analysis     mean-field theory, and `inspect`'s measurement in words
    engine       TensorFlow: models, the stacked engine, training, checkpoints
    data         MNIST, offline and verified; the synthetic set
    store        one run on disk: folders, lock, plain-file records
    config       what an experiment is, checked at the door
    inits        the initializer registry
    errors, text the exception types; how numbers and lists read

Importing this package imports neither TensorFlow nor Keras; the commands that need
them import them when they run.
"""

__version__ = "0.1.0"
