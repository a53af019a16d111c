"""Binding: each projection's synapse and rule statements, parsed against its two concrete
models, checked, and stored on the projection (ir.Projection's "binding" fields). Runs at the
end of lowering, so every semantic error (an unknown name, a feedback current into a normal
input, a delayed on_pre of the wrong form) is raised before code generation, with the line and
a caret where there is one.
"""
from __future__ import annotations

from circuitdsl.equations import EquationError
from circuitdsl.errors import ValidationError
from circuitdsl.model import Statement


def bind_projections(lowered):
    for p in lowered.projections:
        bind_projection(p)


def bind_projection(p):
    syn = p.synapse
    bound = syn.bind(p.pre.model, p.post.model, p.post.model.inputs)
    post_vars = {f"post.{v}" for v in p.post.model.states} | \
        {f"post.{v}" for v in p.post.model.params}
    p.current = None
    if syn.current:
        # The user writes `I_syn += ...` (their text is kept for messages); the target is the
        # post unit's input of that name.
        (st,) = bound.statements(syn.current, {syn.target_input}, "current")
        p.current = Statement(f"post.{st.target}", st.op, st.expr, st.line)
        _check_feedback(p)
    p.on_pre = bound.statements(syn.on_pre, post_vars | {"w"}, "on_pre")
    p.events = [(ev, bound.statements(ev.do, post_vars, f"event at {ev.at}"))
                for ev in syn.events]
    p.rule_step, p.rule_end = [], []
    if p.rule is not None:
        # Rules may read the post unit's feedback inputs (errors sent back to it).
        rb = p.rule.bind(p.pre.model, p.lpost.model, p.lpost.model.feedback_inputs)
        own = {"w"} | set(p.rule.traces)
        p.rule_step = rb.statements(p.rule.on_step, own, "on_step")
        p.rule_end = rb.statements(p.rule.on_trial_end, own, "on_trial_end")
    if p.delay and p.on_pre:
        ok = all(s.op == "+=" and s.target.startswith("post.") and not any(
            v.name.startswith("post__") for v in s.expr.free_symbols) for s in p.on_pre)
        if not ok:
            raise EquationError(syn.name, 0, syn.on_pre.strip(), 0, 1,
                                "a delayed edge's on_pre must be 'post.X += expression of "
                                "pre and w' (the value is computed at the spike)")


def _check_feedback(p):
    """Feedback currents (summed after the dynamics) go to feedback inputs, and only there."""
    m, syn, target = p.post.model, p.synapse, p.synapse.target_input
    if bool(syn.feedback) == (target in m.feedback_inputs):
        return
    edge = f"edge {p.sets[0].pre.name} -> {p.sets[0].post.name}"
    if syn.feedback:
        raise ValidationError(f"{edge}: synapse '{syn.name}' is a feedback current, but "
                              f"'{target}' is not a feedback input of model '{m.name}' "
                              f"(feedback inputs: {', '.join(m.feedback_inputs) or 'none'})")
    raise ValidationError(f"{edge}: '{target}' is a feedback input of model '{m.name}', read "
                          f"by learning rules only; synapse '{syn.name}' must be made with "
                          "Synapse(..., feedback=True)")
