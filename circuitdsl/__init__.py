"""circuitdsl: a Python language for neural circuits that learn."""
__version__ = "0.1.0"
