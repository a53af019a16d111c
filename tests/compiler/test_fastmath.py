"""Accuracy of circuitdsl.compiler.fastmath against mpmath (float64) and float64 (float32).

Errors are measured in units in the last place of the exact result (ulp). The float64
references are mpmath values at 120 bits, kept as the rounded value hi, the ulp of the exact
value and the offset of the exact value from hi in ulp, so the error of a result y is
|(y - hi)/ulp - offset|. The float32 references are
NumPy's float64 functions, whose own error (a few float64 ulp) is about 1e-8 float32 ulp.
The default suite samples a few thousand points per function; `pytest -m slow` runs the
dense sweep (200k float64 points per function, 2M float32 points).
"""
from __future__ import annotations

import math
import re
import struct

import mpmath as mp
import numpy as np
import pytest
from numba import njit

from circuitdsl.compiler import fastmath as fm

MAX_ULP = 2.0


@pytest.fixture(scope="module")
def loops():
    """Compiled elementwise loops, one per function, shared by this module's tests (each
    compiles once)."""
    made = {}

    def get(f):
        if f not in made:
            made[f] = _apply(f)
        return made[f]
    return get


def _apply(f):
    """A compiled loop applying `f` elementwise (the way a kernel calls it)."""
    @njit(error_model="numpy")
    def apply(xs):
        out = np.empty_like(xs)
        for i in range(xs.size):
            out[i] = f(xs[i])
        return out
    return apply


def _logistic_mp(x):
    return 1 / (1 + mp.exp(-x))


MP_FUNCS = {
    "exp": mp.exp, "expm1": mp.expm1, "log": mp.log, "tanh": mp.tanh,
    "logistic": _logistic_mp,
}
F64 = {"exp": fm.exp64, "expm1": fm.expm1_64, "log": fm.log64, "tanh": fm.tanh64,
       "logistic": fm.logistic64}
F32 = {"exp": fm.exp32, "expm1": fm.expm1_32, "log": fm.log32, "tanh": fm.tanh32,
       "logistic": fm.logistic32}


def _np_logistic(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


NP_FUNCS = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "tanh": np.tanh,
            "logistic": _np_logistic}


def _logspace_both(rng, n, lo_exp, hi_exp):
    mags = 10.0 ** rng.uniform(lo_exp, hi_exp, n)
    return mags * rng.choice([-1.0, 1.0], n)


