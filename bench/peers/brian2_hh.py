"""Peer benchmark: the HH network of a spec .npz with Brian2.

Written from the model equations (see README.md in this folder); uses only
ordinary Brian2 API.  Runs with the venv described in README.md (Brian2
2.9.0 does not import with NumPy >= 2.4):

    /tmp/b2venv/bin/python bench/peers/brian2_hh.py SPEC.npz \
        [--target cpp_standalone|cython|numpy] [--json OUT]

prints one JSON line with tool="brian2 <target>", wall_seconds,
build_seconds, spike_counts, n_neurons, n_synapses and versions.

Model: one NeuronGroup holding all neurons, with per-neuron rate shifts and
per-neuron (source-side) synapse parameters; the synapse gate pair (G, z)
lives on the presynaptic neuron, and one Synapses object sums
w * G_pre * (E_syn_pre - V_post) into I_syn.  Units: Brian2 needs dimensions,
so V is in volt and every rate equation is written as a plain number in
"per ms" divided by ``ms``; the numbers are exactly those of the spec.
Integration: exponential Euler with defaultclock.dt = spec dt.  Spikes:
threshold 'V > 0*mV' with refractory 'V > 0*mV' (one event per upward
crossing of 0 mV, no reset), counted by a SpikeMonitor(record=False).

Timing, per target:
  cpp_standalone  build_seconds = device.build(compile=True, run=False)
                  (code generation + C++ compile, fresh temp directory);
                  wall_seconds = device.run() (launching the binary,
                  simulating, writing results); sim_loop_seconds = the
                  binary's own measure of the simulation loop.
  cython          build_seconds = first Network.run(0*ms) with an empty,
                  fresh Cython cache directory (code generation + Cython/C
                  compile); wall_seconds = the following Network.run(duration)
                  (which re-creates the code objects from the in-process cache).
  numpy           build_seconds = first Network.run(0*ms) (code generation
                  only); wall_seconds = Network.run(duration).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# Single-threaded BLAS/OpenMP unless the caller set otherwise: with threads
# spinning on a shared 2-core machine the wall time became erratic (one
# LSODA run went from 18 s to 80 s).  Must happen before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hh_network_spec as hs  # noqa: E402

TARGETS = ("cpp_standalone", "cython", "numpy")

EQS = """
dV/dt = (-G_Na*m**3*h*(V - E_Na) - G_K*n**4*(V - E_K) - G_L*(V - E_L)
         + I_ext + I_syn) / ms : volt
