"""Stimuli: ImageStimulus, one unit per pixel whose `value` it sets when the Agent asks it
to show an image (`show`, the Stimulus role of circuitdsl/roles.py).

Each stimulus -> cortex edge assigns pixels to the cortex's excitatory neurons in order,
continuing a per-stimulus pixel counter (reset at every build), reference §1.7 and §2.3:
I_in of neuron k = w * image[pixel_k].
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Population
from circuitdsl.connections import add_unit_synapses, registry, unit_list
from circuitdsl.datasets import ImageSet, load_image_csv
from circuitdsl.model import Event, Model, Synapse

PIXEL = Model("Pixel", "", params=dict(value=0.0, t_stimulus=1e300),
              events=[Event("value = 0", at="t_stimulus", order=0)],
              doc="One pixel of an image; switched off at t_stimulus.")

#: Pixel -> neuron: I_in += w * value.
PIXEL_INPUT = Synapse("pixel", current="I_in += w*pre.value")


class ImageStimulus(Population):
    """Images from an ImageSet (or a CSV path). `t_stimulus` (ms) switches the image off."""

    def __init__(self, name, images, t_stimulus=1000.0, t_pause=0.0):
        if not isinstance(images, ImageSet):
            images = load_image_csv(images)
        self.images = images
        self.t_stimulus, self.t_pause = float(t_stimulus), float(t_pause)
        super().__init__(name, PIXEL, images.n_pixels,
                         params=dict(t_stimulus=t_stimulus, value=images.images[0]),
                         synapse=PIXEL_INPUT)

    @property
    def t_trial(self):
        return self.t_stimulus + self.t_pause

    def image(self, k):
        return self.images.images[k % self.images.n_stimuli]

    def category(self, k):
        return int(self.images.categories[k % self.images.n_stimuli])

    def show(self, sim, path, k):
        """Stimulus role (circuitdsl/roles.py): image k on the pixels, and the switch-off time
        restored (the previous trial's event set every value to 0 at t_stimulus)."""
        sim.set(path, "value", self.image(k))
        sim.set(path, "t_stimulus", self.t_stimulus)


@registry.register(ImageStimulus, object)
def _stimulus_to_block(net, conn, src, dst, rng):
    """Pixel k of the counter drives excitatory neuron k of the target, in order."""
    d_units = unit_list(dst, "excitatory")
    counters = net.__dict__.setdefault("pixel_counters", {})
    start = counters.get(id(src), 0)
    pre = (start + np.arange(len(d_units))) % src.N
    counters[id(src)] = (start + len(d_units)) % src.N
    post = np.arange(len(d_units))
    add_unit_synapses(net, unit_list(src, "all"), d_units, pre, post,
                      conn.initial_weights(pre, post, rng), PIXEL_INPUT, conn)
