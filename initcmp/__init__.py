"""initcmp: how much does the weight initializer matter, and why?

Importing this package imports neither TensorFlow nor Keras; the commands that need
them import them when they run.
"""

__version__ = "0.1.0"
