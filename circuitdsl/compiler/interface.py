"""The kernel interface, declared once: the arrays, each generated function's arguments, and
the status slots. Generated signatures and calls, and the Simulator's Python calls, are all
built from these tuples, so adding a kernel array is an edit here and where it is filled.
"""
from __future__ import annotations

# The circuit's arrays, in the order every kernel takes them (see compiler/layout.py).
ARRAYS = ("S", "P", "I", "F", "PRE", "POST", "LPOST", "PTR", "PPTR", "PORD", "SPK", "DB", "RNG")


class Status:
    """Slots of the int64 STATUS array the trial kernels report through."""
    NONFINITE = 0     # 1 when a state became NaN or Inf
    TRIAL = 1         # the trial (of a `trials` call) in which that happened
    STEP = 2          # the step at which it happened
    SPIKES = 3        # spikes written to the SPIKES buffer (may exceed its length)
    SIZE = 5


# Argument lists of each generated function (names are the generated code's locals).
TRIAL = ("k0", "n_steps", "dt", *ARRAYS, "L", "EXT", "EXTIDX", "ext_every", "RECS", "RECP",
         "RECI", "REC", "rec_every", "SPIKES", "STATUS")
INPUTS = ("k", "t", "dt", "S", "P", "I", "F", "PRE", "PTR", "L", "RNG")
LEARN = ("t", "dt", "S", "P", "I", "F", "PRE", "POST", "LPOST", "RNG", "L", "SIG")
TRIALS = ("n_steps", "dt", *ARRAYS, "L", "S0", "SPK0", "CASE", "LEARN", "PIDX", "PVAL", "EXTV",
          "EXTIDX", "COLIDX", "OUT", "SIG", "SPIKES", "STATUS")
RESET_TRACES = ("F", "L")


def signature(name, args):
    """`name(a, b, ...)` for a generated function's `def` line."""
    return f"{name}({', '.join(args)})"


def call(name, args, **given):
    """A call of a generated function from generated code: each argument passed by its own
    name unless `given` says what to pass instead."""
    unknown = set(given) - set(args)
    if unknown:
        raise KeyError(f"{name} has no argument(s) {', '.join(sorted(unknown))}")
    return f"{name}({', '.join(str(given.get(a, a)) for a in args)})"


def values(args, arrays, **given):
    """The positional values of a Python call: arrays by name, the rest from `given`."""
    out = []
    for a in args:
        if a in given:
            out.append(given[a])
        elif a in arrays:
            out.append(arrays[a])
        else:
            raise KeyError(f"no value for kernel argument {a}")
    return out
