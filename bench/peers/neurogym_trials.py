"""Record neurogym's DelayComparison-v0 trials with their random draws, for the equivalence
test (tests/gradient/test_tasks.py reads the file; neurogym itself is not needed there).

The environment's RandomState is replaced by one that keeps every randn() block it hands out,
so the noise neurogym added is known exactly; trial draws and period indices are read from
the environment. Run where neurogym is installed (2.2.0 here: 2.3.1 imports torch):

    /tmp/jaxvenv/bin/python bench/peers/neurogym_trials.py tests/data/neurogym_delay_comparison.npz
"""
import sys

import numpy as np

TUTORIAL = {"delay": ("choice", [200, 400, 800, 1600, 3200]), "response": ("constant", 500)}
PERIODS = ("fixation", "stimulus1", "delay", "stimulus2", "decision")


class RecordingRandomState(np.random.RandomState):
    def __init__(self, seed):
        super().__init__(seed)
        self.blocks = []

    def randn(self, *shape):
        out = super().randn(*shape)
        self.blocks.append(np.array(out, dtype=np.float64))
        return out


def record(timing, n, seed):
    import gymnasium as gym
    import neurogym  # noqa: F401 - registers the environments
    env = gym.make("DelayComparison-v0", dt=100, timing=timing).unwrapped
    env.rng = RecordingRandomState(seed)
    obs, gts, info = np.zeros((n, 48, 2), np.float32), np.zeros((n, 48), np.int64), []
    noise = np.zeros((n, 48, 2))
    for k in range(n):
        env.rng.blocks.clear()
        trial = env.new_trial()
        T = len(env.ob)
        obs[k, :T], gts[k, :T] = env.ob, env.gt
        starts = [env.start_ind[p] for p in PERIODS]
        ends = [env.end_ind[p] for p in PERIODS]
        assert len(env.rng.blocks) == 2        # stimulus1, then stimulus2
        for (a, b), block in zip(((starts[1], ends[1]), (starts[3], ends[3])), env.rng.blocks):
            noise[k, a:b] = block
        pair = env.vpairs.index(tuple(trial["vpair"]))
        info.append([T, int(trial["ground_truth"]), pair] + starts + ends)
    return obs, gts, noise, np.asarray(info, dtype=np.int64)


def main():
    import neurogym
    out = {}
    for name, timing in (("default", None), ("tutorial", TUTORIAL)):
        obs, gts, noise, info = record(timing, 100, seed=7)
        out.update({f"{name}_ob": obs, f"{name}_gt": gts, f"{name}_noise": noise,
                    f"{name}_info": info})
    np.savez_compressed(sys.argv[1], neurogym_version=neurogym.__version__, **out)


if __name__ == "__main__":
    main()
