"""Random Hodgkin-Huxley network specs (.npz) for the peer benchmarks.

The .npz layout is the one written by circuitdsl's own benchmark code:

    kind      int64   (N,)  0 = excitatory, 1 = inhibitory
    I_bg      float64 (N,)  constant current (uA/cm^2)
    I_in      float64 (N,)  another constant current (uA/cm^2)
    pre, post int64   (M,)  synapse source / target neuron indices
    w         float64 (M,)  synaptic weights
    duration  float64 ()    simulated time (ms)
    dt        float64 ()    time step / sampling step (ms)

This module also holds the model constants shared by the peer scripts, so
that the scipy and Brian2 versions are written from one place.

Usage:  python bench/peers/hh_network_spec.py OUT.npz [--n-exc 30]
        [--n-inh 18] [--p 0.1] [--seed 0] [--duration 1000] [--dt 0.01]
"""

from __future__ import annotations

import argparse

import numpy as np

# --- model constants (ms, mV) -------------------------------------------
G_NA, G_K, G_L = 52.0, 20.0, 0.1
E_NA, E_K, E_L = 55.0, -90.0, -60.0
PHI = 5.0
V0, N0, M0, H0 = -65.0, 0.32, 0.05, 0.59
TAU1 = 0.1
SYN_SLOPE = 4.394

# Per kind (index 0 = excitatory, 1 = inhibitory): shifts used in the rate
# functions, as (alpha_n, beta_n, alpha_m, beta_m, alpha_h, beta_h).
RATE_SHIFTS = {
    0: (34.0, 44.0, 30.0, 55.0, 44.0, 14.0),
    1: (38.0, 48.0, 33.0, 58.0, 51.0, 21.0),
}
# Synapse parameters of the *source* neuron, per kind:
# (E_syn, G_syn, V_shift, V_range, tau2)
SYN_PARAMS = {
    0: (0.0, 3.0, 10.0, 35.0, 5.0),
    1: (-70.0, 11.5, 0.0, 35.0, 70.0),
}

SPEC_KEYS = ("kind", "I_bg", "I_in", "pre", "post", "w", "duration", "dt")


def make_spec(path, n_exc=30, n_inh=18, p=0.1, seed=0, duration=1000.0, dt=0.01):
    """Write a random network spec to ``path`` and return the dict written.

    Neurons 0..n_exc-1 are excitatory, n_exc..n_exc+n_inh-1 inhibitory.
    I_bg ~ U[0, 1.5] for excitatory neurons, 0 for inhibitory; I_in = 0.
    Synapses (weight 1): each exc->inh and inh->exc pair with probability
    0.3, each exc->exc pair (no self-connections) with probability ``p``;
    no inh->inh synapses.
    """
    rng = np.random.default_rng(seed)
    n = n_exc + n_inh
    kind = np.concatenate([np.zeros(n_exc, np.int64), np.ones(n_inh, np.int64)])
    i_bg = np.concatenate([rng.uniform(0.0, 1.5, n_exc), np.zeros(n_inh)])
    i_in = np.zeros(n)

    exc = np.arange(n_exc)
    inh = np.arange(n_exc, n)
    pre_l, post_l = [], []

    def connect(src, dst, prob, no_self=False):
        mask = rng.random((len(src), len(dst))) < prob
        if no_self:
            mask &= src[:, None] != dst[None, :]
        s, d = np.nonzero(mask)
        pre_l.append(src[s])
        post_l.append(dst[d])

    connect(exc, inh, 0.3)
    connect(inh, exc, 0.3)
    connect(exc, exc, p, no_self=True)

    pre = np.concatenate(pre_l).astype(np.int64)
    post = np.concatenate(post_l).astype(np.int64)
    spec = dict(
        kind=kind,
        I_bg=i_bg.astype(np.float64),
        I_in=i_in,
        pre=pre,
        post=post,
        w=np.ones(len(pre), np.float64),
        duration=np.float64(duration),
        dt=np.float64(dt),
    )
    np.savez(path, **spec)
    return spec


def make_single_neuron_spec(path, i_bg=0.4, kind=0, duration=1000.0, dt=0.01):
    """One isolated neuron, no synapses (sanity check: ~12 spikes at 0.4)."""
    spec = dict(
        kind=np.array([kind], np.int64),
        I_bg=np.array([i_bg], np.float64),
        I_in=np.zeros(1),
        pre=np.zeros(0, np.int64),
        post=np.zeros(0, np.int64),
        w=np.zeros(0, np.float64),
        duration=np.float64(duration),
        dt=np.float64(dt),
    )
    np.savez(path, **spec)
    return spec


def load_spec(path):
    """Load a spec as a plain dict of numpy arrays / Python floats.

    A missing ``I_in`` (older specs) is read as zeros.
    """
    with np.load(path) as f:
        d = {k: f[k] for k in f.files}
    n = len(d["kind"])
    d["kind"] = np.asarray(d["kind"], np.int64)
    d["I_bg"] = np.asarray(d["I_bg"], np.float64)
    d["I_in"] = np.asarray(d.get("I_in", np.zeros(n)), np.float64)
    d["pre"] = np.asarray(d["pre"], np.int64)
    d["post"] = np.asarray(d["post"], np.int64)
    d["w"] = np.asarray(d["w"], np.float64)
    d["duration"] = float(d["duration"])
    d["dt"] = float(d["dt"])
    if not (len(d["I_bg"]) == len(d["I_in"]) == n):
        raise ValueError("kind, I_bg and I_in must have the same length")
    if not (len(d["pre"]) == len(d["post"]) == len(d["w"])):
        raise ValueError("pre, post and w must have the same length")
    if len(d["pre"]) and (d["pre"].min() < 0 or d["pre"].max() >= n
                          or d["post"].min() < 0 or d["post"].max() >= n):
        raise ValueError("synapse index out of range")
    if not set(np.unique(d["kind"])) <= {0, 1}:
        raise ValueError("kind must be 0 (exc) or 1 (inh)")
    return d


def per_neuron_params(kind):
    """Arrays of per-neuron rate shifts and source-synapse parameters."""
    kind = np.asarray(kind, np.int64)
    shifts = np.array([RATE_SHIFTS[int(k)] for k in kind]).reshape(len(kind), 6)
    syn = np.array([SYN_PARAMS[int(k)] for k in kind]).reshape(len(kind), 5)
    names = ("sh_an", "sh_bn", "sh_am", "sh_bm", "sh_ah", "sh_bh")
    out = {nm: shifts[:, i].copy() for i, nm in enumerate(names)}
    for i, nm in enumerate(("E_syn", "G_syn", "V_shift", "V_range", "tau2")):
        out[nm] = syn[:, i].copy()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--n-exc", type=int, default=30)
    ap.add_argument("--n-inh", type=int, default=18)
    ap.add_argument("--p", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duration", type=float, default=1000.0)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--single", type=float, default=None, metavar="I_BG",
                    help="write one isolated excitatory neuron with this I_bg")
    a = ap.parse_args(argv)
    if a.single is not None:
        spec = make_single_neuron_spec(a.path, i_bg=a.single,
                                       duration=a.duration, dt=a.dt)
    else:
        spec = make_spec(a.path, a.n_exc, a.n_inh, a.p, a.seed, a.duration, a.dt)
    print(f"wrote {a.path}: N={len(spec['kind'])} M={len(spec['pre'])} "
          f"duration={a.duration} dt={a.dt}")


if __name__ == "__main__":
    main()
