"""Vectorisable elementary functions for generated kernels: exp, expm1, log, tanh, logistic, x**n.

Why: libm's exp and tanh are opaque scalar calls, so a Numba loop that calls them stays
scalar. These are written in plain arithmetic, integer bit operations and selects, so once
LLVM inlines them into a loop, the loop vectorises.

How the kernel printer will call them (not wired yet; the wiring is a change of names in
printer.py's function map plus one import line in the generated module header):

    from circuitdsl.compiler.fastmath import (fm_exp, fm_expm1, fm_log, fm_tanh,
                                              fm_logistic, fm_ipow)
    sympy exp(u)        -> fm_exp(u)          (instead of math.exp(u))
    sympy exp(u) - 1    -> fm_expm1(u)
    sympy log(u)        -> fm_log(u)
    sympy tanh(u)       -> fm_tanh(u)
    1/(1 + exp(-u))     -> fm_logistic(u)
    u**n, n an integer  -> fm_ipow(u, n)      (n must be a literal in the source)

The `fm_*` names are generic: inside Numba code they pick the float32 or float64 version from
the argument's type (integers count as float64), so the printer emits the same text for both
precisions. The typed versions (`exp64`, `exp32`, ...) can also be called directly with an
argument of their own type, and the `fm_*` names except `fm_ipow` (a Numba intrinsic) also
work from plain Python on scalars (for tests and debugging).
When wired, the kernel cache key should include this file's source, since Numba's
`cache=True` only watches the kernel's own file.

Accuracy (tests/compiler/test_fastmath.py measures it against mpmath and asserts <= 2 ulp
over the whole range; measured worst 0.86 ulp in float64 and in float32, docs/performance.md
has the table), special values (+-0, +-inf, NaN, overflow, underflow to subnormals and to 0,
log of 0, negatives and subnormals) handled as IEEE/C99 specify. exp32, log32, tanh32 and logistic32 work in float32 arithmetic (16 vector
lanes on AVX-512), with e**x carried as a float32 pair where it feeds a division; expm1_32
computes in float64 and rounds once at the end (nearly correctly rounded, 8 lanes).

Compilation choices, and why:
- `fastmath` is off: exp's rounding step (k = x*log2e + 1.5*2**52, n = k - 1.5*2**52) is
  folded away by reassociation under fast-math flags.
- inline='never' (Numba's default): Numba-IR inlining would give our instructions the
  caller's fast-math flags and break that rounding step; LLVM still inlines these small
  functions into the caller's loop (keeping each instruction's own flags), which is what lets
  that loop vectorise. Each function must stay under LLVM's inlining threshold (a test
  checks that no call is left in a calling loop): keep them lean.
- error_model='numpy': no zero-division branches, which would keep a loop scalar.
- fused multiply-add through LLVM's `llvm.fma` (exact single rounding, so the results are the
  same on every machine; on a CPU without FMA it becomes a slow library call, not a different
  answer).
- selects (`a if c else b` on values already computed; an arm that computes something is
  compiled as a branch, which LLVM may not flatten) instead of early returns, so the body is
  straight-line code.

Methods (textbook): exp by Cody-Waite range reduction x = n*ln2 + r, |r| <= ln2/2, with ln2
split into a high part (whose products with n are exact) and a low part; e^r by a polynomial;
2**n assembled from exponent bits (as two factors, so that results in the subnormal range are
rounded once and overflow gives inf). expm1 by the same reduction with e^r - 1 kept as a
double-double, tanh(|x|) = -u/(2 + u) with u = expm1(-2|x|) and a corrected division,
logistic from exp(-|x|) with a corrected division, log by an exponent/mantissa split and the
series of 2*atanh(s), s = (m - 1)/(m + 1); tanh32 is an odd polynomial below |x| = 0.55 and
1 - 2/(1 + e**(2|x|)) above. The polynomial coefficients are near-minimax Chebyshev fits made
by `derive_coefficients()` (mpmath), rounded to float64 (float32 for the functions that work
in float32).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

_JIT = dict(error_model="numpy", fastmath=False)

# ---------------------------------------------------------------------------------------
# Bit casts and fused multiply-add as LLVM instructions.


@intrinsic
def _f64_bits(typingctx, x):
    """float64 -> int64 with the same bits."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, i):
    """int64 -> float64 with the same bits."""
    if not (isinstance(i, types.Integer) and i.bitwidth == 64):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c with one rounding (llvm.fma.f64, or llvm.fma.f32 for three float32)."""
    if a == b == c == types.float32:
        ty = types.float32
    elif a == b == c == types.float64:
        ty = types.float64
    else:
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return ty(ty, ty, ty), codegen


@intrinsic
def _scale_f32(typingctx, p, k):
    """p * 2**n in float32, n read from the bits of k = n + 1.5*2**23 (|n| <= 151), as two
    factors 2**(n>>1) and 2**(n - (n>>1)) so that the product rounds once, into subnormals
    too. In int32 IR: Numba would widen int32 arithmetic to int64 and halve the vector width."""
    if not (p == types.float32 and k == types.float32):
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        n = builder.sub(builder.bitcast(args[1], i32), ir.Constant(i32, 0x4B400000))
        n1 = builder.ashr(n, ir.Constant(i32, 1))
        n2 = builder.sub(n, n1)

        def pow2(m):
            bits = builder.shl(builder.add(m, ir.Constant(i32, 127)), ir.Constant(i32, 23))
            return builder.bitcast(bits, ir.FloatType())

        return builder.fmul(builder.fmul(args[0], pow2(n1)), pow2(n2))

    return types.float32(types.float32, types.float32), codegen


@intrinsic
def _split_f32(typingctx, x):
    """x = 2**k * m with m in [sqrt(1/2), sqrt(2)), for positive normal float32 x: (k as
    float32, m). In int32 IR, for the same reason as _scale_f32."""
    if x != types.float32:
        return None
    ret = types.UniTuple(types.float32, 2)

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        ix = builder.bitcast(args[0], i32)
        k = builder.ashr(builder.sub(ix, ir.Constant(i32, 0x3F3504F3)), ir.Constant(i32, 23))
        m = builder.bitcast(builder.sub(ix, builder.shl(k, ir.Constant(i32, 23))), ir.FloatType())
        kf = builder.sitofp(k, ir.FloatType())
        return context.make_tuple(builder, ret, [kf, m])

    return ret(types.float32), codegen


# ---------------------------------------------------------------------------------------
# Constants. Hexadecimal literals are exact; the tests check each against mpmath.

_SHIFT = 6755399441055744.0            # 1.5 * 2**52: adding it rounds to an integer
_SHIFT_BITS = 0x4338000000000000       # its bits; bits(_SHIFT + j) = _SHIFT_BITS + j, |j| < 2**51
_LOG2E = 1.4426950408889634            # log2(e) rounded
_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
# ln2 = _LN2_HI + _LN2_LO: the high part has 32 significant bits, so n*_LN2_HI is exact for
# |n| < 2**21; the low part is the rest, rounded
_LN2_HI = float.fromhex("0x1.62e42fee00000p-1")
_LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
# bits of sqrt(1/2): log takes mantissas in [sqrt(1/2), sqrt(2))
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_TWO54 = 18014398509481984.0           # 2**54, scales subnormal arguments of log to normal
_MIN_NORMAL = 2.2250738585072014e-308
_INF = math.inf
_NAN = math.nan

# exp's argument range: above 709.78 the result overflows, below -745.14 it rounds to 0;
# clamping (NaN passes through the comparisons) keeps n small enough for the 2**n factors.
_EXP_HI = 710.0
_EXP_LO = -746.0
# expm1(x) rounds to -1 for x < -38; clamping at -45 keeps every 2**n factor normal.
_EXPM1_LO = -45.0

# g(r) = (e^r - 1 - r)/r**2 on |r| <= ln2/2 (1.0005 times wider): degree 9 (relative error
# of 1 + r + r**2 g about 1.6e-17) for exp, degree 10 (3e-19) where e^r - 1 itself is the
# result (expm1, tanh, logistic), degree 5 (2.4e-10; 8e-10 with its coefficients rounded to
# float32 as _G5F) for the float32 functions.
_G9 = (0.5000000000000001, 0.16666666666666669, 0.04166666666662399, 0.008333333333330051,
       0.0013888888917281794, 0.00019841269863105968, 2.480152119021773e-05,
       2.7557268378684192e-06, 2.7620138719733994e-07, 2.5100424157005067e-08)
_G10 = (0.5, 0.1666666666666667, 0.04166666666666667, 0.008333333333326112,
        0.001388888888888373, 0.0001984126987490126, 2.4801587325605324e-05,
        2.7557255297969643e-06, 2.755727357010214e-07, 2.5105259538448494e-08,
        2.0914717341716378e-09)
# degree 4 for exp32 alone, with its coefficients rounded to float32 (relative error 1.1e-8)
_G4F = tuple(np.float32(c) for c in (0.5, 0.16666573194992437, 0.04166654987681868,
                                      0.008363804374444504, 0.0013926964713126128))
_G5 = (0.5000000014329165, 0.16666666682582046, 0.04166645638923536, 0.008333309977534509,
       0.001393458766275748, 0.00019892032101777532)
# h(z) = (2 atanh(s)/s - 2)/z, z = s**2 <= (3 - 2 sqrt 2)**2: degree 6 (relative error of
# log(m) about 4e-18).
_H6 = (0.666666666666667, 0.399999999998992, 0.2857142862611452, 0.22222211112104948,
       0.1818289077802613, 0.15331666676597175, 0.146171283998073)
# degree 2 rounded to float32 (2.7e-9) for log32
_H2F = tuple(np.float32(c) for c in (0.6666668506748816, 0.39988769144320513,
                                      0.29580467653794346))


def derive_coefficients():
    """Recompute the polynomial coefficients above with mpmath (Chebyshev fits at 60 digits).

    Returns a dict name -> tuple of float64 coefficients, lowest degree first."""
    import mpmath as mp

    with mp.workdps(60):
        def g(r):
            return mp.fsum(r**k / mp.factorial(k + 2) for k in range(40))

        def h(z):
            return mp.fsum(2 * z**(k - 1) / (2 * k + 1) for k in range(1, 60))

        def tanh_p(z):  # (tanh(x) - x)/x**3, z = x**2
            x = mp.sqrt(z)
            return (mp.tanh(x) - x) / x**3 if z else mp.mpf(-1) / 3

        def fit(f, a, b, n):
            coeffs, _ = mp.chebyfit(f, [a, b], n, error=True)
            return tuple(float(c) for c in coeffs[::-1])

        r = mp.log(2) / 2 * mp.mpf("1.0005")
        z = (3 - 2 * mp.sqrt(2)) ** 2 * mp.mpf("1.0005")
        return {
            "_G9": fit(g, -r, r, 10),
            "_G10": fit(g, -r, r, 11),
            "_G5": fit(g, -r * mp.mpf("1.01"), r * mp.mpf("1.01"), 6),
            "_G4F": fit(g, -r * mp.mpf("1.01"), r * mp.mpf("1.01"), 5),
            "_T4F": fit(tanh_p, mp.mpf(0), mp.mpf("0.55") ** 2 * mp.mpf("1.001"), 5),
            "_H6": fit(h, mp.mpf(0), z, 7),
            "_H2F": fit(h, mp.mpf(0), z, 3),
        }


# ---------------------------------------------------------------------------------------
# Polynomials (Horner with fma; the coefficient tuples are compile-time constants).


@njit(**_JIT)
def _g9(r):
    c = _G9
    p = _fma(c[9], r, c[8])
    p = _fma(p, r, c[7])
    p = _fma(p, r, c[6])
    p = _fma(p, r, c[5])
    p = _fma(p, r, c[4])
    p = _fma(p, r, c[3])
    p = _fma(p, r, c[2])
    p = _fma(p, r, c[1])
    return _fma(p, r, c[0])


@njit(**_JIT)
def _g10(r):
    c = _G10
    p = _fma(c[10], r, c[9])
    p = _fma(p, r, c[8])
    p = _fma(p, r, c[7])
    p = _fma(p, r, c[6])
    p = _fma(p, r, c[5])
    p = _fma(p, r, c[4])
    p = _fma(p, r, c[3])
    p = _fma(p, r, c[2])
    p = _fma(p, r, c[1])
    return _fma(p, r, c[0])


@njit(**_JIT)
def _g5(r):
    c = _G5
    p = _fma(c[5], r, c[4])
    p = _fma(p, r, c[3])
    p = _fma(p, r, c[2])
    p = _fma(p, r, c[1])
    return _fma(p, r, c[0])


@njit(**_JIT)
def _h6(z):
    c = _H6
    p = _fma(c[6], z, c[5])
    p = _fma(p, z, c[4])
    p = _fma(p, z, c[3])
    p = _fma(p, z, c[2])
    p = _fma(p, z, c[1])
    return _fma(p, z, c[0])


@njit(**_JIT)
def _pow2(n):
    """2.0**n from the exponent bits, for -1022 <= n <= 1023 (int64 n)."""
    return _bits_f64((n + 1023) << 52)


@njit(**_JIT)
def _small_int_to_f64(n):
    """float(n) for |n| < 2**51 by bit arithmetic (int64 -> float64 conversion does not
    vectorise without AVX-512)."""
    return _bits_f64(n + _SHIFT_BITS) - _SHIFT


# ---------------------------------------------------------------------------------------
# float64


@njit(**_JIT)
def _reduce(x):
    """x = n*ln2 + r + r_lo (|r| <= ln2/2, r_lo a correction below ulp(r)): (n as int64,
    n as float, r, r_lo). NaN gives NaN in r and an arbitrary n."""
    k = _fma(x, _LOG2E, _SHIFT)
    nf = k - _SHIFT
    ni = _f64_bits(k) - _SHIFT_BITS
    r_hi = x - nf * _LN2_HI          # exact: the two terms are close and n*_LN2_HI is exact
    t = nf * _LN2_LO
    r = r_hi - t
    r_lo = (r_hi - r) - t
    return ni, nf, r, r_lo


@njit(**_JIT)
def exp64(x):
    """e**x in float64."""
    x = _EXP_HI if x > _EXP_HI else x
    x = _EXP_LO if x < _EXP_LO else x
    ni, nf, r, r_lo = _reduce(x)
    # e^r - 1, with r_lo entering as r_lo*e^r ~ r_lo*(1 + r)
    q = _fma(r * r, _g9(r), _fma(r_lo, r, r_lo)) + r
    p = 1.0 + q
    # 2**n as two factors: p*s1 is exact, the second product rounds once (also into
    # subnormals) or overflows to inf.
    n1 = ni >> 1
    return (p * _pow2(n1)) * _pow2(ni - n1)


@njit(**_JIT)
def _exp_dd(x):
    """e**x as hi + lo (lo below ulp(hi); lo is only meaningful where hi is normal)."""
    x = _EXP_HI if x > _EXP_HI else x
    x = _EXP_LO if x < _EXP_LO else x
    ni, nf, r, r_lo = _reduce(x)
    s = _fma(r * r, _g10(r), _fma(r_lo, r, r_lo))
    q_hi = r + s
    q_lo = (r - q_hi) + s                # exact: |s| < |r|
    p = 1.0 + q_hi
    p_lo = ((1.0 - p) + q_hi) + q_lo
    n1 = ni >> 1
    s1 = _pow2(n1)
    s2 = _pow2(ni - n1)
    return (p * s1) * s2, (p_lo * s1) * s2


@njit(**_JIT)
def _expm1_dd(x):
    """e**x - 1 as hi + lo for x already clamped to [_EXPM1_LO, _EXP_HI] (or NaN).

    With x = n*ln2 + r and q = e^r - 1: e^x - 1 = 2**n q + 2**n - 1 = a*(b q + b - 1/a) with
    a*b = 2**n both normal, evaluated with its rounding errors collected in lo."""
    ni, nf, r, r_lo = _reduce(x)
    s = _fma(r * r, _g10(r), _fma(r_lo, r, r_lo))
    q_hi = r + s
    q_lo = (r - q_hi) + s                # exact: |s| < |r|
    n1 = ni >> 1
    n2 = ni - n1
    a = _pow2(n1)
    b = _pow2(n2)
    a_inv = _pow2(-n1)
    bm = b - a_inv
    # rounding error of bm (nonzero only for |n| > 53), by a two-sum ordered by magnitude
    # (both arms computed first: a select between plain values, never a branch)
    lo_pos = (b - bm) - a_inv
    lo_neg = (-a_inv - bm) + b
    bm_lo = lo_pos if ni > 0 else lo_neg
    bq = b * q_hi                        # exact (power of two)
    z = bm + bq
    e1 = bq - (z - bm)                   # exact: |bm| >= |bq| whenever z is inexact
    w = e1 + _fma(b, q_lo, bm_lo)
    y = z + w
    y_lo = w - (y - z)
    return a * y, a * y_lo


@njit(**_JIT)
def expm1_64(x):
    """e**x - 1 in float64, accurate for small |x|."""
    xc = _EXP_HI if x > _EXP_HI else x
    xc = _EXPM1_LO if xc < _EXPM1_LO else xc
    # hi alone: it is the rounded sum of the pair's parts (and without lo the function stays
    # small enough for LLVM to inline it into a calling loop)
    y, _ = _expm1_dd(xc)
    # below 2**-54 the result is x itself; this also keeps the sign of -0
    return x if abs(x) < 5.551115123125783e-17 else y


@njit(**_JIT)
def _expm1_neg_dd(t):
    """e**t - 1 as hi + lo (not renormalised) for t in [_EXPM1_LO, 0] (or NaN), where n <= 0
    and 2**n is normal, so one scale factor s suffices: e^t - 1 = (s - 1) + s q."""
    ni, nf, r, r_lo = _reduce(t)
    w = _fma(r * r, _g10(r), _fma(r_lo, r, r_lo))
    q_hi = r + w
    q_lo = (r - q_hi) + w                # exact: |w| < |r|
    s = _pow2(ni)
    sm1 = s - 1.0
    sm1_lo = s - (sm1 + 1.0)             # exact two-sum (|-1| >= s); nonzero for n < -53
    bq = s * q_hi                        # exact (power of two)
    z = sm1 + bq
    e1 = bq - (z - sm1)                  # exact: |sm1| >= |bq| unless z is exact
    return z, e1 + _fma(s, q_lo, sm1_lo)


@njit(**_JIT)
def tanh64(x):
    """tanh(x) in float64: tanh|x| = -u/(2 + u), u = expm1(-2|x|) as a double-double."""
    t = -2.0 * abs(x)
    t = _EXPM1_LO if t < _EXPM1_LO else t   # tanh is 1 to double precision beyond |x| = 19.1
    u_hi, u_lo = _expm1_neg_dd(t)
    d_hi = 2.0 + u_hi                    # 2 + u as d_hi + d_lo (|u| < 2)
    d_lo = ((2.0 - d_hi) + u_hi) + u_lo
    rcp = 1.0 / d_hi
    f0 = -u_hi * rcp
    # residual of the division, then one Newton correction
    res = (_fma(-f0, d_hi, -u_hi) - u_lo) - f0 * d_lo
    f = _fma(res, rcp, f0)
    return math.copysign(f, x)


@njit(**_JIT)
def logistic64(x):
    """1/(1 + e**-x) in float64, from E = e**-|x| (never overflows): 1/(1+E) for x >= 0,
    E/(1+E) below (so tiny results keep their precision down to the subnormals)."""
    e_hi, e_lo = _exp_dd(-abs(x))
    pos = x >= 0.0
    n_hi = 1.0 if pos else e_hi
    n_lo = 0.0 if pos else e_lo
    d_hi = 1.0 + e_hi                    # 1 + E as d_hi + d_lo (E <= 1)
    d_lo = ((1.0 - d_hi) + e_hi) + e_lo
    rcp = 1.0 / d_hi
    f0 = n_hi * rcp
    res = (_fma(-f0, d_hi, n_hi) + n_lo) - f0 * d_lo
    return _fma(res, rcp, f0)


@njit(**_JIT)
def log64(x):
    """Natural logarithm in float64: x = 2**k m, m in [sqrt(1/2), sqrt(2)), f = m - 1,
    log(1 + f) = f - f**2/2 + s (f**2/2 + R(s**2)), s = f/(2 + f)."""
    tiny = x < _MIN_NORMAL               # subnormals (and 0, negatives: replaced below)
    scaled = x * _TWO54
    xs = scaled if tiny else x
    ix = _f64_bits(xs)
    k = (ix - _SQRT_HALF_BITS) >> 52
    m = _bits_f64(ix - (k << 52))
    kf = _small_int_to_f64(k) - (54.0 if tiny else 0.0)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    big_r = z * _h6(z)
    hfsq = 0.5 * f * f
    y = kf * _LN2_HI + (f - (hfsq - _fma(s, hfsq + big_r, kf * _LN2_LO)))
    twice = x + x
    y = y if x < _INF else twice         # +inf -> inf, NaN -> NaN
    y = -_INF if x == 0.0 else y
    return _NAN if x < 0.0 else y


# ---------------------------------------------------------------------------------------
# float32. expm1_32: computed in float64 (every float32, subnormals included, is a normal
# float64) with a shorter polynomial, rounded once at the end.
# exp32, log32, tanh32, logistic32: float32 arithmetic throughout, for twice the lanes.

_EXP32_HI = 89.0                        # e**89 > float32 max
_EXP32_LO = -104.0                      # e**-104 < 2**-150 (half the smallest subnormal)
_EXPM1_32_LO = -20.0                    # expm1 rounds to -1 in float32 below -17.4


@njit(**_JIT)
def _expm1_32_core(x):
    """e**x - 1 in float64 (relative error ~1e-14) for float64 x in [-20, 89] or NaN."""
    k = _fma(x, _LOG2E, _SHIFT)
    nf = k - _SHIFT
    ni = _f64_bits(k) - _SHIFT_BITS
    r = _fma(nf, -_LN2, x)
    q = _fma(r * r, _g5(r), r)
    s = _pow2(ni)
    return _fma(s, q, s - 1.0)


_F32 = np.float32
_EXP32_HI_F = _F32(_EXP32_HI)
_EXP32_LO_F = _F32(_EXP32_LO)
_LOG2E_F = _F32(_LOG2E)
_SHIFT_F = _F32(12582912.0)              # 1.5 * 2**23
_LN2_HI_F = _F32(float.fromhex("0x1.62e4p-1"))      # 16 significant bits: n*hi exact, |n| < 256
_LN2_LO_F = _F32(float.fromhex("0x1.7f7d1cp-20"))   # ln2 - hi rounded to float32
_ONE_F = _F32(1.0)
_ZERO_F = _F32(0.0)


_G5F = tuple(np.float32(c) for c in _G5)


@njit(**_JIT)
def _exp32_dd(x):
    """e**x as hi + lo in float32 arithmetic, for float32 x in [-104, 89] or NaN (lo is only
    meaningful where hi is well above the subnormals)."""
    k = _fma(x, _LOG2E_F, _SHIFT_F)
    n = k - _SHIFT_F
    r_hi = _fma(n, -_LN2_HI_F, x)        # exact
    r = _fma(n, -_LN2_LO_F, r_hi)
    r_lo = _fma(-n, _LN2_LO_F, r_hi - r)  # the rounding error of r
    c = _G5F
    g = _fma(c[5], r, c[4])
    g = _fma(g, r, c[3])
    g = _fma(g, r, c[2])
    g = _fma(g, r, c[1])
    g = _fma(g, r, c[0])
    w = _fma(r * r, g, _fma(r_lo, r, r_lo))
    q_hi = r + w
    q_lo = (r - q_hi) + w                # exact: |w| < |r|
    p = _ONE_F + q_hi
    p_lo = ((_ONE_F - p) + q_hi) + q_lo
    return _scale_f32(p, k), _scale_f32(p_lo, k)


@njit(**_JIT)
def exp32(x):
    """e**x in float32, in float32 arithmetic throughout (twice the vector lanes of the
    float64 path that expm1_32 takes)."""
    x = _EXP32_HI_F if x > _EXP32_HI_F else x
    x = _EXP32_LO_F if x < _EXP32_LO_F else x
    # as _exp32_dd with one degree less and no pair (measured: 0.86 against 0.75 ulp, in
    # three quarters of the time)
    k = _fma(x, _LOG2E_F, _SHIFT_F)
    n = k - _SHIFT_F
    r_hi = _fma(n, -_LN2_HI_F, x)        # exact
    r = _fma(n, -_LN2_LO_F, r_hi)
    r_lo = _fma(-n, _LN2_LO_F, r_hi - r)
    c = _G4F
    g = _fma(c[4], r, c[3])
    g = _fma(g, r, c[2])
    g = _fma(g, r, c[1])
    g = _fma(g, r, c[0])
    q = _fma(r * r, g, _fma(r_lo, r, r_lo)) + r
    return _scale_f32(_ONE_F + q, k)


@njit(**_JIT)
def expm1_32(x):
    """e**x - 1 in float32."""
    xd = np.float64(x)
    xc = _EXP32_HI if xd > _EXP32_HI else xd
    xc = _EXPM1_32_LO if xc < _EXPM1_32_LO else xc
    y = _expm1_32_core(xc)
    return np.float32(xd if xd == 0.0 else y)    # keeps the sign of -0


# (tanh(x) - x)/x**3 in z = x**2 on |x| <= 0.55, degree 4 rounded to float32 (relative error
# of tanh 6e-9)
_T4F = tuple(np.float32(c) for c in (-0.3333333200171104, 0.13333112910672093,
                                      -0.053909267852378116, 0.021308401287001972,
                                      -0.006608371256918572))
_TANH32_SPLIT = _F32(0.55)              # tanh(0.55) = 0.5: below, the odd polynomial
_TANH32_BIG = _F32(9.1)                 # tanh is 1 in float32 beyond 9.02
_TWO_F = _F32(2.0)


@njit(**_JIT)
def tanh32(x):
    """tanh(x) in float32 arithmetic: |x| + |x|**3 P(x**2) below 0.55, else
    1 - 2/(1 + e**(2|x|)) with a corrected division (that result is >= 0.5, so the
    subtraction loses nothing)."""
    a = abs(x)
    a = _TANH32_BIG if a > _TANH32_BIG else a
    z = a * a
    c = _T4F
    p = _fma(c[4], z, c[3])
    p = _fma(p, z, c[2])
    p = _fma(p, z, c[1])
    p = _fma(p, z, c[0])
    small = _fma(a * z, p, a)
    e_hi, e_lo = _exp32_dd(a + a)        # 2a <= 18.2: no overflow
    d_hi = _ONE_F + e_hi                 # 1 + e as d_hi + d_lo (e >= 1)
    d_lo = ((e_hi - d_hi) + _ONE_F) + e_lo
    rcp = _ONE_F / d_hi
    t0 = _TWO_F * rcp
    res = _fma(-t0, d_hi, _TWO_F) - t0 * d_lo
    big = _ONE_F - _fma(res, rcp, t0)
    y = small if a < _TANH32_SPLIT else big
    return math.copysign(y, x)


@njit(**_JIT)
def logistic32(x):
    """1/(1 + e**-x) in float32 arithmetic, as logistic64 (E = e**-|x| as a pair, corrected
    division)."""
    t = -abs(x)
    t = _EXP32_LO_F if t < _EXP32_LO_F else t
    e_hi, e_lo = _exp32_dd(t)
    pos = x >= _ZERO_F
    n_hi = _ONE_F if pos else e_hi
    n_lo = _ZERO_F if pos else e_lo
    d_hi = _ONE_F + e_hi                 # 1 + E as d_hi + d_lo (E <= 1)
    d_lo = ((_ONE_F - d_hi) + e_hi) + e_lo
    rcp = _ONE_F / d_hi
    f0 = n_hi * rcp
    res = (_fma(-f0, d_hi, n_hi) + n_lo) - f0 * d_lo
    return _fma(res, rcp, f0)


_MIN_NORMAL_F = _F32(np.finfo(np.float32).tiny)
_TWO24_F = _F32(16777216.0)              # 2**24, scales subnormal arguments of log32 to normal
_HALF_F = _F32(0.5)
_INF_F = _F32(math.inf)
_NAN_F = _F32(math.nan)


@njit(**_JIT)
def log32(x):
    """Natural logarithm in float32 arithmetic, as log64 with a degree-2 polynomial."""
    tiny = x < _MIN_NORMAL_F
    scaled = x * _TWO24_F
    xs = scaled if tiny else x
    kf, m = _split_f32(xs)
    kf = kf - (_F32(24.0) if tiny else _ZERO_F)
    f = m - _ONE_F
    s = f / (_TWO_F + f)
    z = s * s
    c = _H2F
    big_r = z * _fma(_fma(c[2], z, c[1]), z, c[0])
    hfsq = _HALF_F * f * f
    y = kf * _LN2_HI_F + (f - (hfsq - _fma(s, hfsq + big_r, kf * _LN2_LO_F)))
    twice = x + x
    y = y if x < _INF_F else twice       # +inf -> inf, NaN -> NaN
    y = -_INF_F if x == _ZERO_F else y
    return _NAN_F if x < _ZERO_F else y


# ---------------------------------------------------------------------------------------
# Integer powers without pow.


def _emit_ipow(builder, x, n, fp32):
    """LLVM IR for x**n, n a Python int. float64: a compensated product (each partial power
    kept as hi + lo with fma, so the result is within about 0.5 ulp); float32: the plain
    product in float64, rounded once."""
    dbl = ir.DoubleType()
    one = ir.Constant(dbl, 1.0)
    zero = ir.Constant(dbl, 0.0)
    if fp32:
        xd = builder.fpext(x, dbl)
        if n == 0:
            return builder.fptrunc(one, ir.FloatType())
        y = _emit_plain_power(builder, xd, abs(n))
        if n < 0:
            y = builder.fdiv(one, y)
        return builder.fptrunc(y, ir.FloatType())
    if n == 0:
        return one
    if n == 1:
        return x
    if n == 2:
        return builder.fmul(x, x)
    if n == -1:
        return builder.fdiv(one, x)
    fabs = builder.module.declare_intrinsic("llvm.fabs", [dbl])
    inf = ir.Constant(dbl, math.inf)
    if n > 0:
        base = (x, None)
    else:
        # 1/x as hi + lo; lo = (1 - x*hi)*hi, set to 0 where that residual is not finite
        hi = builder.fdiv(one, x)
        e = builder.fma(builder.fneg(x), hi, one)
        lo = builder.fmul(e, hi)
        finite = builder.fcmp_ordered("<", builder.call(fabs, [e]), inf)
        base = (hi, builder.select(finite, lo, zero))
    ph, pl = _emit_dd_power(builder, base, abs(n))
    # inf and NaN partial powers make lo NaN, and a zero hi must keep its sign: hi alone there
    keep_lo = builder.and_(builder.fcmp_ordered("<", builder.call(fabs, [ph]), inf),
                           builder.fcmp_ordered("!=", ph, zero))
    return builder.select(keep_lo, builder.fadd(ph, pl), ph)


def _emit_plain_power(builder, x, n):
    result = None
    square = x
    while n:
        if n & 1:
            result = square if result is None else builder.fmul(result, square)
        n >>= 1
        if n:
            square = builder.fmul(square, square)
    return result


def _emit_dd_mul(builder, a, b):
    """(ah + al)*(bh + bl) as ph + pl; None stands for an exact zero low part."""
    ah, al = a
    bh, bl = b
    ph = builder.fmul(ah, bh)
    pl = builder.fma(ah, bh, builder.fneg(ph))
    if bl is not None:
        pl = builder.fma(ah, bl, pl)
    if al is not None:
        pl = builder.fma(al, bh, pl)
    return ph, pl


def _emit_dd_power(builder, base, n):
    result = None
    square = base
    while n:
        if n & 1:
            result = square if result is None else _emit_dd_mul(builder, result, square)
        n >>= 1
        if n:
            square = _emit_dd_mul(builder, square, square)
    lo = result[1]
    return result[0], (lo if lo is not None else ir.Constant(ir.DoubleType(), 0.0))


@intrinsic
def fm_ipow(typingctx, x, n):
    """x**n for a float x and an integer literal n, without pow (vectorisable)."""
    if not isinstance(n, types.IntegerLiteral):
        return None                      # Numba retries with the literal value
    if isinstance(x, types.Float) and x.bitwidth in (32, 64):
        ret = x
    elif isinstance(x, types.Integer):
        ret = types.float64
    else:
        return None
    power = n.literal_value

    def codegen(context, builder, sig, args):
        val = args[0]
        if isinstance(sig.args[0], types.Integer):
            val = context.cast(builder, val, sig.args[0], types.float64)
        return _emit_ipow(builder, val, power, ret == types.float32)

    return ret(x, n), codegen


# ---------------------------------------------------------------------------------------
# Generic names for generated code: the float32 or float64 version by argument type.


def _scalar(f32, f64, x):
    return f32(np.float32(x)) if isinstance(x, np.float32) else f64(np.float64(x))


def fm_exp(x):
    """e**x (float32 argument -> float32, anything else -> float64)."""
    return _scalar(exp32, exp64, x)


def fm_expm1(x):
    """e**x - 1."""
    return _scalar(expm1_32, expm1_64, x)


def fm_log(x):
    """Natural logarithm."""
    return _scalar(log32, log64, x)


def fm_tanh(x):
    """Hyperbolic tangent."""
    return _scalar(tanh32, tanh64, x)


def fm_logistic(x):
    """1/(1 + e**-x)."""
    return _scalar(logistic32, logistic64, x)


def _register(stub, f32, f64):
    @overload(stub, jit_options=_JIT)
    def _typed(x):
        if isinstance(x, types.Float) and x.bitwidth == 32:
            return lambda x: f32(x)
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return lambda x: f64(np.float64(x))
        return None


_register(fm_exp, exp32, exp64)
_register(fm_expm1, expm1_32, expm1_64)
_register(fm_log, log32, log64)
_register(fm_tanh, tanh32, tanh64)
_register(fm_logistic, logistic32, logistic64)

__all__ = [
    "fm_exp", "fm_expm1", "fm_log", "fm_tanh", "fm_logistic", "fm_ipow",
    "exp64", "expm1_64", "log64", "tanh64", "logistic64",
    "exp32", "expm1_32", "log32", "tanh32", "logistic32",
    "derive_coefficients",
]
