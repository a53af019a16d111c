"""corticostriatal: the full category-learning model of Pathak et al. (603 HH neurons).

Visual cortex (45 WTAs) -> prefrontal cortex (20 WTAs) with Hebbian learning; PFC -> two
striata with dopamine-modulated learning; for each striatum a GPi, GPe, STN and thalamus
closing the loop back onto PFC through synapses with short-term augmentation (STA); a
cholinergic cell driven by its own neural mass onto the MSNs; TANs, SNc and a greedy policy.
Wiring, weights, densities and timing follow the big-model reference page (§3-§7); its open
questions are parameters here (docs/circuits/corticostriatal.md says which default and why).
"""
from __future__ import annotations

from circuitdsl.blocks import (GPe, GPi, SNc, STN, TAN, CholinergicInterneuron, CorticalWTA,
                               GreedyPolicy, ImageStimulus, NextGenerationEI,
                               STACorticalWTA, Striatum, Thalamus)
from circuitdsl.blocks.neural_mass import TUTORIAL
from circuitdsl.circuit import Circuit, resolve_params
from circuitdsl.circuits._corticostriatal_outputs import corticostriatal_runner, redraw
from circuitdsl.datasets import load_image_csv
from circuitdsl.datasets_big import generate_dot_images
from circuitdsl.learning import HebbianModulationPlasticity, HebbianPlasticity

DESCRIPTION = ("full corticostriatal category learning (603 HH neurons, basal-ganglia loop, "
               "STA thalamocortical synapses; Pathak et al.)")

PARAMS = {
    "sta": True,                 # thalamus -> PFC with short-term augmentation (page §4)
    "stimuli": None,             # CSV path (the original image_example.csv); None = generated
    "stimuli_seed": 0,
    "VC.density": 0.01, "PFC.density": 0.01,
    "stimulus.weight": 14.0, "LC.weight": 44.0, "ITN.weight": 100.0,
    "VC->PFC.weight": 1.0, "VC->PFC.density": 0.08,
    "hebbian_cort.K": 5e-4, "hebbian_cort.W_lim": 5.0,
    "PFC->STR.weight": 0.075, "PFC->STR.density": 0.04,
    "modulated.K": 0.04, "modulated.decay": 0.01, "modulated.alpha": 2.5,
    "modulated.theta_m": 1.0,
    "tan_nrn->STR.weight": 0.17, "tan_nrn->STR": True,
    "STR->GPi.weight": 4.0, "STR->GPi.density": 0.04,
    "STR->GPe.weight": 4.0, "STR->GPe.density": 0.04,
    "GPe->GPi.weight": 0.2, "GPe->GPi.density": 0.04,
    "STN->GPi.weight": 0.1, "STN->GPi.density": 0.04,
    "pallidal_rule": "bernoulli",
    "GPi->Thal.weight": 0.16, "GPi->Thal.density": 0.04,
    "GPe->STN.weight": 3.5, "GPe->STN.density": 0.04,
    "Thal->PFC.weight": 0.2, "Thal->PFC.density": 0.32,
    "hebbian_thal.K": 1.7e-5, "hebbian_thal.W_lim": 6.0,
    "GPi.I_bg": 4.0, "GPe.I_bg": 4.0, "STN.I_bg": 3.0, "Thal.I_bg": 3.0,
    "TAN.kappa": 100.0, "SNc.kappa": 1.0, "SNc.lambda": 0.33,
    "t_event": 181.0, "t_decision": 180.5, "t_stimulus": 600.0, "t_pause": 1000.0,
    "t_block": 90.0, "t_warmup": 800.0, "dt": 0.02,
}

PARAM_HELP = {
    "sta": "true: Thal -> PFC carries short-term augmentation (G_stp of the PFC cell); false: "
           "a plain AMPA edge with the same weight, density and rule (the non-STA control)",
    "stimuli": "a CSV of 225-pixel images with a category column (e.g. the original "
               "image_example.csv); none = the generated dot images (datasets_big.py)",
    "stimuli_seed": "seed of the generated dot images",
    "VC.density": "Bernoulli density of the WTA -> WTA excitatory pairs inside VC",
    "PFC.density": "Bernoulli density of the WTA -> WTA excitatory pairs inside PFC",
    "stimulus.weight": "pixel -> VC cell gain: I_in = w * pixel (uA/cm^2)",
    "LC.weight": "ascending 16-Hz mass -> both cortices' ff_inh: I_asc = w * r_e",
    "ITN.weight": "ITN mass -> cholinergic cell: I_asc = w * r_e",
    "tan_nrn->STR": "open question Q2: true = the cholinergic cell drives every MSN of both "
                    "striata (AMPA); false = no such edge",
    "pallidal_rule": "open question Q1: rule of the edges into GPi and GPe (STR->GPi, "
                     "STR->GPe, GPe->GPi, STN->GPi): bernoulli (page default) or "
                     "hypergeometric",
    "TAN.kappa": "open question Q3: TAN Poisson rate ceiling (100 = docstring default; the "
                 "small model used 10)",
    "t_event": "time (ms) of the striatum <-> striatum competition (the snapshot of rho_)",
    "t_decision": "greedy policy's decision time (ms); the decision reads the snapshot, so "
                  "it is recorded, not used",
    "dt": "time step (ms); open question Q6: the page recommends a fixed step <= 0.02 ms",
    "t_warmup": "warm-up (ms) whose end state u0 starts every trial",
}

