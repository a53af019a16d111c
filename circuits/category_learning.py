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

# What `circuitdsl show category-learning --params` says each parameter means.
PARAM_HELP = {
    "stimuli": "CSV of images (pixel_1..pixel_20, category); None: the shipped generator "
               "(same as --stimuli FILE)",
    "stimuli_seed": "seed of the generated stimulus set (1000 images, 2 categories)",
    "VAC.density": "density of the WTA -> WTA edges inside the visual cortex VAC",
    "AC.density": "density of the WTA -> WTA edges inside the associative cortex AC",
    "VAC->AC.weight": "initial weight of the plastic VAC -> AC edge",
    "VAC->AC.density": "density of the VAC -> AC edge",
    "hebbian.K": "rate of the Hebbian rule on VAC -> AC",
    "hebbian.W_lim": "weight the Hebbian rule grows VAC -> AC toward",
    "stimulus.weight": "weight of the stimulus -> VAC edge",
    "ascending.weight": "weight of the ascending modulation ASC1 -> VAC and ASC1 -> AC",
    "t_warmup": "ms simulated before the first trial (its end state starts every trial)",
    "dt": "time step in ms (--dt overrides it)",
    "AC->STR.weight": "scale of the initial AC -> STR1/STR2 weights (2w U(0,1) per source)",
    "AC->STR.density": "density of the AC -> STR1/STR2 edges",
    "modulated.K": "rate of the dopamine-modulated rule on AC -> STR",
    "modulated.decay": "weight decay of the modulated rule",
    "modulated.alpha": "steepness of the modulated rule's sigmoid",
    "modulated.theta_m": "offset of the reward prediction error in the modulated rule",
    "TAN.kappa": "TAN exploration-noise strength",
    "SNc.kappa": "SNc baseline dopamine kappa_DA",
    "SNc.lambda": "SNc dopamine gain lambda_DA",
    "t_block": "latch period (ms) of the blocks that have one",
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
