"""One exception tree for everything circuitdsl reports to a user.

    CircuitDSLError
      ValidationError   a block, edge, parameter, equation or file the user wrote is wrong
      BuildError        a valid-looking circuit that cannot be compiled (e.g. an algebraic loop)
      SimulationError   a run cannot go on (a state became NaN or Inf, a buffer overflowed)
      GradientError     something gradient training cannot differentiate
      RunError          a run, resume, sweep or command-line option that cannot start

Every class also derives from the built-in exception a caller would have caught before
(ValueError, RuntimeError), so existing `except ValueError` code keeps working. The command
line prints a CircuitDSLError as its message alone (on its own lines, so an equation caret
still points at its symbol); any other exception is a bug and prints a traceback.
"""
from __future__ import annotations


class CircuitDSLError(Exception):
    """Base of every error circuitdsl raises on purpose."""


class ValidationError(CircuitDSLError, ValueError):
    """Bad user input: a block, edge, parameter, equation or file."""


class BuildError(CircuitDSLError, ValueError):
    """A circuit that cannot be lowered or compiled."""


class SimulationError(CircuitDSLError, RuntimeError):
    """A run that cannot go on."""


class GradientError(CircuitDSLError, ValueError):
    """A circuit, block, edge or parameter that gradient training cannot handle."""


class RunError(CircuitDSLError, ValueError):
    """A run, resume, sweep or option that cannot start."""
