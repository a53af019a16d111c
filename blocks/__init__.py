"""The block library (importable as circuitdsl.blocks)."""
from circuitdsl.blocks.basal_ganglia import SNc, TAN, GreedyPolicy, Striatum
from circuitdsl.blocks.basal_ganglia_loop import (GPe, GPi, STN, CholinergicInterneuron,
                                                 STACorticalWTA, Thalamus)
from circuitdsl.blocks.cortex import CorticalWTA, WinnerTakeAll
from circuitdsl.blocks.neural_mass import NextGenerationEI
from circuitdsl.blocks.neurons import (HHNeuronExci, HHNeuronInhib, LIFNeurons,
                                       RatePopulation)
from circuitdsl.blocks.stimuli import ImageStimulus

__all__ = ["CholinergicInterneuron", "CorticalWTA", "GPe", "GPi", "GreedyPolicy", "HHNeuronExci",
           "HHNeuronInhib", "ImageStimulus", "LIFNeurons", "NextGenerationEI", "RatePopulation",
           "SNc", "STACorticalWTA", "STN", "Striatum", "TAN", "Thalamus", "WinnerTakeAll"]
