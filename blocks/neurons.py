"""Single-neuron models and plain populations: Hodgkin-Huxley (Wang-type), LIF, rate units.

Units: ms, mV, uA/cm^2 for currents, mS/cm^2 for conductances. Equations and defaults follow
the Neuroblox cortical neurons (reference §1.1-1.3); they are facts, re-implemented here.
"""
from __future__ import annotations

from circuitdsl.block import Population
from circuitdsl.model import Event, Model, Spike, Synapse

#: Conductance synapse: each presynaptic neuron carries its own gate G (and z), shared by all
#: of its targets; the current uses the presynaptic reversal potential.
CONDUCTANCE = Synapse("conductance", current="I_syn += -w*pre.G*(post.V - pre.E_syn)")

#: Rate synapse: target input I += w * pre.r.
RATE = Synapse("rate", current="I += w*pre.r")

#: Delta (spike-event) synapse: on a presynaptic spike, post.V jumps by w.
DELTA = Synapse("delta", on_pre="post.V += w")

_HH_COMMON = """
dV/dt = -G_Na*m**3*h*(V - E_Na) - G_K*n**4*(V - E_K) - G_L*(V - E_L) + I_bg + I_syn + I_asc + I_in
dn/dt = phi*(alpha_n(V)*(1 - n) - beta_n(V)*n)
dm/dt = phi*(alpha_m(V)*(1 - m) - beta_m(V)*m)
dh/dt = phi*(alpha_h(V)*(1 - h) - beta_h(V)*h)
dG/dt = -G/tau + z
dz/dt = -z/tau1 + G_syn/(1 + exp(-4.394*(V - V_shift)/V_range))
"""

_HH_PARAMS = dict(G_Na=52.0, G_K=20.0, G_L=0.1, E_Na=55.0, E_K=-90.0, E_L=-60.0, phi=5.0,
                  I_bg=0.0, tau1=0.1, V_range=35.0)
_HH_STATES = dict(V=-65.0, n=0.32, m=0.05, h=0.59, G=0.0, z=0.0)

#: The excitatory HH neuron's equations (also the base of blocks/basal_ganglia_loop.py's
#: HH_EXCI_STA, which adds the augmentation states to them).
HH_EXCI_EQUATIONS = _HH_COMMON + """
alpha_n(V) = 0.01*(V + 34)/(1 - exp(-(V + 34)/10))
beta_n(V) = 0.125*exp(-(V + 44)/80)
alpha_m(V) = 0.1*(V + 30)/(1 - exp(-(V + 30)/10))
beta_m(V) = 4*exp(-(V + 55)/18)
alpha_h(V) = 0.07*exp(-(V + 44)/20)
beta_h(V) = 1/(1 + exp(-(V + 14)/10))
spike_rate = 1.127*3/(1 + exp(-4.394*(V - 10)/35))   # integrates to about 1 per action potential
dspikes_cumulative/dt = spike_rate
dspikes_window/dt = spike_rate
"""

HH_EXCI = Model(
    "HHNeuronExci",
    HH_EXCI_EQUATIONS,
    states=dict(_HH_STATES, spikes_cumulative=0.0, spikes_window=0.0),
    params=dict(_HH_PARAMS, E_syn=0.0, G_syn=3.0, tau=5.0, V_shift=10.0, t_block=90.0),
    inputs=("I_syn", "I_asc", "I_in"),
    spike=Spike("V > 0"),
    events=[Event("spikes_window = 0", at="t_block", every="t_block", order=50)],
    doc="Excitatory HH neuron (Wang 1993 kinetics) with an AMPA gate and spike-count proxies.",
)

HH_INHIB = Model(
    "HHNeuronInhib",
    _HH_COMMON + """
alpha_n(V) = 0.01*(V + 38)/(1 - exp(-(V + 38)/10))
beta_n(V) = 0.125*exp(-(V + 48)/80)
alpha_m(V) = 0.1*(V + 33)/(1 - exp(-(V + 33)/10))
beta_m(V) = 4*exp(-(V + 58)/18)
alpha_h(V) = 0.07*exp(-(V + 51)/20)
beta_h(V) = 1/(1 + exp(-(V + 21)/10))
""",
    states=_HH_STATES,
    params=dict(_HH_PARAMS, E_syn=-70.0, G_syn=11.5, tau=70.0, V_shift=0.0),
    inputs=("I_syn", "I_asc", "I_in"),
    spike=Spike("V > 0"),
    doc="Inhibitory HH interneuron (Wang 2002 kinetics) with a GABA_A gate.",
)


def HHNeuronExci(name, N=1, **params):
    """N excitatory HH neurons. Parameters (HH_EXCI.params) as keywords, scalar or per unit."""
    return Population(name, HH_EXCI, N, params=params, synapse=CONDUCTANCE)


def HHNeuronInhib(name, N=1, **params):
    """N inhibitory HH interneurons. Parameters (HH_INHIB.params) as keywords."""
    return Population(name, HH_INHIB, N, params=params, synapse=CONDUCTANCE)


LIF = Model(
    "LIF",
    "dV/dt = (-(V - E_L) + R*(I + I_ext))/tau_m",
    states=dict(V=-70.0),
    params=dict(E_L=-70.0, R=1.0, tau_m=10.0, I_ext=0.0, V_th=-50.0, V_reset=-70.0,
                t_ref=2.0),
    inputs=("I",),
    spike=Spike("V > V_th", reset="V = V_reset", refractory="t_ref"),
    doc="Leaky integrate-and-fire neuron; delta synapses add w (mV) to V on a spike.",
)


def LIFNeurons(name, N=1, **params):
    """N leaky integrate-and-fire neurons; outgoing edges are delta synapses."""
    return Population(name, LIF, N, params=params, synapse=DELTA)


def _rate_model(activation, expr):
    return Model(f"Rate[{activation}]", f"dx/dt = (-x + I + I_ext)/tau\nr = {expr}",
                 states=dict(x=0.0), params=dict(tau=10.0, I_ext=0.0), inputs=("I",),
                 doc=f"Rate unit: tau dx/dt = -x + I, r = {expr}")


RATE_MODELS = {"tanh": _rate_model("tanh", "tanh(x)"),
               "relu": _rate_model("relu", "max(x, 0)"),
               "linear": _rate_model("linear", "x")}


def RatePopulation(name, N=1, activation="tanh", **params):
    """N rate units tau dx/dt = -x + I + I_ext, r = f(x) with f in tanh, relu, linear."""
    if activation not in RATE_MODELS:
        raise ValueError(f"block '{name}': activation must be one of "
                         f"{', '.join(RATE_MODELS)}, got {activation!r}")
    return Population(name, RATE_MODELS[activation], N, params=params, synapse=RATE)
