"""The block library (importable as circuitdsl.blocks)."""
from circuitdsl.blocks.basal_ganglia import SNc, TAN, GreedyPolicy, Striatum
from circuitdsl.blocks.cortex import CorticalWTA, WinnerTakeAll
from circuitdsl.blocks.neural_mass import NextGenerationEI
from circuitdsl.blocks.neurons import (HHNeuronExci, HHNeuronInhib, LIFNeurons,
                                       RatePopulation)
from circuitdsl.blocks.stimuli import ImageStimulus

__all__ = ["CorticalWTA", "GreedyPolicy", "HHNeuronExci", "HHNeuronInhib", "ImageStimulus",
           "LIFNeurons", "NextGenerationEI", "RatePopulation", "SNc", "Striatum", "TAN",
           "WinnerTakeAll"]
