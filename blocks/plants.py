"""Plants: bodies the circuit moves inside a trial, closing the loop in the kernel.

PointMass2D integrates a velocity command: ds/dt = I (with dt = 1 step: s <- s + v). Its
position r = s feeds back to whatever it is connected to on the next step.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import BlockError, Population
from circuitdsl.blocks.layers import RATE
from circuitdsl.model import Event, Model

POINT_MASS = Model(
    "PointMass",
    """
ds/dt = I
r = s
""",
    states=dict(s=0.0), params=dict(s0=0.0), inputs=("I",),
    events=[Event("s = s0", at=0.0, order=-10)],
    doc="One coordinate of a point mass driven by a velocity input; s = s0 at t = 0.")


class PointMass2D(Population):
    """A point in the plane (units 0, 1 = x, y) starting at `start` each trial; connect a
    2-unit readout to it (velocity) and it to the layers that see the position."""

    def __init__(self, name, start=(0.0, 0.0)):
        start = np.asarray(start, dtype=float)
        if start.shape != (2,) or not np.all(np.isfinite(start)):
            raise BlockError(f"block '{name}': start must be two finite numbers, got {start!r}")
        super().__init__(name, POINT_MASS, 2, params=dict(s0=start), synapse=RATE, init=dict(s=start))
