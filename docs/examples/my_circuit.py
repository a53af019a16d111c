"""my-circuit: a driven LIF population A excites B through weights that grow after each trial.

The example of docs/writing-a-circuit.md: run it with

    circuitdsl run docs/examples/my_circuit.py --trials 6 --record A.spikes,B.spikes,B.V

A fires regularly (a constant drive); B has no drive of its own and fires only once the
A -> B weights, which the `growth` rule raises after every trial, are strong enough.
"""
from circuitdsl.blocks import LIFNeurons
from circuitdsl.circuit import Circuit, resolve_params
from circuitdsl.model import LearningRule

DESCRIPTION = "LIF A -> B with a weight that grows after each trial (the docs' example)"

# Every parameter `--set` may name, with its default. A dotted name is only a convention
# (BLOCK.param, SRC->DST.param, rule.param): build() decides what each one means.
PARAMS = {"N": 5, "A.drive": 25.0, "A->B.weight": 2.0, "growth.eta": 1.0,
          "growth.w_max": 30.0, "duration": 200.0}

# What `circuitdsl show docs/examples/my_circuit.py --params` prints for each parameter.
PARAM_HELP = {
    "N": "neurons in A and in B",
    "A.drive": "constant input current of A (its firing rate)",
    "A->B.weight": "initial A -> B weight (mV jump of B's V per A spike)",
    "growth.eta": "weight added to every A -> B synapse after each trial (times reward)",
    "growth.w_max": "largest A -> B weight",
    "duration": "ms per trial (--duration overrides it)",
}

# A trial-end rule: runs once after each trial. `reward` is a trial-level signal: a plain
# run takes it from circuit.meta["signals"] (a runner of your own would compute it).
GROWTH = LearningRule("growth", on_trial_end="w = min(w + eta*reward, w_max)",
                      params=dict(eta=1.0, w_max=30.0), signals=("reward",))


def build(**params):
    p = resolve_params("my-circuit", PARAMS, params)   # unknown names are refused
    c = Circuit("my-circuit")
    c.add(LIFNeurons("A", int(p["N"]), I_ext=p["A.drive"]),
          LIFNeurons("B", int(p["N"])))
    c.connect("A", "B", weight=p["A->B.weight"],
              learning_rule=GROWTH.with_params(eta=p["growth.eta"], w_max=p["growth.w_max"]))
    c.meta.update(params=p, dt=0.1, duration=p["duration"], signals={"reward": 1.0})
    return c
