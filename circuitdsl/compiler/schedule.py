"""The trial kernel's run order, declared: one step is the phases below, in order.

    events     timed events due at step k (in `order`, sources before targets), on the state
               at t_k; run before the step's body
    on_step    per-group statements at the start of the step (random perturbations; no inputs)
    inputs     every projection's current summed into its target's inputs, + external input
    arrivals   delayed on_pre increments arriving at step k
    integrate  every group from t_k to t_k + dt, inputs held over the step
    update     discrete-time maps after integration (may read inputs)
    spikes     condition, reset, refractoriness
    on_pre     statements of edges whose presynaptic unit spiked
    feedback   feedback currents (learning signals), summed after the dynamics
    rules      per-step learning statements (each by its chosen strategy)
    check      the finiteness check: the run stops at the first NaN or Inf
    record     the monitors

Each phase is a function (ctx) -> None that emits its lines at depth 1 of the step body;
`events` emits at depth 2 before the body (it needs no re-indentation). Adding a phase is one
function and one entry in SCHEDULE.
"""
from __future__ import annotations

from dataclasses import dataclass

from circuitdsl.compiler import edge_code, group_code
from circuitdsl.compiler.interface import Status


@dataclass
class Context:
    fn: object          # the trial function being emitted (statements.Fn)
    lowered: object
    choices: dict       # projection index -> strategies.Choice

    @property
    def separable(self):
        return [p for p in self.lowered.projections
                if self.choices[p.index].rule is not None and
                self.choices[p.index].rule.name == "separable traces"]


def _events(ctx):
    lowered = ctx.lowered
    items = []
    for g in lowered.groups:
        for ev, statements in zip(g.model.events, g.model.event_statements):
            items.append((ev.order, 0, g.index, g, ev, statements, group_code.group_event))
    for p in lowered.projections:
        for ev, statements in p.events:
            items.append((ev.order, 1, p.index, p, ev, statements, edge_code.edge_event))
    for *_, obj, ev, statements, emit in sorted(items, key=lambda it: it[:3]):
        emit(ctx.fn, lowered, obj, ev, statements)


def _on_step(ctx):
    for g in ctx.lowered.groups:
        group_code.on_step(ctx.fn, ctx.lowered, g)


def _inputs(ctx):
    fn = ctx.fn
    for g in ctx.lowered.groups:
        if g.model.inputs:
            fn.emit(1, group_code.inputs_call(g))
    fn.emit(1, "if EXT.shape[0] > 0:")
    fn.emit(2, "_row = min((k - k0) // ext_every, EXT.shape[0] - 1)")
    fn.emit(2, "for c in range(EXTIDX.shape[0]):")
    fn.emit(3, "I[EXTIDX[c]] += EXT[_row, c]")


def _arrivals(ctx):
    for p in ctx.lowered.projections:
        if p.delay and p.on_pre:
            edge_code.delay_arrivals(ctx.fn, ctx.lowered, p)


def _integrate(ctx):
    ctx.fn.emit(1, "_bad = False")
    for g in ctx.lowered.groups:
        group_code.integrate(ctx.fn, ctx.lowered, g)


def _update(ctx):
    for g in ctx.lowered.groups:
        group_code.update(ctx.fn, ctx.lowered, g)


def _spikes(ctx):
    for g in ctx.lowered.groups:
        if g.model.spike is not None:
            group_code.spikes(ctx.fn, ctx.lowered, g)


def _on_pre(ctx):
    for p in ctx.lowered.projections:
        if p.on_pre and p.pre.model.spike is not None:
            edge_code.on_pre(ctx.fn, ctx.lowered, p)


def _feedback(ctx):
    for g in ctx.lowered.groups:
        if group_code.has_feedback(ctx.lowered, g):
            ctx.fn.emit(1, group_code.feedback_call(g))


def _rules(ctx):
    fn = ctx.fn
    for p in ctx.lowered.projections:
        rule = ctx.choices[p.index].rule
        if rule is not None:
            rule.emit(fn, ctx.lowered, p)
    if ctx.separable:     # the separable buffers hold CHUNK steps: flush when full
        fn.emit(1, "_sep_row += 1")
        fn.emit(1, "if _sep_row == _chunk:")
        for p in ctx.separable:
            ctx.choices[p.index].rule.flush(fn, p, 2)
        fn.emit(2, "_sep_row = 0")


def _check(ctx):
    fn = ctx.fn
    fn.emit(1, "if _bad:")
    fn.emit(2, f"STATUS[{Status.NONFINITE}] = 1")
    fn.emit(2, f"STATUS[{Status.STEP}] = k")
    fn.emit(2, "return")


def _record(ctx):
    fn = ctx.fn
    fn.emit(1, "if (k + 1 - k0) % rec_every == 0:")
    fn.emit(2, "_r = (k + 1 - k0) // rec_every - 1")
    fn.emit(2, "if _r < REC.shape[0]:")
    fn.emit(3, "for c in range(RECS.shape[0]):")
    fn.emit(4, "REC[_r, c] = S[RECS[c]]")
    fn.emit(3, "for c in range(RECP.shape[0]):")
    fn.emit(4, "REC[_r, RECS.shape[0] + c] = P[RECP[c]]")
    fn.emit(3, "for c in range(RECI.shape[0]):")
    fn.emit(4, "REC[_r, RECS.shape[0] + RECP.shape[0] + c] = I[RECI[c]]")


PRE_STEP = (("events", _events),)
SCHEDULE = (("on_step", _on_step), ("inputs", _inputs), ("arrivals", _arrivals),
            ("integrate", _integrate), ("update", _update), ("spikes", _spikes),
            ("on_pre", _on_pre), ("feedback", _feedback), ("rules", _rules), ("check", _check),
            ("record", _record))


def emit_setup(ctx):
    """Before the step loop: each rule strategy's buffers and checks."""
    from circuitdsl.compiler import separable
    fn = ctx.fn
    if ctx.separable:
        fn.emit(1, f"_chunk = min({separable.CHUNK}, max(1, n_steps))")
    for p in ctx.lowered.projections:
        rule = ctx.choices[p.index].rule
        if rule is not None:
            rule.setup(fn, ctx.lowered, p)
    if ctx.separable:
        fn.emit(1, "_sep_row = 0")


def emit_steps(ctx):
    """The step loop: the pre-step phases at depth 2, then SCHEDULE's phases, re-indented
    into the loop."""
    fn = ctx.fn
    loop = len(fn.body)
    fn.emit(1, "for k in range(k0, k0 + n_steps):")
    fn.emit(2, "t = k * dt")
    for _, phase in PRE_STEP:
        phase(ctx)
    body_start = len(fn.body)
    for _, phase in SCHEDULE:
        phase(ctx)
    fn.body[body_start:] = ["    " + ln for ln in fn.body[body_start:]]
    # values the phases found constant over the call, computed once before the loop
    fn.body[loop:loop] = fn.prelude


def emit_teardown(ctx):
    """After the loop: traces still in the separable buffers at the end of the chunk."""
    fn = ctx.fn
    if ctx.separable:
        fn.emit(1, "if _sep_row > 0:")
        for p in ctx.separable:
            ctx.choices[p.index].rule.flush(fn, p, 2)
