"""Training and evaluation, the package that runs TensorFlow: start-up (`runtime`), each
run's Keras model (`models`), the epoch order and batches (`batches`), the stacked engine
that trains K runs as one compiled program to the same bits as each alone (`fused`), the
training loop (`train`) over one run's state (`run_state`), checkpoints and the resume
rules (`checkpoints`), `eval` (`evaluate`), the memory estimate (`memory`), TensorBoard
(`tensorboard`), the signal inside a model (`measure`), LSUV (`lsuv`), what the caller
is told while runs train (`reporter`) and the test-only kill hook (`faults`)."""
