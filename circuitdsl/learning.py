"""Built-in learning rules, written in the same equation language a user would use.

    HebbianPlasticity(K, W_lim)            dw = K x_pre x_post (W_lim - w) feedback
    HebbianModulationPlasticity(K, decay, alpha, theta_m, modulator)
        rpe = feedback - (kappa_DA - DA);  dw = max(K x_pre H_post rpe (rpe + theta_m)
                                                     sigma'(alpha (rpe + theta_m)) - decay w, -w)

    MiconiRule(eta, max_dw)                e += (r_pre(t-1) (x_post - xbar_post))**3 every step,
                                           dw = clip(-eta Ebar e (E - Ebar), +-max_dw) per trial

    DeltaRule(eta)                         e_sum += post.e r_pre every step,  dw = eta e_sum
    DeltaRule(eta, feedback=True)          the same for the transposed copy (pre sends e)
    BackpropTanh(eta)                      e_sum += I_fb (1 - r_post**2) r_pre,  dw = eta e_sum
    HebbianDecay(eta)                      e_sum += -w + r_post r_pre,  dw = eta e_sum

x_pre and x_post are cumulative spike counts at the end of the trial (reference §3).
"""
from __future__ import annotations

from circuitdsl.model import LearningRule


def HebbianPlasticity(K=5e-4, W_lim=7.0):
    """Hebbian growth toward W_lim, only on correct trials (feedback = 1)."""
    return LearningRule(
        "HebbianPlasticity",
        on_trial_end="w = w + K*pre.spikes_cumulative*post.spikes_cumulative*(W_lim - w)*feedback",
        params=dict(K=K, W_lim=W_lim), signals=("feedback",))


def HebbianModulationPlasticity(K=0.06, decay=0.01, alpha=2.5, theta_m=1.0, modulator=None):
    """Dopamine-modulated Hebbian rule; post is the target striatum's matrisome H. Its
    dopamine and kappa_DA come from `modulator` (an SNc block of the circuit)."""
    return LearningRule(
        "HebbianModulationPlasticity",
        definitions="""
rpe = feedback - (kappa_DA - dopamine)
u = alpha*(rpe + theta_m)
""",
        on_trial_end="w = w + max(K*pre.spikes_cumulative*post.H_learning*rpe*(rpe + theta_m)"
                     "*sigmoid(u)*(1 - sigmoid(u)) - decay*w, -w)",
        params=dict(K=K, decay=decay, alpha=alpha, theta_m=theta_m),
        signals=("feedback", "dopamine", "kappa_DA"), modulator=modulator)


def MiconiRule(eta=0.1, max_dw=3e-4, t_trace=2.5):
    """Miconi (2017): a supralinear eligibility trace and a reward-prediction-error update.

    The trace is a product of a presynaptic and a postsynaptic factor, so the compiler
    accumulates it with matrix products (see compiler/separable.py); E is the trial's error
    and Ebar the running baseline of its trial type, both given by the task at trial end.
    The trace starts after `t_trace` ms (the original skips the first steps)."""
    return LearningRule(
        "MiconiRule",
        on_step=f"e = e + heaviside(t - {float(t_trace)!r})*(pre.r_prev*(post.x - post.x_mean))**3",
        on_trial_end="w = w + clip(-eta*Ebar*e*(E - Ebar), -max_dw, max_dw)",
        params=dict(eta=eta, max_dw=max_dw), traces=dict(e=0.0), signals=("E", "Ebar"))


def _summed(name, increment, eta, doc):
    """A rule whose per-step increments are summed over the trial and applied at its end."""
    rule = LearningRule(name, on_step=f"e_sum = e_sum + {increment}",
                        on_trial_end="w = w + eta*e_sum", params=dict(eta=eta),
                        traces=dict(e_sum=0.0))
    rule.__doc__ = doc
    return rule


def DeltaRule(eta=1e-4, feedback=False):
    """Supervised readout rule, dw_ij = eta sum_t e_i r_j, summed over the trial. With
    `feedback=True` it is the same update for a transposed copy of the weights (an edge from
    the readout back to the layer, made with ERROR_FEEDBACK), so the copy stays equal."""
    return _summed("DeltaRule[feedback]" if feedback else "DeltaRule",
                   "pre.e*post.r" if feedback else "post.e*pre.r", eta, DeltaRule.__doc__)


def BackpropTanh(eta=1e-4):
    """Hidden tanh layer trained by the error sent back through the readout's weights (post's
    feedback input I_fb = U^T e): dw_ij = eta sum_t I_fb_i (1 - r_i^2) r_j."""
    return _summed("BackpropTanh", "post.I_fb*(1 - post.r**2)*pre.r", eta, BackpropTanh.__doc__)


def HebbianDecay(eta=1e-6):
    """Hebbian growth with decay, dw_ij = eta sum_t (-w_ij + r_i r_j) (Murray & Escola 2020)."""
    return _summed("HebbianDecay", "-w + post.r*pre.r", eta, HebbianDecay.__doc__)


def LTTBRecurrentRule(eta=10.0, pin=False):
    """LTTB's burst-dependent rule for the apical recurrent weights (Capone et al. 2022, §A.5),
    applied every step with values one step old, kept by the post unit (LTTBBurstNeuron):

        dw_ij = eta [S^d_i(t+1) - sigmoid(gamma V^p_i(t))] (1 - S^p_i(t)) SW_i(t+1) dH_j

    With `pin=True` the weight is then clipped to the presynaptic unit's bounds
    [pre.w_lo, pre.w_hi] (sign by presynaptic type) and held at 0 from a unit to itself
    (pre.uid == post.uid); the bounds are unit parameters, so no per-synapse bounds are
    loaded. The post factor is zero outside somatic windows, so the kernel skips those rows
    (compiler/gating.py). `post.learn` = 0 freezes the rule."""
    dw = ("eta*post.learn*(post.Sd_prev - sigmoid(post.gamma*post.Vp_prev))"
          "*(1 - post.Sp_prev2)*post.SW_prev*pre.dH")
    if not pin:
        return LearningRule("LTTBRecurrentRule", on_step=f"w = w + {dw}", params=dict(eta=eta))
    return LearningRule(
        "LTTBRecurrentRule[pin]",
        on_step=f"w = clip(w + {dw}, where(pre.uid == post.uid, 0, pre.w_lo), "
                "where(pre.uid == post.uid, 0, pre.w_hi))",
        params=dict(eta=eta))


def LTTBReadoutRule(eta=0.01, signal="B_filt_total"):
    """Online delta rule of LTTB's readout, dw_oj = eta (y*_o - Y_o) r_j every step, with r
    the presynaptic `signal` one step old (the value Y was computed from); the readout's
    bias follows its own eta_bias."""
    return LearningRule(
        "LTTBReadoutRule",
        on_step=f"w = w + eta*post.learn*post.err*pre.{signal}_prev",
        params=dict(eta=eta))
