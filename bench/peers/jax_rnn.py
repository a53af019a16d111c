"""Peer: the working-memory RNN trained in plain JAX (no BrainPy), for bench/bptt_train.py.

Same model and optimiser as circuitdsl's `working-memory-rnn`: h_t = relu(x_t W_ir + h_{t-1}
W_rr + b_rr), o_t = h_t W_ro + b_ro, 64 units, h = 0 at each window start, mean softmax
cross-entropy over all (time, batch) points, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8),
Kaiming-normal (truncated) weights, U(+-1/8) biases; one jitted update per batch (lax.scan
over time, jax.grad for the backward pass). Written for this benchmark from the model's
description.

Data, --data:
  neurogym  neurogym's DelayComparison-v0 through ngym.Dataset(batch_size=16, seq_len=100),
            the tutorial's delays; generated inside the timed loop, as the tutorial does
  FILE.npz  windows saved by bench/bptt_train.py (x: (steps, 100, 16, 2), y: (steps, 100, 16));
            times the training loop alone

Prints one JSON line: seconds (loop, data included), data_seconds, compile_seconds, final
mean loss and accuracy over the last 100 steps, versions.

    /tmp/jaxvenv/bin/python bench/peers/jax_rnn.py --data neurogym --steps 2000
"""
import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np


def init_params(key, n_in=2, n_hid=64, n_out=3):
    k = jax.random.split(key, 5)

    def kaiming(key, fan_in, shape):
        std = np.sqrt(1.0 / fan_in) / 0.87962566103423978
        return std * jax.random.truncated_normal(key, -2.0, 2.0, shape)
    b = 1.0 / np.sqrt(n_hid)
    return dict(W_ir=kaiming(k[0], n_in, (n_in, n_hid)),
                W_rr=kaiming(k[1], n_hid, (n_hid, n_hid)),
                b_rr=jax.random.uniform(k[2], (n_hid,), minval=-b, maxval=b),
                W_ro=kaiming(k[3], n_hid, (n_hid, n_out)),
                b_ro=jax.random.uniform(k[4], (n_out,), minval=-b, maxval=b))


def loss_fn(params, x, y):
    def step(h, x_t):
        h = jax.nn.relu(x_t @ params["W_ir"] + h @ params["W_rr"] + params["b_rr"])
        return h, h @ params["W_ro"] + params["b_ro"]
    h0 = jnp.zeros((x.shape[1], params["W_rr"].shape[0]), x.dtype)
    _, out = jax.lax.scan(step, h0, x)
    logp = jax.nn.log_softmax(out, axis=-1)
    loss = -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1))
    scored = y > 0
    correct = jnp.sum((jnp.argmax(out, axis=-1) == y) & scored)
    return loss, correct / jnp.maximum(jnp.sum(scored), 1)


@jax.jit
def update(params, m, v, t, x, y):
    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 1e-3
    t = t + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    def apply(p, m, v):
        return p - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + eps)
    params = jax.tree_util.tree_map(apply, params, m, v)
    return params, m, v, t, loss, acc


def neurogym_batches():
    import neurogym as ngym
    timing = {"delay": ("choice", [200, 400, 800, 1600, 3200]), "response": ("constant", 500)}
    ds = ngym.Dataset("DelayComparison-v0", env_kwargs=dict(dt=100, timing=timing),
                      batch_size=16, seq_len=100)
    return lambda k: ds(), f"neurogym {ngym.__version__}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="neurogym")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.data == "neurogym":
        batch, source = neurogym_batches()
    else:
        saved = np.load(args.data)
        xs, ys = saved["x"], saved["y"]
        batch, source = (lambda k: (xs[k % len(xs)], ys[k % len(ys)])), args.data
    params = init_params(jax.random.PRNGKey(args.seed))
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    t = jnp.zeros((), jnp.float32)
    x, y = batch(0)
    t0 = time.perf_counter()
    jax.block_until_ready(update(params, m, v, t, jnp.asarray(x, jnp.float32),
                                 jnp.asarray(y, jnp.int32)))
    compile_s = time.perf_counter() - t0
    losses, accs, data_s = [], [], 0.0
    t0 = time.perf_counter()
    for k in range(args.steps):
        d0 = time.perf_counter()
        x, y = batch(k)
        data_s += time.perf_counter() - d0
        params, m, v, t, loss, acc = update(params, m, v, t, jnp.asarray(x, jnp.float32),
                                            jnp.asarray(y, jnp.int32))
        losses.append(loss)
        accs.append(acc)
    jax.block_until_ready(params)
    seconds = time.perf_counter() - t0
    losses, accs = np.asarray(losses), np.asarray(accs)
    print(json.dumps(dict(tool="jax", version=jax.__version__, data=str(source),
                          steps=args.steps, seconds=round(seconds, 3),
                          data_seconds=round(data_s, 3), compile_seconds=round(compile_s, 3),
                          loss_last_100=round(float(losses[-100:].mean()), 5),
                          accuracy_last_100=round(float(accs[-100:].mean()), 4),
                          python=platform.python_version(), numpy=np.__version__)))


if __name__ == "__main__":
    main()
