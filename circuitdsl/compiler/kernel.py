"""Assembles the generated module: input functions, the trial kernel, trial-end rules, the
many-trials driver and the trace reset. The run order of a step is compiler/schedule.py; how
each projection's current and rule are emitted is compiler/strategies.py."""
from __future__ import annotations

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler import edge_code, group_code, schedule, strategies
from circuitdsl.compiler import interface as kif
from circuitdsl.compiler.interface import Status
from circuitdsl.compiler.layout import key


def generate(lowered, choices=None, math="libm"):
    """The complete module source for a lowered circuit; `math` picks the library of
    elementary functions (statements.MATH)."""
    choices = strategies.plan(lowered) if choices is None else choices
    layout = lowered.layout
    parts = [cg.header(math)]
    for g in lowered.groups:
        parts.append(group_code.inputs_fn(lowered, g, choices).source())
        if group_code.has_feedback(lowered, g):
            parts.append(group_code.feedback_fn(lowered, g, choices).source())
    fn = cg.Fn(kif.signature("trial", kif.TRIAL), layout)
    ctx = schedule.Context(fn, lowered, choices)
    schedule.emit_setup(ctx)
    schedule.emit_steps(ctx)
    schedule.emit_teardown(ctx)
    parts.append(fn.source())
    for p in lowered.projections:
        if p.rule_end:
            lf = cg.Fn(kif.signature(f"learn_{p.name}", kif.LEARN), layout)
            edge_code.rule_loop(lf, lowered, p, p.rule_end, signals=tuple(p.rule.signals))
            parts.append(lf.source())
    parts.append(_trials_fn(lowered))
    parts.append(_reset_traces_fn(lowered))
    return "\n\n".join(parts)


def _reset_traces_fn(lowered):
    reset = cg.Fn(kif.signature("reset_traces", kif.RESET_TRACES), lowered.layout)
    for p in lowered.projections:
        if p.rule is not None and p.rule.traces:
            for name, init in p.rule.traces.items():
                reset.emit(1, f"for q in range({reset.off(key.synapses(p))}):")
                reset.emit(2, f"F[{reset.off(key.field(p, name))} + q] = {float(init)!r}")
    return reset.source()


def _trials_fn(lowered):
    """Many short trials in one call: per trial, reset the state, set the case's parameters,
    run the trial kernel with the case's inputs, collect end states and (if flagged) apply the
    trial-end rules. Saves the per-call cost that dominates trials of a few steps."""
    fn = cg.Fn(kif.signature("trials", kif.TRIALS), lowered.layout)
    fn.emit(1, "RECS = np.zeros(0, dtype=np.int64)")
    fn.emit(1, "REC = np.zeros((0, 0))")
    fn.emit(1, "for n in range(CASE.shape[0]):")
    fn.emit(2, "c = CASE[n]")
    fn.emit(2, "for m in range(PIDX.shape[0]):")
    fn.emit(3, "P[PIDX[m]] = PVAL[c, m]")
    # States a model declares carried keep their value from trial to trial (as reset() does).
    carried = [(key.state(g, x), key.size(g)) for g in lowered.groups for x in g.model.carried]
    for c, (start, size) in enumerate(carried):
        fn.emit(2, f"_keep{c} = S[{fn.off(start)}:{start} + {fn.off(size)}].copy()")
    fn.emit(2, "S[:] = S0")
    for c, (start, size) in enumerate(carried):
        fn.emit(2, f"S[{start}:{start} + {size}] = _keep{c}")
    fn.emit(2, "SPK[:] = SPK0")
    fn.emit(2, "DB[:] = 0.0")
    fn.emit(2, kif.call("reset_traces", kif.RESET_TRACES))
    fn.emit(2, f"STATUS[{Status.SPIKES}] = 0")
    fn.emit(2, kif.call("trial", kif.TRIAL, k0=0, EXT="EXTV[c]", ext_every=1, RECP="RECS", RECI="RECS",
                        rec_every=1))
    fn.emit(2, f"if STATUS[{Status.NONFINITE}] != 0:")
    fn.emit(3, f"STATUS[{Status.TRIAL}] = n")
    fn.emit(3, "return")
    fn.emit(2, "for m in range(COLIDX.shape[0]):")
    fn.emit(3, "OUT[n, m] = S[COLIDX[m]]")
    learners = [p for p in lowered.projections if p.rule_end]
    if learners:
        fn.emit(2, "if LEARN[n]:")
        for p in learners:
            fn.emit(3, kif.call(f"learn_{p.name}", kif.LEARN, t="n_steps * dt"))
    return fn.source()
