"""Models: neurons, synapses and learning rules written as equations.

A `Model` is a population's dynamics (states, parameters, inputs summed over incoming edges,
derived quantities, a spike condition, timed events). A `Synapse` says what an edge adds to its
target. A `LearningRule` says how an edge's weight changes, every step and/or at a trial's end.
All three are checked when they are defined, so a typo fails at the line that has it.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from circuitdsl.compiler.integrators import INTEGRATORS
from circuitdsl.equations import (EquationError, Line, Namespace, parse_expression,
                                  parse_statements, split_lines)
from circuitdsl.errors import ValidationError


def _sym(name):
    return sp.Symbol(name, real=True)


@dataclass(frozen=True)
class Event:
    """Statements run inside the kernel at time `at` (ms) and then every `every` ms.

    `at` and `every` are numbers or parameter names (read per unit, so changing them never
    recompiles). Events due in the same step run in increasing `order`.
    """
    do: str
    at: float | str = 0.0
    every: float | str | None = None
    order: int = 0


@dataclass(frozen=True)
class Spike:
    """A spike when `condition` becomes true; `reset` statements run then; no new spike and no
    integration of the reset states for `refractory` ms."""
    condition: str
    reset: str = ""
    refractory: float | str = 0.0


@dataclass
class Statement:
    target: str
    op: str
    expr: sp.Expr
    line: Line


def _check_unique(owner, names_by_kind):
    seen = {}
    for kind, names in names_by_kind:
        for name in names:
            if name in seen:
                raise EquationError(owner, 0, name, 0, len(name),
                                    f"'{name}' is defined twice (as {seen[name]} and as {kind})")
            seen[name] = kind


def _positions(owner, kind_label, items):
    """Map name -> value, rejecting names that are not identifiers."""
    out = {}
    for name, value in dict(items or {}).items():
        if not str(name).isidentifier():
            raise EquationError(owner, 0, str(name), 0, len(str(name)),
                                f"{kind_label} name '{name}' is not a valid identifier")
        out[str(name)] = value
    return out


class _Scoped:
    """Shared parsing of helper functions and derived quantities over a namespace."""

    def _parse_definitions(self, lines, ns, allow_derived=True):
        derived = {}
        for line in lines:
            if line.kind == "function":
                if line.target in ns.symbols or line.target in ns.functions:
                    raise EquationError(self.name, line.line_no, line.text, 0, len(line.target),
                                        f"'{line.target}' is defined twice")
                args = [_sym("_arg_" + a) for a in line.args]
                local = ns.copy()
                local.symbols.update({a: s for a, s in zip(line.args, args)})
                body = parse_expression(self.name, line, local)
                ns.functions[line.target] = (sp.Lambda(tuple(args), body) if args
                                             else sp.Lambda((), body), len(args))
            elif line.kind == "assign" and allow_derived:
                if line.target in ns.symbols:
                    raise EquationError(self.name, line.line_no, line.text,
                                        len(line.text) - len(line.text.lstrip()), len(line.target),
                                        f"'{line.target}' is defined twice")
                derived[line.target] = parse_expression(self.name, line, ns)
                ns.symbols[line.target] = _sym(line.target)
        return derived

    def expand(self, expr):
        """Substitute derived quantities until only states, parameters and inputs remain."""
        for _ in range(len(self.derived) + 1):
            new = expr.xreplace(self._derived_subs)
            if new == expr:
                return expr
            expr = new
        return expr


class Model(_Scoped):
    """Dynamics of one kind of unit. See the module docstring and docs/concepts.md."""

    def __init__(self, name, equations="", states=None, params=None, inputs=(), spike=None,
                 events=(), on_step="", doc="", feedback_inputs=(), update="", carried=(),
                 integrator=None):
        self.name = name
        self.doc = doc
        # The integrator this model asks for (a name in compiler/integrators.py); None takes
        # Simulator(method=...). A Population's own integrator= wins over both.
        if integrator is not None:
            INTEGRATORS.get(integrator, f"model '{name}'")   # unknown: ValidationError
        self.integrator = integrator
        self.states = _positions(name, "state", states)
        # Carried states keep their value across Simulator.reset() and between the trials of
        # run_trials (a running average that lives across trials, as in Miconi 2017); every
        # other state goes back to its initial value.
        self.carried = (carried,) if isinstance(carried, str) else tuple(carried)
        for c in self.carried:
            if c not in self.states:
                raise EquationError(name, 0, str(c), 0, len(str(c)),
                                    f"carried state '{c}' is not a state; states are: "
                                    f"{', '.join(self.states) or 'none'}")
        self.params = _positions(name, "parameter", params)
        # Feedback inputs (errors sent back, see Synapse(feedback=True)) are read by learning
        # rules only, so no equation of the model itself uses them.
        self.feedback_inputs = tuple(feedback_inputs)
        self.inputs = tuple(inputs) + self.feedback_inputs
        _check_unique(name, [("a state", self.states), ("a parameter", self.params),
                             ("an input", self.inputs)])
        ns = Namespace()
        for n in list(self.states) + list(self.params) + list(self.inputs) + ["t", "dt"]:
            ns.symbols[n] = _sym(n)
        lines = split_lines(name, equations)
        self.derived = self._parse_definitions(lines, ns)
        self._derived_subs = {ns.symbols[k]: v for k, v in self.derived.items()}
        self.ode = {}
        for line in lines:
            if line.kind != "ode":
                continue
            if line.target not in self.states:
                what = ("a parameter" if line.target in self.params else "an input"
                        if line.target in self.inputs else "not declared")
                raise EquationError(name, line.line_no, line.text, line.text.index(line.target),
                                    len(line.target), f"derivative of '{line.target}', which is "
                                    f"{what}; states are: {', '.join(self.states) or 'none'}")
            if line.target in self.ode:
                raise EquationError(name, line.line_no, line.text, line.text.index(line.target),
                                    len(line.target), f"'d{line.target}/dt' is defined twice")
            self.ode[line.target] = parse_expression(name, line, ns)
        self.namespace = ns
        assignable = set(self.states) | set(self.params)
        self.on_step = self._statements(on_step, assignable, "on_step")
        for st in self.on_step:
            read = {s.name for s in self.expand(st.expr).free_symbols} & set(self.inputs)
            if read:
                name_ = sorted(read)[0]
                raise EquationError(f"{name} on_step", st.line.line_no, st.line.text,
                                    st.line.text.find(name_), len(name_),
                                    f"on_step runs before inputs are summed, so it cannot "
                                    f"read input '{name_}'")
        # `update` runs after the inputs are summed and the ODEs integrated, before spikes: a
        # discrete-time map x <- f(x, inputs) (e.g. LTTB's compartments), so it may read inputs.
        self.update = self._statements(update, assignable, "update")
        self.spike = spike
        self.spike_reset = []     # statements run at a spike (none without a spike)
        if spike is not None:
            cond_line = split_lines(name, f"_spike = {spike.condition}")[0]
            self.spike_condition = parse_expression(f"{name} spike condition", cond_line, ns)
            self.spike_reset = self._statements(spike.reset, assignable, "spike reset")
        self.events = tuple(events)
        self.event_statements = [self._statements(ev.do, assignable, f"event at {ev.at}")
                                 for ev in self.events]
        for ev in self.events:
            for value, label in ((ev.at, "at"), (ev.every, "every")):
                if isinstance(value, str) and value not in self.params:
                    raise EquationError(name, 0, value, 0, len(value),
                                        f"event '{label}' names '{value}', which is not a parameter")
        self._check_inputs_used()

    def _statements(self, text, assignable, label):
        return [Statement(line.target, line.op, expr, line) for line, expr in
                parse_statements(f"{self.name} {label}", text, self.namespace, assignable)]

    def _check_inputs_used(self):
        used = set()
        exprs = list(self.ode.values()) + list(self.derived.values())
        exprs += [s.expr for group in self.event_statements for s in group] + [s.expr for s in self.on_step]
        exprs += [s.expr for s in self.update]
        for e in exprs:
            used |= {s.name for s in self.expand(e).free_symbols}
        for inp in self.feedback_inputs:
            if inp in used:
                raise EquationError(self.name, 0, inp, 0, len(inp),
                                    f"'{inp}' is a feedback input, summed after the dynamics "
                                    "for learning rules only; the model's equations cannot "
                                    "read it")
        for inp in self.inputs:
            if inp not in used and inp not in self.feedback_inputs:
                raise EquationError(self.name, 0, inp, 0, len(inp),
                                    f"input '{inp}' is declared but no equation uses it, "
                                    "so nothing an edge feeds into it would matter")

    @property
    def variables(self):
        """Everything a synapse or rule may read as pre.X / post.X."""
        return list(self.states) + list(self.params) + list(self.derived)

    def symbol(self, name):
        return self.namespace.symbols[name]

    def __repr__(self):
        return f"Model({self.name!r}, states={list(self.states)}, params={len(self.params)})"


def _prefixed_namespace(pre_vars, post_vars, extra):
    ns = Namespace()
    for n in extra:
        ns.symbols[n] = _sym(n)
    ns.prefixes = {"pre": {v: _sym("pre__" + v) for v in pre_vars},
                   "post": {v: _sym("post__" + v) for v in post_vars}}
    return ns


class _AnyVariable(dict):
    """pre./post. before the models are known: any variable name is accepted."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = prefix

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return _sym(self.prefix + key)