NUCLEI = (("GPi", GPi), ("GPe", GPe), ("STN", STN), ("Thal", Thalamus))


def _images(p):
    if p["stimuli"]:
        return load_image_csv(p["stimuli"], n_pixels=225)
    return generate_dot_images(1000, 15, seed=int(p["stimuli_seed"]))


def build(**params):
    p = resolve_params("corticostriatal", PARAMS, params)
    if not isinstance(p["sta"], bool):
        raise ValueError(f"corticostriatal: sta is true or false, got {p['sta']!r}")
    if p["pallidal_rule"] not in ("bernoulli", "hypergeometric"):
        raise ValueError("corticostriatal: pallidal_rule must be 'bernoulli' or "
                         f"'hypergeometric', got {p['pallidal_rule']!r}")
    c = Circuit("corticostriatal")
    stim = ImageStimulus("stim", _images(p), t_stimulus=p["t_stimulus"], t_pause=p["t_pause"])
    vc = CorticalWTA("VC", N_wta=45, N_exci=5, density=p["VC.density"], weight=1.0)
    # Only the PFC cells an STA edge reaches carry the augmentation states; without STA the
    # PFC is a plain CorticalWTA, so the control has no extra states at all.
    pfc_type = STACorticalWTA if p["sta"] else CorticalWTA
    pfc = pfc_type("PFC", N_wta=20, N_exci=5, density=p["PFC.density"], weight=1.0)
    c.add(stim, vc, pfc, NextGenerationEI("LC", **TUTORIAL),
          CholinergicInterneuron("tan_nrn", mass_weight=p["ITN.weight"]))
    for k in (1, 2):
        c.add(Striatum(f"STR{k}", N_inhib=25))
        for name, block in NUCLEI:
            c.add(block(f"{name}{k}", I_bg=p[f"{name}.I_bg"]))
    snc = SNc("SNc", kappa_DA=p["SNc.kappa"], lambda_DA=p["SNc.lambda"])
    c.add(TAN("TAN1", kappa=p["TAN.kappa"]), TAN("TAN2", kappa=p["TAN.kappa"]), snc,
          GreedyPolicy("AS", t_decision=p["t_decision"]))

    hebb_cort = HebbianPlasticity(K=p["hebbian_cort.K"], W_lim=p["hebbian_cort.W_lim"])
    hebb_thal = HebbianPlasticity(K=p["hebbian_thal.K"], W_lim=p["hebbian_thal.W_lim"])
    mod = HebbianModulationPlasticity(K=p["modulated.K"], decay=p["modulated.decay"],
                                      alpha=p["modulated.alpha"], theta_m=p["modulated.theta_m"],
                                      modulator=snc)
    c.connect("stim", "VC", weight=p["stimulus.weight"])
    c.connect("LC", "VC", weight=p["LC.weight"])
    c.connect("LC", "PFC", weight=p["LC.weight"])
    c.connect("VC", "PFC", weight=p["VC->PFC.weight"], density=p["VC->PFC.density"],
              learning_rule=hebb_cort)
    pallidal = dict(connection_rule=p["pallidal_rule"])
    for k in (1, 2):
        s, gpi, gpe, stn, thal = (f"STR{k}", f"GPi{k}", f"GPe{k}", f"STN{k}", f"Thal{k}")
        c.connect("PFC", s, weight=p["PFC->STR.weight"], density=p["PFC->STR.density"],
                  learning_rule=mod)
        if p["tan_nrn->STR"]:
            c.connect("tan_nrn", s, weight=p["tan_nrn->STR.weight"])
        c.connect(s, gpi, weight=p["STR->GPi.weight"], density=p["STR->GPi.density"],
                  **pallidal)
        c.connect(gpi, thal, weight=p["GPi->Thal.weight"], density=p["GPi->Thal.density"])
        c.connect(thal, "PFC", weight=p["Thal->PFC.weight"], density=p["Thal->PFC.density"],
                  learning_rule=hebb_thal, sta=p["sta"])
        c.connect(s, gpe, weight=p["STR->GPe.weight"], density=p["STR->GPe.density"],
                  **pallidal)
        c.connect(gpe, gpi, weight=p["GPe->GPi.weight"], density=p["GPe->GPi.density"],
                  **pallidal)
        c.connect(gpe, stn, weight=p["GPe->STN.weight"], density=p["GPe->STN.density"])
        c.connect(stn, gpi, weight=p["STN->GPi.weight"], density=p["STN->GPi.density"],
                  **pallidal)
    # Event edges (small-model page §2.6-2.9): each TAN samples into its own striatum and
    # reads both striosomes; the competition in both directions; the two actions; dopamine.
    c.connect("TAN1", "STR1", weight=1.0, t_event=90.0)
    c.connect("TAN2", "STR2", weight=1.0, t_event=90.0)
    for s in ("STR1", "STR2"):
        for t in ("TAN1", "TAN2"):
            c.connect(s, t, weight=1.0)
    c.connect("STR1", "STR2", weight=1.0, t_event=p["t_event"])
    c.connect("STR2", "STR1", weight=1.0, t_event=p["t_event"])
    c.connect("STR1", "AS")
    c.connect("STR2", "AS")
    c.connect("STR1", "SNc", weight=1.0)
    c.connect("STR2", "SNc", weight=1.0)
    c.meta.update(kind="classification", runner=corticostriatal_runner, redraw=redraw,
                  t_block=p["t_block"], t_warmup=p["t_warmup"], dt=p["dt"], stimulus="stim",
                  params=p, default_trials=700)
    return c
