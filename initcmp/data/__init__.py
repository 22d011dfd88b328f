"""The data: where MNIST comes from, offline first, and the check that it is the canonical
MNIST, plus the synthetic set tests train on (`sources`); MNIST's file formats
(`formats`). Everything returns plain numpy arrays."""