class _Targets:
    """Assignable names at definition time: own names, and any pre.X / post.X."""

    def __init__(self, own):
        self.own = set(own)

    def __contains__(self, target):
        return target in self.own or target.startswith(("pre.", "post."))

    def __iter__(self):
        return iter(sorted(self.own | {"post.X"}))


class _EdgeProgram(_Scoped):
    """Statements over a synapse (pre./post., w, own parameters), checked against two models."""

    def _check_text(self, blocks):
        """Parse every statement now (names, syntax, arity); pre./post. are checked at bind."""
        own = ["w", "t", "dt"] + list(self.params) + list(getattr(self, "traces", {})) \
            + list(getattr(self, "signals", ()))
        ns = Namespace({n: _sym(n) for n in own}, {},
                       {"pre": _AnyVariable("pre__"), "post": _AnyVariable("post__")})
        self._parse_definitions(split_lines(self.name, self.definitions), ns)
        for text, label, targets in blocks:
            parse_statements(f"{self.name} {label}", text, ns, _Targets(targets))

    def bind(self, pre_model, post_model, post_inputs=()):
        """Parse against concrete pre and post models; returns a BoundProgram."""
        extra = ["w", "t", "dt"] + list(self.params) + list(getattr(self, "traces", {})) \
            + list(getattr(self, "signals", ()))
        ns = _prefixed_namespace(pre_model.variables, post_model.variables, extra)
        ns.prefixes["post"].update({i: _sym("post__" + i) for i in post_inputs})
        return BoundProgram(self, pre_model, post_model, ns)


