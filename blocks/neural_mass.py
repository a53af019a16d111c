"""Neural masses: NextGenerationEI (theta-neuron E-I mean field, Byrne et al. 2020).

Z = a + ib is the Kuramoto order parameter of each population; r_p is its firing rate.
Downstream it offers I_asc = w * r_e (ascending modulation), reference §1.6.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Population
from circuitdsl.blocks.cortex import CorticalWTA
from circuitdsl.connections import registry
from circuitdsl.model import Model, Synapse

_RATE = "(1/(C*pi))*(1 - a**2 - b**2)/(1 + 2*a + a**2 + b**2)"

NGNMM_THETA = Model(
    "NextGenerationEI",
    f"""
rate(a, b, C) = {_RATE}
r_e = rate(a_e, b_e, C_e)
r_i = rate(a_i, b_i, C_i)
S_e = g_ee + g_ei
S_i = g_ie + g_ii
V_e = v_ee*g_ee + v_ei*g_ei
V_i = v_ie*g_ie + v_ii*g_ii
da_e/dt = (b_e*(a_e - 1) - (Delta_e/2)*((a_e + 1)**2 - b_e**2) - eta_e*b_e*(a_e + 1) - V_e*b_e*(a_e + 1) - (S_e/2)*(a_e**2 - b_e**2 - 1))/C_e
db_e/dt = ((b_e**2 - (a_e - 1)**2)/2 - Delta_e*b_e*(a_e + 1) + (eta_e/2)*((a_e + 1)**2 - b_e**2) + (V_e/2)*((a_e + 1)**2 - b_e**2) - a_e*b_e*S_e)/C_e
da_i/dt = (b_i*(a_i - 1) - (Delta_i/2)*((a_i + 1)**2 - b_i**2) - eta_i*b_i*(a_i + 1) - V_i*b_i*(a_i + 1) - (S_i/2)*(a_i**2 - b_i**2 - 1))/C_i
db_i/dt = ((b_i**2 - (a_i - 1)**2)/2 - Delta_i*b_i*(a_i + 1) + (eta_i/2)*((a_i + 1)**2 - b_i**2) + (V_i/2)*((a_i + 1)**2 - b_i**2) - a_i*b_i*S_i)/C_i
dg_ee/dt = alpha_ee*(k_ee*r_e - g_ee)
dg_ei/dt = alpha_ei*(k_ei*r_i - g_ei)
dg_ie/dt = alpha_ie*(k_ie*r_e - g_ie)
dg_ii/dt = alpha_ii*(k_ii*r_i - g_ii)
""",
    states=dict(a_e=-0.6, b_e=0.18, a_i=0.02, b_i=0.21, g_ee=0.0, g_ei=0.23, g_ie=0.26, g_ii=0.0),
    params=dict(C_e=30.0, C_i=30.0, Delta_e=0.5, Delta_i=0.5, eta_e=10.0, eta_i=0.0, v_ee=10.0,
                v_ei=-10.0, v_ie=10.0, v_ii=-10.0, alpha_ee=10.0, alpha_ei=0.8, alpha_ie=10.0,
                alpha_ii=0.8, k_ee=0.0, k_ei=0.5, k_ie=0.65, k_ii=0.0),
    doc="Next-generation E-I neural mass (theta neurons).",
)

#: Ascending drive: I_asc += w * r_e.
ASCENDING = Synapse("ascending", current="I_asc += w*pre.r_e")

#: The tutorial's parameters: a 16 Hz limit cycle with r_e in [0.0084, 0.031].
TUTORIAL = dict(C_e=52.0, C_i=26.0, alpha_ee=10 / 26, alpha_ie=10 / 26, alpha_ei=0.8 / 26,
                alpha_ii=0.8 / 26, k_ei=15.6, k_ie=15.6)


def NextGenerationEI(name, **params):
    """One E-I theta-neuron mass, integrated with RK4 (its equations are not linear)."""
    return Population(name, NGNMM_THETA, 1, params=params, synapse=ASCENDING, integrator="rk4")


def _only_mass(src, dst, options):
    if src.model is not NGNMM_THETA:
        return (f"only a NextGenerationEI mass connects to a whole CorticalWTA, not a "
                f"'{src.model.name}'")


@registry.register(Population, CorticalWTA, validate=_only_mass)
def _mass_to_cortex(net, conn, src, dst, rng):
    """Ascending modulation reaches only the feed-forward interneuron (reference §2.4)."""
    ff = dst.parts["ff_inh"]
    net.add_synapses(src, np.zeros(1, int), ff, np.zeros(1, int),
                     conn.initial_weights(np.zeros(1, int), np.zeros(1, int), rng),
                     ASCENDING, conn)
