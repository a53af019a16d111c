"""Counter-free random streams used inside generated kernels.

Each stream is one uint64 of state (splitmix64), so a circuit's random state is a small array
that is saved with a run and restored on resume. Streams are seeded per block and per edge from
the root seed, so the same seed gives the same draws, bit for bit.
"""
import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0   # 2**-53


@njit(cache=True)
def rng_next(R, s):
    R[s] += _GOLDEN
    z = R[s]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def rng_rand(R, s):
    """Uniform on [0, 1)."""
    return float(rng_next(R, s) >> _S11) * _TO_UNIT


@njit(cache=True)
def rng_uniform(R, s, a, b):
    return a + (b - a) * rng_rand(R, s)


@njit(cache=True)
def rng_randn(R, s):
    """Standard normal (Box-Muller; one pair member used, so draws per call are fixed)."""
    u1 = rng_rand(R, s)
    u2 = rng_rand(R, s)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def rng_poisson(R, s, lam):
    """Poisson(lam): Knuth's product method below 30, a rounded normal above (documented)."""
    if lam <= 0.0:
        return 0.0
    if lam < 30.0:
        limit = math.exp(-lam)
        k = 0
        p = rng_rand(R, s)
        while p > limit:
            k += 1
            p *= rng_rand(R, s)
        return float(k)
    return float(max(0.0, math.floor(lam + math.sqrt(lam) * rng_randn(R, s) + 0.5)))


def seed_streams(seed, labels):
    """One uint64 state per stream label, derived from the root seed and the label."""
    import zlib
    out = np.empty(len(labels), dtype=np.uint64)
    for k, label in enumerate(labels):
        ss = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(label.encode()),))
        out[k] = ss.generate_state(1, dtype=np.uint64)[0]
    return out