class BoundProgram:
    """An edge program parsed for one (pre model, post model) pair."""

    def __init__(self, program, pre_model, post_model, ns):
        self.program, self.pre_model, self.post_model, self.ns = program, pre_model, post_model, ns
        owner = program.name
        self.derived = program._parse_definitions(split_lines(owner, program.definitions), ns)
        self._derived_subs = {ns.symbols[k]: v for k, v in self.derived.items()}

    def statements(self, text, assignable, label):
        out = []
        for line, expr in parse_statements(f"{self.program.name} {label}", text, self.ns,
                                           assignable):
            for _ in range(len(self.derived) + 1):
                expr = expr.xreplace(self._derived_subs)
            out.append(Statement(line.target, line.op, expr, line))
        return out


class Synapse(_EdgeProgram):
    """What an edge does to its target.

    `current`: one line `INPUT += expr`, summed every step into the target's input INPUT.
    `on_pre`: statements run when the presynaptic unit spikes (e.g. `post.g += w`).
    `events`: timed Events whose statements may assign `post.X` (parameters or states).
    `params`: per-synapse parameters with defaults (set per edge by connect(**kwargs)).
    `feedback=True` marks a current that carries a learning signal back against the forward
    direction (an error through a readout's weights): it is summed after the step's dynamics,
    just before the per-step learning rules, so it sees this step's values without creating a
    cycle. Only learning rules may read its input; the dynamics never see it.
    """

    def __init__(self, name, current="", on_pre="", events=(), params=None, definitions="",
                 feedback=False):
        self.name = name
        self.feedback = bool(feedback)
        if self.feedback and (on_pre or events or not current):
            raise EquationError(name, 1, (current or on_pre).strip() or "feedback", 0, 1,
                                "a feedback synapse has exactly one current and no on_pre or "
                                "events")
        self.current = current
        self.on_pre = on_pre
        self.events = tuple(events)
        self.params = dict(params or {})
        self.definitions = definitions
        self.target_input = None
        if current:
            lines = split_lines(name, current, allow_statements=True)
            if len(lines) != 1 or lines[0].op != "+=" or "." in lines[0].target:
                raise EquationError(name, 1, current.strip(), 0, len(current.strip()),
                                    "a synapse current is one line of the form 'INPUT += expression'")
            self.target_input = lines[0].target
        # The current's target is an input of the post model, known only at bind time; here it
        # may be any name (checked against the model when the edge is bound).
        self._check_text([(current, "current", (self.target_input,) if current else ()),
                          (on_pre, "on_pre", ("w",))] +
                         [(ev.do, f"event at {ev.at}", ()) for ev in self.events])

    def __repr__(self):
        return f"Synapse({self.name!r})"


class LearningRule(_EdgeProgram):
    """How an edge's weight changes.

    `on_step` statements run every step inside the kernel (traces, online updates);
    `on_trial_end` statements run once after each trial. Both assign `w` or the rule's own
    `traces`. `signals` are trial-level values the Agent provides (feedback, reward, error,
    dopamine, ...); `params` are the rule's constants. `modulator` is the block (in the same
    circuit) that gives this rule its signals other than feedback (circuitdsl/roles.py,
    Modulator), or None.
    """

    def __init__(self, name, on_trial_end="", on_step="", params=None, traces=None, signals=(),
                 definitions="", modulator=None):
        self.name = name
        self.modulator = modulator
        self.on_trial_end = on_trial_end
        self.on_step = on_step
        self.params = dict(params or {})
        self.traces = dict(traces or {})
        self.signals = tuple(signals)
        self.definitions = definitions
        own = ["w"] + list(self.traces)
        self._check_text([(on_step, "on_step", own), (on_trial_end, "on_trial_end", own)])

    def with_params(self, **values):
        unknown = set(values) - set(self.params)
        if unknown:
            raise ValidationError(f"learning rule '{self.name}' has no parameter "
                                  f"{', '.join(sorted(unknown))}; it has: "
                                  f"{', '.join(self.params)}")
        rule = LearningRule(self.name, self.on_trial_end, self.on_step, {**self.params, **values},
                            self.traces, self.signals, self.definitions, self.modulator)
        return rule

    def __repr__(self):
        return f"LearningRule({self.name!r}, {self.params})"
