"""hebbian-cortex: stimulus -> visual cortex -> associative cortex with Hebbian learning.

The first Neuroblox learning tutorial: ascending 16 Hz modulation, no action selection, so
every trial counts as correct (feedback = 1) and the cortico-cortical weights grow toward W_lim.
"""
from __future__ import annotations

from circuitdsl.blocks import CorticalWTA, ImageStimulus, NextGenerationEI
from circuitdsl.blocks.neural_mass import TUTORIAL
from circuitdsl.circuit import Circuit, resolve_params
from circuitdsl.circuits import category_learning
from circuitdsl.circuits._classification import classification_runner, draw_classification
from circuitdsl.datasets import generate_category_stimuli, load_image_csv
from circuitdsl.learning import HebbianPlasticity

DESCRIPTION = "stimulus -> VAC -> AC with Hebbian plasticity and ascending modulation"

PARAMS = {"stimuli": None, "stimuli_seed": 0, "VAC.density": 0.05, "AC.density": 0.05,
          "VAC->AC.weight": 3.0, "VAC->AC.density": 0.1, "hebbian.K": 5e-4,
          "hebbian.W_lim": 15.0, "stimulus.weight": 14.0, "ascending.weight": 44.0,
          "t_warmup": 200.0, "dt": 0.05}

# What `circuitdsl show hebbian-cortex --params` says each parameter means: the words of
# category-learning, whose parameters these are.
PARAM_HELP = {k: v for k, v in category_learning.PARAM_HELP.items() if k in PARAMS}


def build(**params):
    p = resolve_params("hebbian-cortex", PARAMS, params)
    images = (load_image_csv(p["stimuli"], n_pixels=20) if p["stimuli"]
              else generate_category_stimuli(1000, 20, seed=int(p["stimuli_seed"])))
    c = Circuit("hebbian-cortex")
    c.add(ImageStimulus("stim", images, t_stimulus=1000.0),
          CorticalWTA("VAC", N_wta=4, N_exci=5, density=p["VAC.density"], weight=1.0),
          CorticalWTA("AC", N_wta=2, N_exci=5, density=p["AC.density"], weight=1.0),
          NextGenerationEI("ASC1", **TUTORIAL))
    c.connect("ASC1", "VAC", weight=p["ascending.weight"])
    c.connect("ASC1", "AC", weight=p["ascending.weight"])
    c.connect("stim", "VAC", weight=p["stimulus.weight"])
    c.connect("VAC", "AC", weight=p["VAC->AC.weight"], density=p["VAC->AC.density"],
              learning_rule=HebbianPlasticity(K=p["hebbian.K"], W_lim=p["hebbian.W_lim"]))
    c.meta.update(kind="classification", runner=classification_runner,
                  redraw=draw_classification, t_block=None, t_warmup=p["t_warmup"], dt=p["dt"],
                  stimulus="stim", params=p, default_trials=10)
    return c