def _points(name, n, seed=0):
    """float64 test points over the function's whole range, hard regions included."""
    rng = np.random.default_rng(seed)
    k = n // 4
    if name in ("exp", "expm1"):
        parts = [rng.uniform(-746.0, 710.0, k), _logspace_both(rng, k, -320, 2.9),
                 rng.uniform(-2.0, 2.0, k),
                 rng.uniform(-745.2, -708.0, k // 2),        # subnormal results
                 rng.uniform(709.0, 709.79, k // 2)]         # just below overflow
    elif name == "log":
        bits = rng.integers(1, 0x7FF0000000000000, k, dtype=np.int64)   # every positive finite
        parts = [bits.view(np.float64), 10.0 ** rng.uniform(-307, 308, k),
                 rng.uniform(0.5, 2.0, k), rng.uniform(0.70, 0.72, k // 2),
                 rng.uniform(1.40, 1.43, k // 2)]
    elif name == "tanh":
        parts = [_logspace_both(rng, k, -320, 1.5), rng.uniform(-20.0, 20.0, k),
                 rng.uniform(-1.5, 1.5, k), rng.uniform(-0.2, 0.2, k)]
    else:  # logistic
        parts = [rng.uniform(-750.0, 40.0, k), _logspace_both(rng, k, -320, 2.9),
                 rng.uniform(-40.0, 40.0, k), rng.uniform(-745.0, -700.0, k)]
    return np.concatenate(parts)


def _reference(fn, xs):
    """Exact values of fn at xs as float64 triples: hi (the correctly rounded result), ulp
    (the ulp of the exact value, 2**-1074 in the subnormal range) and off = (exact - hi)/ulp
    (kept in ulp units so that it survives where exact - hi is below the subnormals)."""
    hi = np.empty_like(xs)
    ulp = np.ones_like(xs)
    off = np.zeros_like(xs)
    with mp.workprec(120):
        for i, x in enumerate(xs):
            v = fn(mp.mpf(float(x)))
            h = float(v) if abs(v) < mp.mpf(2) ** 1024 else math.copysign(math.inf, v)
            hi[i] = h
            if math.isfinite(h) and v != 0:
                u = mp.ldexp(1, max(int(mp.frexp(v)[1]) - 53, -1074))
                ulp[i] = float(u)
                off[i] = float((v - h) / u)
    return hi, ulp, off


def _ulps64(y, ref):
    """|y - exact| in ulp of the exact value; inf where y is wrong in kind (inf, NaN)."""
    hi, ulp, off = ref
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs((y - hi) / ulp - off)
    finite = np.isfinite(hi)
    same = (y == hi) | (np.isnan(y) & np.isnan(hi))
    return np.where(finite, np.where(np.isfinite(y), err, np.inf), np.where(same, 0.0, np.inf))


def _ulps32(y32, ref64):
    """|y32 - exact| in float32 ulp of the exact value, the exact value taken as float64."""
    with np.errstate(over="ignore"):
        r32 = ref64.astype(np.float32)
    ulp = np.spacing(np.abs(r32)).astype(np.float64)
    pow2 = (np.frexp(np.abs(r32))[0] == 0.5) & (np.abs(r32) > np.finfo(np.float32).tiny)
    ulp = np.where(pow2 & (np.abs(ref64) < np.abs(r32.astype(np.float64))), ulp / 2, ulp)
    y = y32.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(y - ref64) / ulp
    finite = np.isfinite(r32)
    same = (y == r32) | (np.isnan(y) & np.isnan(r32))
    return np.where(finite, np.where(np.isfinite(y), err, np.inf), np.where(same, 0.0, np.inf))


def _worst64(name, n, seed=0, get=_apply):
    xs = _points(name, n, seed)
    y = get(F64[name])(xs)
    err = _ulps64(y, _reference(MP_FUNCS[name], xs))
    i = int(np.argmax(err))
    return err[i], xs[i]


def _points32(name, n, seed=0):
    xs = _points(name, n, seed)
    if name == "log":
        bits = np.random.default_rng(seed).integers(1, 0x7F800000, n // 2, dtype=np.int32)
        xs = np.concatenate([xs, bits.view(np.float32).astype(np.float64)])
    else:
        lim = {"exp": (-104.0, 89.0), "expm1": (-20.0, 89.0)}.get(name, (-120.0, 120.0))
        xs = np.concatenate([xs, np.random.default_rng(seed).uniform(*lim, n // 2)])
    with np.errstate(over="ignore", under="ignore"):
        return xs.astype(np.float32)


def _worst32(name, n, seed=0, get=_apply):
    xs = _points32(name, n, seed)
    y = get(F32[name])(xs)
    assert y.dtype == np.float32
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ref = NP_FUNCS[name](xs.astype(np.float64))
    err = _ulps32(y, ref)
    i = int(np.argmax(err))
    return err[i], xs[i]


@pytest.mark.parametrize("name", sorted(F64))
def test_float64_within_2ulp_of_mpmath(name, loops):
    worst, at = _worst64(name, 4000, get=loops)
    assert worst <= MAX_ULP, f"{name}: {worst:.3f} ulp at x = {at!r}"


@pytest.mark.parametrize("name", sorted(F32))
def test_float32_within_2ulp(name, loops):
    worst, at = _worst32(name, 100_000, get=loops)
    assert worst <= MAX_ULP, f"{name}32: {worst:.3f} ulp at x = {at!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(F64))
def test_float64_dense_sweep(name, loops):
    worst, at = _worst64(name, 200_000, seed=1, get=loops)
    print(f"\n{name} float64: worst {worst:.3f} ulp at {at!r} over 200k points")
    assert worst <= MAX_ULP


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(F32))
def test_float32_dense_sweep(name, loops):
    worst, at = _worst32(name, 2_000_000, seed=1, get=loops)
    print(f"\n{name} float32: worst {worst:.3f} ulp at {at!r} over 3M points")
    assert worst <= MAX_ULP


# --- special values -------------------------------------------------------------------

INF, NAN = math.inf, math.nan
TINY = 5e-324          # smallest subnormal

SPECIAL = [
    # (function, argument, expected), expected from IEEE 754 / C99 Annex F
    ("exp", 0.0, 1.0), ("exp", -0.0, 1.0), ("exp", INF, INF), ("exp", -INF, 0.0),
    ("exp", NAN, NAN), ("exp", 710.0, INF), ("exp", 1e300, INF), ("exp", -746.0, 0.0),
    ("exp", -1e300, 0.0), ("exp", TINY, 1.0), ("exp", -TINY, 1.0),
    ("expm1", 0.0, 0.0), ("expm1", -0.0, -0.0), ("expm1", INF, INF), ("expm1", -INF, -1.0),
    ("expm1", NAN, NAN), ("expm1", 710.0, INF), ("expm1", -50.0, -1.0),
    ("expm1", TINY, TINY), ("expm1", -TINY, -TINY),
    ("log", 1.0, 0.0), ("log", 0.0, -INF), ("log", -0.0, -INF), ("log", -1.0, NAN),
    ("log", -INF, NAN), ("log", INF, INF), ("log", NAN, NAN), ("log", -TINY, NAN),
    ("tanh", 0.0, 0.0), ("tanh", -0.0, -0.0), ("tanh", INF, 1.0), ("tanh", -INF, -1.0),
    ("tanh", NAN, NAN), ("tanh", 30.0, 1.0), ("tanh", -30.0, -1.0), ("tanh", TINY, TINY),
    ("tanh", -TINY, -TINY),
    ("logistic", 0.0, 0.5), ("logistic", -0.0, 0.5), ("logistic", INF, 1.0),
    ("logistic", -INF, 0.0), ("logistic", NAN, NAN), ("logistic", 40.0, 1.0),
    ("logistic", -750.0, 0.0),
]


def _same(a, b):
    if math.isnan(b):
        return math.isnan(a)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def test_special_values_float64():
    bad = []
    for name, x, want in SPECIAL:
        got = float(F64[name](x))
        if not _same(got, want):
            bad.append((name, x, got, want))
    assert not bad


def test_special_values_float32():
    bad = []
    for name, x, want in SPECIAL:
        with np.errstate(over="ignore", under="ignore"):
            x32 = np.float32(x)
            want32 = np.float32(want)
        if not (float(x32) == x or math.isnan(x)):
            continue                    # argument not a float32 (the cases below cover those)
        got = float(F32[name](x32))
        if not _same(got, float(want32)):
            bad.append((name, x, got, float(want32)))
    tiny32 = float(np.float32(1e-45))   # smallest float32 subnormal
    for name, x, want in [("exp", 89.0, INF), ("exp", -104.0, 0.0), ("expm1", 89.0, INF),
                          ("expm1", -20.0, -1.0), ("log", -tiny32, NAN),
                          ("tanh", tiny32, tiny32), ("tanh", -10.0, -1.0),
                          ("expm1", -tiny32, -tiny32), ("logistic", -104.0, 0.0)]:
        got = float(F32[name](np.float32(x)))
        if not _same(got, want):
            bad.append((name, x, got, want))
    assert not bad


def test_subnormal_and_overflow_edges_float64(loops):
    """Results near the ends of the range, where the 2**n scaling is split in two."""
    xs = np.array([-745.13, -745.0, -744.4, -740.0, -730.0, -720.0, -709.0, -708.4,
                   709.7, 709.78, 709.782712893384])
    for name in ("exp", "logistic"):
        err = _ulps64(loops(F64[name])(xs), _reference(MP_FUNCS[name], xs))
        assert err.max() <= MAX_ULP, (name, err)
    assert fm.exp64(709.782712893384) < INF
    assert fm.exp64(709.7827128933841) == INF
    # log of subnormals: exponent taken after scaling by 2**54
    xs = np.array([5e-324, 1e-320, 3e-310, 2.2250738585072e-308, 1.8e308])
    assert _ulps64(loops(fm.log64)(xs), _reference(mp.log, xs)).max() <= MAX_ULP


# --- integer powers ---------------------------------------------------------------------

@njit(error_model="numpy")
def _powers(xs):
    out = np.empty((11, xs.size), dtype=xs.dtype)
    for i in range(xs.size):
        x = xs[i]
        out[0, i] = fm.fm_ipow(x, -4)
        out[1, i] = fm.fm_ipow(x, -3)
        out[2, i] = fm.fm_ipow(x, -2)
        out[3, i] = fm.fm_ipow(x, -1)
        out[4, i] = fm.fm_ipow(x, 0)
        out[5, i] = fm.fm_ipow(x, 1)
        out[6, i] = fm.fm_ipow(x, 2)
        out[7, i] = fm.fm_ipow(x, 3)
        out[8, i] = fm.fm_ipow(x, 4)
        out[9, i] = fm.fm_ipow(x, 5)
        out[10, i] = fm.fm_ipow(x, 8)
    return out


POWERS = (-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 8)


def test_ipow_float64_against_mpmath():
    rng = np.random.default_rng(3)
    xs = np.concatenate([_logspace_both(rng, 1500, -40, 37), rng.uniform(-2, 2, 500)])
    out = _powers(xs)
    for row, n in enumerate(POWERS):
        err = _ulps64(out[row], _reference(lambda v, n=n: v ** n, xs))
        assert err.max() <= MAX_ULP, (n, err.max(), xs[np.argmax(err)])


def test_ipow_special_values():
    xs = np.array([0.0, -0.0, INF, -INF, NAN, 1e200, 1e-200, -1e155])
    out = _powers(xs)
    with np.errstate(all="ignore"):
        for row, n in enumerate(POWERS):
            want = np.power(xs, float(n))
            for x, got, w in zip(xs, out[row], want):
                assert _same(float(got), float(w)), (n, x, got, w)


def test_ipow_float32():
    rng = np.random.default_rng(4)
    xs = _logspace_both(rng, 20000, -12, 9).astype(np.float32)
    out = _powers(xs)
    assert out.dtype == np.float32
    with np.errstate(all="ignore"):
        for row, n in enumerate(POWERS):
            ref = np.power(xs.astype(np.float64), float(n))
            assert _ulps32(out[row], ref).max() <= MAX_ULP, n


# --- generic names, constants, coefficients, vectorisation ------------------------------

def test_generic_names_dispatch_on_type():
    @njit(error_model="numpy")
    def both(x):
        return fm.fm_exp(x), fm.fm_exp(np.float32(x)), fm.fm_tanh(x), fm.fm_log(x)

    e64, e32, t64, l64 = both(0.75)
    assert e64 == fm.exp64(0.75) and t64 == fm.tanh64(0.75) and l64 == fm.log64(0.75)
    assert isinstance(e32, float) and e32 == float(fm.exp32(np.float32(0.75)))
    assert fm.fm_exp(np.float32(0.75)) == fm.exp32(np.float32(0.75))
    assert fm.fm_logistic(2.0) == fm.logistic64(2.0)

    @njit(error_model="numpy")
    def ints(n):
        return fm.fm_exp(n), fm.fm_ipow(n, 3)

    e, cube = ints(2)                    # integers are taken as float64
    assert e == fm.exp64(2.0) and cube == 8.0 and isinstance(cube, float)


def test_fast_math_callers_get_the_same_bits(loops):
    """LLVM inlining keeps each instruction's own flags, so a caller compiled with
    fastmath=True cannot fold away the rounding step of the range reduction."""
    def each(xs):
        out = np.empty((5, xs.size), dtype=xs.dtype)
        for i in range(xs.size):
            x = xs[i]
            out[0, i] = fm.fm_exp(x)
            out[1, i] = fm.fm_expm1(x)
            out[2, i] = fm.fm_log(x)
            out[3, i] = fm.fm_tanh(x)
            out[4, i] = fm.fm_logistic(x)
        return out

    fast = njit(fastmath=True, error_model="numpy")(each)
    xs = np.random.default_rng(5).uniform(-30.0, 30.0, 5000)
    xs[::7] = np.abs(xs[::7])
    for arr in (xs, xs.astype(np.float32)):
        want = np.stack([loops(f)(arr) for f in ((F32 if arr.dtype == np.float32 else F64)[k]
                                                  for k in ("exp", "expm1", "log", "tanh",
                                                            "logistic"))])
        got = fast(arr)
        assert np.array_equal(got, want, equal_nan=True), arr.dtype


def test_ipow_needs_a_literal_exponent():
    from numba.core.errors import TypingError

    @njit
    def runtime_power(x, n):
        return fm.fm_ipow(x, n)

    with pytest.raises(TypingError):
        runtime_power(2.0, 3)


def test_constants_against_mpmath():
    with mp.workprec(200):
        ln2 = mp.log(2)
        assert fm._LN2 == float(ln2)
        assert fm._LN2_LO == float(ln2 - fm._LN2_HI)
        assert fm._LOG2E == float(1 / ln2)
        assert fm._SHIFT == 1.5 * 2.0 ** 52
        assert struct.pack("<q", fm._SHIFT_BITS) == struct.pack("<d", fm._SHIFT)
        assert struct.pack("<q", fm._SQRT_HALF_BITS) == struct.pack("<d", float(mp.sqrt(0.5)))
        assert fm._LN2_LO_F == np.float32(float(ln2 - mp.mpf(float(fm._LN2_HI_F))))
        assert struct.pack("<f", fm._SHIFT_F) == struct.pack("<i", 0x4B400000)  # _scale_f32
    # n*_LN2_HI exact for every n the reduction produces: _LN2_HI has 32 significant bits
    mant = int(fm._LN2_HI.hex()[4:-4].ljust(13, "0"), 16)
    assert mant % (1 << 20) == 0
    # and the float32 high part 16 (|n| <= 151 in float32 needs 8 bits of the 24)
    mant32 = struct.unpack("<i", struct.pack("<f", fm._LN2_HI_F))[0] & 0x7FFFFF
    assert mant32 % (1 << 8) == 0
    assert abs(float(fm._LN2_HI_F) - float(ln2)) < 2.0 ** -16


def test_coefficients_are_the_documented_fits():
    derived = fm.derive_coefficients()
    assert set(derived) == {"_G9", "_G10", "_G5", "_G4F", "_T4F", "_H6", "_H2F"}
    for name, coeffs in derived.items():
        if name.endswith("F"):           # float32 tables: the fit rounded to float32
            assert getattr(fm, name) == tuple(np.float32(c) for c in coeffs), name
        else:
            assert getattr(fm, name) == coeffs, name


@pytest.mark.parametrize("name", sorted(F64))
def test_calling_loops_vectorise(name, loops):
    """The reason these functions exist: LLVM inlines them and turns the calling loop into
    vector code. (Each function must stay under LLVM's inlining threshold: a call left in
    the loop keeps it scalar.)"""
    for f, xs in ((F64[name], np.ones(4)), (F32[name], np.ones(4, np.float32))):
        loop = loops(f)
        loop(xs)
        ir_text = "".join(loop.inspect_llvm().values())
        assert re.search(r"<\d+ x (?:double|float)>", ir_text), f.__name__
        callees = re.findall(r"call [^@]*@([\w.$]+)", ir_text)
        assert not [c for c in callees if "compiler8fastmath" in c], f.__name__  # all inlined