dn/dt = phi*(alpha_n*(1 - n) - beta_n*n) : 1
dm/dt = phi*(alpha_m*(1 - m) - beta_m*m) : 1
dh/dt = phi*(alpha_h*(1 - h) - beta_h*h) : 1
alpha_n = 0.01*(V/mV + sh_an)/(1 - exp(-(V/mV + sh_an)/10))/ms : Hz
beta_n = 0.125*exp(-(V/mV + sh_bn)/80)/ms : Hz
alpha_m = 0.1*(V/mV + sh_am)/(1 - exp(-(V/mV + sh_am)/10))/ms : Hz
beta_m = 4*exp(-(V/mV + sh_bm)/18)/ms : Hz
alpha_h = 0.07*exp(-(V/mV + sh_ah)/20)/ms : Hz
beta_h = 1/(1 + exp(-(V/mV + sh_bh)/10))/ms : Hz
dG/dt = -G/tau2 + z : 1
dz/dt = -z/tau1 + G_syn/(1 + exp(-syn_slope*(V - V_shift)/V_range))/ms**2 : Hz
I_ext : volt (constant)
I_syn : volt
sh_an : 1 (constant)
sh_bn : 1 (constant)
sh_am : 1 (constant)
sh_bm : 1 (constant)
sh_ah : 1 (constant)
sh_bh : 1 (constant)
E_syn : volt (constant)
G_syn : 1 (constant)
V_shift : volt (constant)
V_range : volt (constant)
tau2 : second (constant)
"""
# The rate formulas are written exactly as in the model description (0/0
# only at V == -shift exactly, which a float trajectory does not hit).  Not
# exprel(): Brian2's numpy-target exprel is a Python function costing
# ~150 us per call, which would make the numpy target ~7x slower.

SYN_MODEL = """
w : 1 (constant)
I_syn_post = w*G_pre*(E_syn_pre - V_post) : volt (summed)
"""


def _versions():
    import brian2
    import numpy
    out = dict(version=brian2.__version__, numpy_version=numpy.__version__,
               python_version=sys.version.split()[0])
    try:
        import Cython
        out["cython_version"] = Cython.__version__
    except ImportError:
        pass
    try:
        line = subprocess.run(["g++", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
        out["cxx_version"] = line
    except (OSError, IndexError):
        pass
    return out


def _build_network(spec):
    """Create the Brian2 objects for ``spec``; return (Network, SpikeMonitor)."""
    import brian2 as b2
    from brian2 import mV, ms

    n = len(spec["kind"])
    p = hs.per_neuron_params(spec["kind"])
    namespace = dict(
        G_Na=hs.G_NA, G_K=hs.G_K, G_L=hs.G_L,
        E_Na=hs.E_NA * mV, E_K=hs.E_K * mV, E_L=hs.E_L * mV,
        phi=hs.PHI, tau1=hs.TAU1 * ms, syn_slope=hs.SYN_SLOPE,
    )
    grp = b2.NeuronGroup(n, EQS, threshold="V > 0*mV", refractory="V > 0*mV",
                         method="exponential_euler", namespace=namespace,
                         name="hh")
    grp.V = hs.V0 * mV
    grp.n = hs.N0
    grp.m = hs.M0
    grp.h = hs.H0
    grp.G = 0
    grp.z = 0 / ms
    grp.I_syn = 0 * mV
    grp.I_ext = (spec["I_bg"] + spec["I_in"]) * mV
    for nm in ("sh_an", "sh_bn", "sh_am", "sh_bm", "sh_ah", "sh_bh", "G_syn"):
        setattr(grp, nm, p[nm])
    grp.E_syn = p["E_syn"] * mV
    grp.V_shift = p["V_shift"] * mV
    grp.V_range = p["V_range"] * mV
    grp.tau2 = p["tau2"] * ms

    objs = [grp]
    if len(spec["pre"]):
        syn = b2.Synapses(grp, grp, model=SYN_MODEL, name="syn")
        syn.connect(i=spec["pre"], j=spec["post"])
        syn.w = spec["w"]
        objs.append(syn)
    mon = b2.SpikeMonitor(grp, record=False, name="spikes")
    objs.append(mon)
    return b2.Network(*objs), mon


def _result(spec, target, wall, build, counts, extra=None):
    res = dict(tool=f"brian2 {target}", target=target, method="exponential_euler",
               wall_seconds=wall, build_seconds=build,
               spike_counts=[int(c) for c in counts],
               n_neurons=int(len(spec["kind"])),
               n_synapses=int(len(spec["pre"])),
               duration=spec["duration"], dt=spec["dt"])
    res.update(_versions())
    if extra:
        res.update(extra)
    return res


def _run_runtime(spec, target):
    import brian2 as b2
    from brian2 import ms

    b2.prefs.codegen.target = target
    tmp = None
    if target == "cython":
        # cold build: empty private cache directory
        tmp = tempfile.mkdtemp(prefix="b2cython_")
        b2.prefs.codegen.runtime.cython.cache_dir = tmp
    try:
        b2.start_scope()
        b2.defaultclock.dt = spec["dt"] * ms
        net, mon = _build_network(spec)
        t0 = time.perf_counter()
        net.run(0 * ms, namespace={})
        t1 = time.perf_counter()
        net.run(spec["duration"] * ms, namespace={})
        t2 = time.perf_counter()
        counts = np.asarray(mon.count[:])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return _result(spec, target, t2 - t1, t1 - t0, counts)


def _run_standalone(spec, keep_dir=False):
    import brian2 as b2
    from brian2 import ms

    b2.set_device("cpp_standalone", build_on_run=False)
    dev = b2.get_device()
    tmp = tempfile.mkdtemp(prefix="b2standalone_")
    try:
        b2.start_scope()
        b2.defaultclock.dt = spec["dt"] * ms
        net, mon = _build_network(spec)
        net.run(spec["duration"] * ms, namespace={})
        t0 = time.perf_counter()
        dev.build(directory=tmp, compile=True, run=False, with_output=False)
        t1 = time.perf_counter()
        dev.run(directory=tmp, with_output=False)
        t2 = time.perf_counter()
        counts = np.asarray(mon.count[:])
        extra = dict(sim_loop_seconds=getattr(dev, "_last_run_time", None),
                     openmp_threads=int(b2.prefs.devices.cpp_standalone.openmp_threads))
        if keep_dir:
            extra["build_directory"] = tmp
        return _result(spec, "cpp_standalone", t2 - t1, t1 - t0, counts, extra)
    finally:
        if not keep_dir:
            shutil.rmtree(tmp, ignore_errors=True)
        # leave Brian2 usable for another run() in this process
        from brian2.devices.device import reset_device
        dev.reinit()
        reset_device("runtime")


def run(spec_path, target="cpp_standalone", keep_dir=False):
    """Simulate the spec with Brian2 on ``target``; return the result dict."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    spec = hs.load_spec(spec_path)
    if target == "cpp_standalone":
        return _run_standalone(spec, keep_dir=keep_dir)
    return _run_runtime(spec, target)


def main(argv=None):
    ap = argparse.ArgumentParser(description="HH network with Brian2")
    ap.add_argument("spec")
    ap.add_argument("--target", choices=TARGETS, default="cpp_standalone")
    ap.add_argument("--json", dest="json_out", default=None,
                    help="also write the result to this file")
    ap.add_argument("--keep-dir", action="store_true",
                    help="cpp_standalone: keep the temporary build directory")
    a = ap.parse_args(argv)
    res = run(a.spec, target=a.target, keep_dir=a.keep_dir)
    line = json.dumps(res)
    print(line)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
