"""Two-compartment burst neurons and an online delta-rule readout (LTTB).

Capone, Lupo, Muratore, Paolucci (2022), "Beyond spiking networks: the computational advantages
of dendritic amplification and input segregation", arXiv:2201.11717 ("Learning Through Target
Bursts"), CC BY 4.0; built from the model text in reference §A, not from the authors' code.

Each unit has a soma (with spike-triggered adaptation W), a proximal apical compartment driven
by the recurrent network (I_p = J s) and a distal apical compartment driven by the teacher
(I_d = a j_targ y*). It is a discrete-time map, written as `update` statements (they run after
the inputs are summed; reference §A.4, with δ = dt/τ_m and β_x = exp(-dt/τ_x)):

    V^p <- [(1-δ) h + δ (I_p + h + h_ref)] (1 - S^p) + V_reset_apic S^p     (not integrated:
                                                   the original reads the slot that holds h)
    V^d <- [(1-δ) V^d + δ (I_d + h + h_ref)] (1 - S^d) + V_reset_apic S^d
    V^s <- [(1-δ) V^s + δ (I_s + h + 20 S^wind - b W)] (1 - S^s) + S^s V_reset / (1 + 2 S^wind)
    S^x <- Θ(V^x);  s, s_ro, s_soma, W <- β s + (1-β) S^s  (τ_s, τ_ro, τ*, τ_W)
    SW <- Θ(s_soma - θ_s);  B = SW S^d;  B_rec = SW S^p;  B_total = B or B_rec
    B_filt(_rec, _total) <- β* B_filt + (1-β*) B(...);  S^wind = Θ₁(B_filt - θ_b) or Θ₁(B_filt_rec - θ_b)

The online rules (circuitdsl.learning.LTTBRecurrentRule, LTTBReadoutRule) run after this map
and read values one step old (reference §A.5); the unit keeps those copies itself (`*_prev`,
`Sp_prev2`, and the presynaptic trace dH <- (1-δ) dH + δ s(t-1)). `learn` = 0 freezes them.
With sign constraints ("pin") the rule clips each weight to its presynaptic unit's bounds
[w_lo, w_hi] and holds weights from a unit to itself (same `uid`) at 0.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Population
from circuitdsl.model import Model, Synapse

_ONE_STEP_OLD = """
dH = (1 - delta)*dH + delta*s_prev
s_prev = s
Vp_prev = Vp
Sd_prev = Sd
Sp_prev2 = Sp_prev
Sp_prev = Sp
SW_prev = SW
B_filt_total_prev = B_filt_total
B_filt_rec_prev = B_filt_rec
"""

_STEP = """
Vp = ((1 - delta)*h + delta*(I_p + h + h_ref))*(1 - Sp) + V_reset_apic*Sp
Vd = ((1 - delta)*Vd + delta*(I_d + h + h_ref))*(1 - Sd) + V_reset_apic*Sd
Vs = ((1 - delta)*Vs + delta*(I_s + h + burst_drive*Swind - b*W))*(1 - Ss) + Ss*V_reset/(1 + 2*Swind)
Sp = heaviside(Vp)
Sd = heaviside(Vd)
Ss = heaviside(Vs)
s = beta_s*s + (1 - beta_s)*Ss
s_ro = beta_ro*s_ro + (1 - beta_ro)*Ss
s_soma = beta_star*s_soma + (1 - beta_star)*Ss
W = beta_W*W + (1 - beta_W)*Ss
SW = heaviside(s_soma - theta_s)
B = SW*Sd
Brec = SW*Sp
Btot = where(B + Brec - 1 >= 0, 1, 0)
B_filt = beta_star*B_filt + (1 - beta_star)*B
B_filt_rec = beta_star*B_filt_rec + (1 - beta_star)*Brec
B_filt_total = beta_star*B_filt_total + (1 - beta_star)*Btot
Swind = max(where(B_filt - theta_b >= 0, 1, 0), where(B_filt_rec - theta_b >= 0, 1, 0))
"""

_STATES = ["Vs", "Vd", "Vp", "Ss", "Sd", "Sp", "s", "s_ro", "s_soma", "W", "SW", "Swind", "B",
           "Brec", "Btot", "B_filt", "B_filt_rec", "B_filt_total", "dH", "s_prev", "Vp_prev",
           "Sd_prev", "Sp_prev", "Sp_prev2", "SW_prev", "B_filt_total_prev", "B_filt_rec_prev"]

BURST_NEURON = Model(
    "LTTBBurstNeuron",
    states={x: (-1.0 if x in ("Vs", "Vd", "Vp", "Vp_prev") else 0.0) for x in _STATES},
    params=dict(delta=0.05, h=-1.0, h_ref=-5.0, V_reset=-20.0, V_reset_apic=-160.0, b=100.0,
                burst_drive=20.0, theta_s=0.025, theta_b=0.0125, gamma=10.0,
                beta_s=float(np.exp(-1 / 2)), beta_ro=float(np.exp(-1 / 10)),
                beta_star=float(np.exp(-1 / 20)), beta_W=float(np.exp(-1 / 200)), learn=0.0,
                uid=0.0, w_lo=float("-inf"), w_hi=float("inf")),
    inputs=("I_s", "I_p", "I_d"),
    update=_ONE_STEP_OLD + _STEP,
    doc="LTTB two-compartment burst neuron (soma, proximal and distal apical), discrete time.")

#: Recurrent edge onto the proximal apical compartment: I_p += J s (s = S_filt, τ_s).
APICAL_RECURRENT = Synapse("apical recurrent", current="I_p += w*pre.s")


def readout_synapse(signal):
    """Burst readout edge: Y_in += Jout r, with r = B_filt_total or B_filt_rec."""
    if signal not in ("B_filt_total", "B_filt_rec"):
        raise ValueError(f"readout signal must be 'B_filt_total' or 'B_filt_rec', got {signal!r}")
    return Synapse(f"burst readout {signal}", current=f"I_r += w*pre.{signal}")


class BurstNeurons(Population):
    """N LTTB units with time step `dt` and time constants in ms (β = exp(-dt/τ) and
    δ = dt/τ_m are parameters, computed here)."""

    def __init__(self, name, N, dt=1.0, tau_m=20.0, tau_s=2.0, tau_ro=10.0, tau_star=20.0,
                 tau_W=200.0, du=0.1, **params):
        derived = dict(delta=dt / tau_m, beta_s=np.exp(-dt / tau_s), beta_ro=np.exp(-dt / tau_ro),
                       beta_star=np.exp(-dt / tau_star), beta_W=np.exp(-dt / tau_W),
                       gamma=1.0 / du)
        super().__init__(name, BURST_NEURON, N, synapse=APICAL_RECURRENT,
                         params={**{k: float(v) for k, v in derived.items()}, **params})


READOUT = Model(
    "LTTBReadout",
    states=dict(Y=0.0, err=0.0),
    params=dict(bias=0.0, eta_bias=0.0, learn=0.0),
    inputs=("I_r", "target"),
    update="""
Y = I_r + bias
err = target - Y
bias = bias + learn*eta_bias*err
""",
    doc="Linear readout Y = Jout r + bias of the target y* (input `target`); err = y* - Y.")


class BurstReadout(Population):
    """O readout units; the bias is a parameter, so it carries over from trial to trial."""

    def __init__(self, name, N=3, eta_bias=0.0):
        super().__init__(name, READOUT, N, params=dict(eta_bias=eta_bias))
