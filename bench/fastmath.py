"""Speed of circuitdsl's vectorisable math functions against libm inside the same Numba loop.

For each function and precision, three loops over the same array of N elements, in one
process: `out[i] = ours(x[i])`, `out[i] = math.f(x[i])` (libm through Numba), and NumPy's
whole-array ufunc for reference. Times are the fastest of --reps passes in CPU time of the
process, in ns per element. Inputs: uniform in [-10, 10] (exp, expm1, tanh, logistic),
log-uniform in [1e-3, 1e3] (log), uniform in [0, 1] (powers). "HH rates" is a composite: the
six Hodgkin-Huxley rate functions (six exponentials) and m**3 h + n**4 in one loop body.
Each Numba loop's machine code is inspected: "vector" means its LLVM IR has vector types
(<N x double> / <N x float>), its assembly packed floating-point arithmetic (…pd/…ps on
xmm/ymm/zmm registers) and no call of a libm function; the widest vector type is printed.

    python bench/fastmath.py              # N = 1e6, 15 passes
    python bench/fastmath.py --json out.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import numba
import numpy as np
from numba import float32, float64, njit, void

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from circuitdsl.compiler import fastmath as fm  # noqa: E402

JIT = dict(error_model="numpy")


def _loops():
    """name -> (dtype, input sampler, our loop, libm loop, numpy function)."""

    def make(f):
        def loop(xs, out):
            for i in range(xs.size):
                out[i] = f(xs[i])
        return loop

    # Each libm loop is written out so that Numba sees a direct call of the math function.
    def exp_libm(xs, out):
        for i in range(xs.size):
            out[i] = math.exp(xs[i])

    def expm1_libm(xs, out):
        for i in range(xs.size):
            out[i] = math.expm1(xs[i])

    def log_libm(xs, out):
        for i in range(xs.size):
            out[i] = math.log(xs[i])

    def tanh_libm(xs, out):
        for i in range(xs.size):
            out[i] = math.tanh(xs[i])

    def logistic_libm(xs, out):
        for i in range(xs.size):
            out[i] = 1.0 / (1.0 + math.exp(-xs[i]))

    def cube_ours(xs, out):
        for i in range(xs.size):
            out[i] = fm.fm_ipow(xs[i], 3)

    def cube_numba(xs, out):
        for i in range(xs.size):
            out[i] = xs[i] ** 3

    def fourth_ours(xs, out):
        for i in range(xs.size):
            out[i] = fm.fm_ipow(xs[i], 4)

    def fourth_numba(xs, out):
        for i in range(xs.size):
            out[i] = xs[i] ** 4

    def logistic_np(xs, out):
        np.negative(xs, out=out)
        np.exp(out, out=out)
        out += 1
        np.reciprocal(out, out=out)

    # Hodgkin-Huxley gating rates at potential v (mV): six exponentials and two powers in
    # one loop body, as a generated kernel would have them.
    def hh_ours(xs, out):
        for i in range(xs.size):
            v = xs[i]
            am = 0.1 * (v + 40.0) / (1.0 - fm.fm_exp(-(v + 40.0) / 10.0))
            bm = 4.0 * fm.fm_exp(-(v + 65.0) / 18.0)
            ah = 0.07 * fm.fm_exp(-(v + 65.0) / 20.0)
            bh = 1.0 / (1.0 + fm.fm_exp(-(v + 35.0) / 10.0))
            an = 0.01 * (v + 55.0) / (1.0 - fm.fm_exp(-(v + 55.0) / 10.0))
            bn = 0.125 * fm.fm_exp(-(v + 65.0) / 80.0)
            m = am / (am + bm)
            n = an / (an + bn)
            out[i] = fm.fm_ipow(m, 3) * (ah / (ah + bh)) + fm.fm_ipow(n, 4)

    def hh_libm(xs, out):
        for i in range(xs.size):
            v = xs[i]
            am = 0.1 * (v + 40.0) / (1.0 - math.exp(-(v + 40.0) / 10.0))
            bm = 4.0 * math.exp(-(v + 65.0) / 18.0)
            ah = 0.07 * math.exp(-(v + 65.0) / 20.0)
            bh = 1.0 / (1.0 + math.exp(-(v + 35.0) / 10.0))
            an = 0.01 * (v + 55.0) / (1.0 - math.exp(-(v + 55.0) / 10.0))
            bn = 0.125 * math.exp(-(v + 65.0) / 80.0)
            m = am / (am + bm)
            n = an / (an + bn)
            out[i] = m ** 3 * (ah / (ah + bh)) + n ** 4

    def hh_np(v, out):
        am = 0.1 * (v + 40.0) / (1.0 - np.exp(-(v + 40.0) / 10.0))
        bm = 4.0 * np.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * np.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (1.0 + np.exp(-(v + 35.0) / 10.0))
        an = 0.01 * (v + 55.0) / (1.0 - np.exp(-(v + 55.0) / 10.0))
        bn = 0.125 * np.exp(-(v + 65.0) / 80.0)
        m = am / (am + bm)
        n = an / (an + bn)
        out[:] = m ** 3 * (ah / (ah + bh)) + n ** 4

    def volts(rng, n):
        return rng.uniform(-80.0, 40.0, n)

    def sym(rng, n):
        return rng.uniform(-10.0, 10.0, n)

    def pos(rng, n):
        return 10.0 ** rng.uniform(-3.0, 3.0, n)

    def unit(rng, n):
        return rng.uniform(0.0, 1.0, n)

    table = []
    for dt, suffix in ((np.float64, "64"), (np.float32, "32")):
        table += [
            (f"exp{suffix}", dt, sym, make(getattr(fm, "exp" + suffix)), exp_libm,
             lambda x, o: np.exp(x, out=o)),
            (f"expm1_{suffix}", dt, sym, make(getattr(fm, "expm1_" + suffix)), expm1_libm,
             lambda x, o: np.expm1(x, out=o)),
            (f"log{suffix}", dt, pos, make(getattr(fm, "log" + suffix)), log_libm,
             lambda x, o: np.log(x, out=o)),
            (f"tanh{suffix}", dt, sym, make(getattr(fm, "tanh" + suffix)), tanh_libm,
             lambda x, o: np.tanh(x, out=o)),
            (f"logistic{suffix}", dt, sym, make(getattr(fm, "logistic" + suffix)),
             logistic_libm, logistic_np),
            (f"ipow(x,3) f{suffix}", dt, unit, cube_ours, cube_numba,
             lambda x, o: np.power(x, 3, out=o)),
            (f"ipow(x,4) f{suffix}", dt, unit, fourth_ours, fourth_numba,
             lambda x, o: np.power(x, 4, out=o)),
        ]
    table.append(("HH rates f64", np.float64, volts, hh_ours, hh_libm, hh_np))
    return table


PACKED = re.compile(r"\bv?(?:fmadd\d*|fnmadd\d*|fmsub\d*|mul|add|sub|div)p[sd]\b[^\n]*[xyz]mm")
VECTYPE = re.compile(r"<(\d+) x (?:double|float)>")
# libm functions are called directly by name or through a register loaded with their address
LIBM_CALL = re.compile(r"(?:\bcall[a-z]*\s+|\$)(?:exp|expm1|log|tanh|pow)f?\b")


def vector_report(dispatcher, sig):
    """(vectorised?, widest vector type, libm references in the assembly)."""
    ir_text = dispatcher.inspect_llvm(sig)
    asm = dispatcher.inspect_asm(sig)
    widths = [int(w) for w in VECTYPE.findall(ir_text)]
    packed = len(PACKED.findall(asm))
    # a vectorised loop that still calls libm once per lane is not vector code
    scalar_calls = len(LIBM_CALL.findall(asm))
    vectorised = bool(widths) and packed > 0 and not scalar_calls
    return vectorised, (max(widths) if widths else 1), scalar_calls


def best_time(run, xs, out, reps):
    """Fastest pass in CPU time of this process: on a shared machine wall time also counts
    the time slices given to other processes, which hits the slow (libm) loops hardest."""
    run(xs, out)
    best = math.inf
    for _ in range(reps):
        t0 = time.process_time_ns()
        run(xs, out)
        best = min(best, time.process_time_ns() - t0)
    return best / xs.size


def machine():
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "llvm_host_cpu": llvm.get_host_cpu_name(),
        "python": platform.python_version(),
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": np.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),   # the machine may be shared
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--only", default="", help="substring of the function names to run")
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()

    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    print(f"N = {args.n}, fastest of {args.reps} passes (process CPU time), ns per element")
    rng = np.random.default_rng(0)
    rows = []
    header = (f"{'function':<18} {'ours':>7} {'libm':>7} {'numpy':>7}  "
              f"{'ours vec':<14} {'libm vec':<16}")
    print(header)
    for name, dt, sample, ours_py, libm_py, np_fn in _loops():
        if args.only and args.only not in name:
            continue
        nbt = float64 if dt == np.float64 else float32
        sig = void(nbt[::1], nbt[::1])
        ours = njit(sig, **JIT)(ours_py)
        libm = njit(sig, **JIT)(libm_py)
        xs = sample(rng, args.n).astype(dt)
        out = np.empty_like(xs)
        t_ours = best_time(ours, xs, out, args.reps)
        t_libm = best_time(libm, xs, out, args.reps)
        t_np = best_time(np_fn, xs, out, args.reps)
        v_ours = vector_report(ours, sig.args)
        v_libm = vector_report(libm, sig.args)

        def fmt(v):
            if v[0]:
                return f"yes <{v[1]} x>"
            # LLVM may widen the loop and still call libm once per lane
            return f"no (libm x{v[1]})" if v[2] and v[1] > 1 else "no"

        print(f"{name:<18} {t_ours:7.2f} {t_libm:7.2f} {t_np:7.2f}  "
              f"{fmt(v_ours):<14} {fmt(v_libm):<16}", flush=True)
        rows.append(dict(function=name, ours_ns=t_ours, libm_ns=t_libm, numpy_ns=t_np,
                         ours_vectorised=v_ours[0], ours_width=v_ours[1],
                         libm_vectorised=v_libm[0], libm_width=v_libm[1]))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(machine=info, n=args.n, reps=args.reps,
                                                   rows=rows), indent=1))


if __name__ == "__main__":
    main()
