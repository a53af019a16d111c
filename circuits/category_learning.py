"""category-learning: cortex -> striatum -> dopamine learns two image categories.

Stimulus -> visual cortex (VAC, 4 WTAs) -> associative cortex (AC, 2 WTAs) with Hebbian
learning; AC -> two striata with dopamine-modulated learning; TANs add exploration noise; the
SNc's dopamine is the reward prediction; a greedy policy picks the striatum with the larger
matrisome drive. The Neuroblox category-learning tutorial, rebuilt from its equations.
"""
from __future__ import annotations

from circuitdsl.blocks import (SNc, TAN, CorticalWTA, GreedyPolicy, ImageStimulus,
                               NextGenerationEI, Striatum)
from circuitdsl.blocks.neural_mass import TUTORIAL
from circuitdsl.circuit import Circuit, resolve_params
from circuitdsl.circuits._classification import classification_runner, draw_classification
from circuitdsl.datasets import generate_category_stimuli, load_image_csv
from circuitdsl.learning import HebbianModulationPlasticity, HebbianPlasticity

DESCRIPTION = "cortex-striatum-dopamine circuit learning two image categories (Neuroblox tutorial)"

PARAMS = {
    "stimuli": None,            # CSV path; None = the shipped generator
    "stimuli_seed": 0,
    "VAC.density": 0.05, "AC.density": 0.05, "VAC->AC.weight": 3.0, "VAC->AC.density": 0.1,
    "hebbian.K": 5e-4, "hebbian.W_lim": 7.0,
    "AC->STR.weight": 0.075, "AC->STR.density": 0.04,
    "modulated.K": 0.06, "modulated.decay": 0.01, "modulated.alpha": 2.5,
    "modulated.theta_m": 1.0,
    "TAN.kappa": 10.0, "SNc.kappa": 1.0, "SNc.lambda": 0.33,
    "stimulus.weight": 14.0, "ascending.weight": 44.0, "t_block": 90.0, "t_warmup": 200.0,
    "dt": 0.05,
}


def build(**params):
    p = resolve_params("category-learning", PARAMS, params)
    images = (load_image_csv(p["stimuli"], n_pixels=20) if p["stimuli"]
              else generate_category_stimuli(1000, 20, seed=int(p["stimuli_seed"])))
    c = Circuit("category-learning")
    stim = ImageStimulus("stim", images, t_stimulus=1000.0, t_pause=0.0)
    vac = CorticalWTA("VAC", N_wta=4, N_exci=5, density=p["VAC.density"], weight=1.0)
    ac = CorticalWTA("AC", N_wta=2, N_exci=5, density=p["AC.density"], weight=1.0)
    asc = NextGenerationEI("ASC1", **TUTORIAL)
    str1, str2 = Striatum("STR1", N_inhib=5), Striatum("STR2", N_inhib=5)
    tan1, tan2 = TAN("TAN1", kappa=p["TAN.kappa"]), TAN("TAN2", kappa=p["TAN.kappa"])
    snc = SNc("SNc", kappa_DA=p["SNc.kappa"], lambda_DA=p["SNc.lambda"])
    policy = GreedyPolicy("AS", t_decision=180.0)
    c.add(stim, vac, ac, asc, str1, str2, tan1, tan2, snc, policy)
    hebb = HebbianPlasticity(K=p["hebbian.K"], W_lim=p["hebbian.W_lim"])
    mod = HebbianModulationPlasticity(K=p["modulated.K"], decay=p["modulated.decay"],
                                      alpha=p["modulated.alpha"], theta_m=p["modulated.theta_m"],
                                      modulator=snc)
    c.connect("ASC1", "VAC", weight=p["ascending.weight"])
    c.connect("ASC1", "AC", weight=p["ascending.weight"])
    c.connect("stim", "VAC", weight=p["stimulus.weight"])
    c.connect("VAC", "AC", weight=p["VAC->AC.weight"], density=p["VAC->AC.density"],
              learning_rule=hebb)
    for s in ("STR1", "STR2"):
        c.connect("AC", s, weight=p["AC->STR.weight"], density=p["AC->STR.density"],
                  learning_rule=mod)
    c.connect("TAN1", "STR1", weight=1.0, t_event=90.0)
    c.connect("TAN2", "STR2", weight=1.0, t_event=90.0)
    for s in ("STR1", "STR2"):
        for t in ("TAN1", "TAN2"):
            c.connect(s, t, weight=1.0)
    c.connect("STR1", "STR2", weight=1.0, t_event=180.0)
    c.connect("STR2", "STR1", weight=1.0, t_event=180.0)
    c.connect("STR1", "AS")
    c.connect("STR2", "AS")
    c.connect("STR1", "SNc", weight=1.0)
    c.connect("STR2", "SNc", weight=1.0)
    c.meta.update(kind="classification", runner=classification_runner,
                  redraw=draw_classification, t_block=p["t_block"], t_warmup=p["t_warmup"],
                  dt=p["dt"], stimulus="stim", params=p, default_trials=400)
    return c
