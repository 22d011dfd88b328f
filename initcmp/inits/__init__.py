"""The initializers: a registry of Keras builders with each one's formula and paper
(`registry`), the names users type for them (`aliases`), and the orthogonal start whose
bits do not depend on the machine (`orthogonal`). LSUV, the one data-dependent
initializer, rescales a built model and so lives in the engine (`engine/lsuv.py`)."""
