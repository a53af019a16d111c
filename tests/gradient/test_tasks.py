"""DelayComparisonTask against a plain reference written from the task's definition (reference
§D.1), its statistics over 10^4 trials (§D.3), the windowed dataset (§D.2), the adapter."""
import numpy as np
import pytest

from circuitdsl.tasks import (TUTORIAL_TIMING, DelayComparisonTask, NeurogymTask,
                              SequenceDataset, TaskError, sample_duration)

PAIRS = [(18, 10), (22, 14), (26, 18), (30, 22), (34, 26)]


def reference_trial(gt, pair, durations_ms, noise, dt=100.0, sigma=1.0):
    """§D.1 step by step: periods in order, start/end index int(time/dt), fixation channel 1
    except in decision, the encoded value in each stimulus period, N(0, (sigma/sqrt(dt))^2)
    noise on both channels in the stimulus periods only, ground truth gt in decision."""
    big, small = PAIRS[pair]
    v1, v2 = (big, small) if gt == 1 else (small, big)
    enc = lambda v: (1 + (v - 10) / (34 - 10)) / 2  # noqa: E731
    names = ["fixation", "stimulus1", "delay", "stimulus2", "decision"]
    start, bounds = 0.0, {}
    for name in names:
        d = (durations_ms[name] // dt) * dt          # floored to a multiple of dt
        bounds[name] = (int(start / dt), int((start + d) / dt))
        start += d
    T = bounds["decision"][1]
    ob = np.zeros((T, 2), dtype=np.float32)
    gt_arr = np.zeros(T, dtype=np.int64)
    for t in range(T):
        period = next(n for n in names if bounds[n][0] <= t < bounds[n][1])
        if period != "decision":
            ob[t, 0] = 1
        if period == "stimulus1":
            ob[t, 1] = enc(v1)
        if period == "stimulus2":
            ob[t, 1] = enc(v2)
        if period == "decision":
            gt_arr[t] = gt
    for t in range(T):
        period = next(n for n in names if bounds[n][0] <= t < bounds[n][1])
        if period in ("stimulus1", "stimulus2"):
            ob[t] += noise[t] * sigma / np.sqrt(dt)   # float32 += float64, as neurogym does
    return ob, gt_arr, bounds


@pytest.mark.parametrize("timing", [None, TUTORIAL_TIMING])
def test_same_draws_same_arrays_as_the_reference(timing):
    task = DelayComparisonTask(timing=timing)
    rng = np.random.default_rng(1)
    for _ in range(200):
        gt, pair, steps = task.draw(rng)
        noise = rng.standard_normal((sum(steps), 2))
        ob, gt_arr = task.build_trial(gt, pair, steps, noise)
        ms = dict(zip(["fixation", "stimulus1", "delay", "stimulus2", "decision"],
                      [s * 100.0 for s in steps]))
        ref_ob, ref_gt, bounds = reference_trial(gt, pair, ms, noise)
        assert ob.dtype == np.float32 and gt_arr.dtype == np.int64
        assert np.array_equal(ob, ref_ob) and np.array_equal(gt_arr, ref_gt)
        dec = slice(*bounds["decision"])
        assert np.all(ob[:bounds["stimulus2"][1], 0] != 0) and np.all(ob[dec] == 0)
        if timing is None:
            assert bounds == {"fixation": (0, 5), "stimulus1": (5, 10), "delay": (10, 20),
                              "stimulus2": (20, 25), "decision": (25, 26)}
        else:
            assert len(ob) in (18, 20, 24, 32, 48) and bounds["decision"][1] - \
                bounds["decision"][0] == 1
        quiet = np.r_[0:bounds["fixation"][1], bounds["delay"][0]:bounds["delay"][1]]
        assert np.all(ob[quiet] == [1.0, 0.0])       # no noise outside the stimuli


def test_stream_is_trials_back_to_back_from_the_same_draws():
    task = DelayComparisonTask(timing=TUTORIAL_TIMING)
    rng = np.random.default_rng(5)
    gt, pair, steps = task.draws(rng, 40)
    n_steps = 700
    noise = rng.standard_normal((n_steps + 48, 2))   # the cut trial's tail is never used
    ob, gts = task.build_stream(gt, pair, steps, noise, n_steps)
    assert ob.shape == (n_steps, 2) and gts.shape == (n_steps,)
    at = 0
    for k in range(40):
        L = int(steps[k].sum())
        ref_ob, ref_gt = task.build_trial(int(gt[k]), int(pair[k]), list(steps[k]),
                                          noise[at:at + L])
        take = min(L, n_steps - at)
        assert np.array_equal(ob[at:at + take], ref_ob[:take])
        assert np.array_equal(gts[at:at + take], ref_gt[:take])
        at += take
        if at == n_steps:
            break
    assert at == n_steps and k < 39


def test_statistics_over_ten_thousand_trials():
    task = DelayComparisonTask(timing=TUTORIAL_TIMING)
    rng = np.random.default_rng(2024)
    n = 10_000
    gts, pairs, delays, resid = [], [], [], []
    enc = task.encode
    for _ in range(n):
        gt, pair, steps = task.draw(rng)
        noise = rng.standard_normal((sum(steps), 2))
        ob, _ = task.build_trial(gt, pair, steps, noise)
        clean, _ = task.build_trial(gt, pair, steps, np.zeros_like(noise))
        edges = np.cumsum([0] + steps)
        stim = np.r_[edges[1]:edges[2], edges[3]:edges[4]]
        resid.append(ob[stim].astype(float) - clean[stim])
        gts.append(gt), pairs.append(pair), delays.append(steps[2])
        big, small = task.vpairs[pair]
        first = big if gt == 1 else small
        assert np.isclose(clean[edges[1], 1], np.float32(enc(first)))
    gts, pairs, delays = map(np.asarray, (gts, pairs, delays))
    assert abs((gts == 1).mean() - 0.5) < 0.02                     # 4 sigma = 0.02
    np.testing.assert_allclose(np.bincount(pairs) / n, 0.2, atol=0.017)
    assert sorted(np.unique(delays)) == [2, 4, 8, 16, 32]
    np.testing.assert_allclose(np.unique(delays, return_counts=True)[1] / n, 0.2, atol=0.017)
    resid = np.concatenate(resid)
    assert resid.shape == (n * 10, 2)
    np.testing.assert_allclose(resid.std(axis=0), 0.1, rtol=0.01)
    np.testing.assert_allclose(resid.mean(axis=0), 0.0, atol=0.002)
    # the fast stream draws the same distribution
    ob, gt = task.stream(np.random.default_rng(3), 200_000)
    dec = gt > 0
    assert abs((gt[dec] == 1).mean() - 0.5) < 0.02
    assert dec.sum() == pytest.approx(200_000 / 28.4, rel=0.03)   # one decision step a trial


def test_encoding_and_timing_options():
    task = DelayComparisonTask()
    np.testing.assert_allclose(task.encode([10, 14, 18, 22, 26, 30, 34]),
                               [0.5, 7 / 12, 2 / 3, 0.75, 5 / 6, 11 / 12, 1.0])
    rng = np.random.default_rng(0)
    assert sample_duration(300, rng) == 300.0
    assert sample_duration(("constant", 250), rng) == 250.0
    assert {sample_duration([100, 200], rng) for _ in range(50)} == {100.0, 200.0}
    u = DelayComparisonTask(timing={"delay": ("uniform", [150, 250])})
    assert {u.steps("delay", rng) for _ in range(100)} == {1, 2}     # floored to dt
    e = [sample_duration(("truncated_exponential", [300, 100, 500]), rng) for _ in range(500)]
    assert min(e) >= 100 and max(e) < 500
    with pytest.raises(TaskError, match="timing of 'delay': cannot read"):
        DelayComparisonTask(timing={"delay": ("gamma", 3)})


def test_environment_rewards():
    task = DelayComparisonTask()
    ob, _ = task.reset(seed=3)
    assert ob[0] == 1.0 and ob[1] == 0.0
    _, r, _, _, info = task.step(1)                  # acting during fixation costs 0.1
    assert r == -0.1 and not info["new_trial"]
    for _ in range(23):
        _, r, _, _, info = task.step(0)
        assert r == 0.0 and not info["new_trial"]
    gt = info["gt"]
    _, r, _, _, info = task.step(0)                  # step 24: last stimulus2 step
    _, r, _, _, info = task.step(gt)                 # step 25: decision, correct
    assert r == 1.0 and info["new_trial"] and info["performance"] == 1.0
    for _ in range(25):
        task.step(0)
    wrong = 3 - task._trial_gt
    _, r, _, _, info = task.step(wrong)
    assert r == 0.0 and info["performance"] == 0.0 and info["new_trial"]


def test_dataset_windows_cache_and_seed():
    task = DelayComparisonTask(timing=TUTORIAL_TIMING)
    ds = SequenceDataset(task, batch_size=16, seq_len=100, seed=4)
    assert ds.cache_len == 2100                      # 1e5 / 3 / 16 = 2083, whole windows
    cache_ob, cache_gt = ds._ob.copy(), ds._gt.copy()
    wins = [ds() for _ in range(21)]
    x, y = wins[0]
    assert x.shape == (100, 16, 2) and x.dtype == np.float32 and y.shape == (100, 16)
    assert np.array_equal(np.concatenate([w[0] for w in wins]), cache_ob)
    assert np.array_equal(np.concatenate([w[1] for w in wins]), cache_gt)
    x22, _ = ds()                                    # a fresh cache
    assert not np.array_equal(x22, x)
    assert x22[0, :, 0].min() == 1.0                 # every row starts a new trial (fixation)
    assert not np.array_equal(x[:, 0], x[:, 1])      # rows are independent streams
    from circuitdsl.circuit import stable_rng
    for row in (0, 7):    # the vectorised fill is the single-row stream of each row's draws
        ob, gt = task.stream(stable_rng(4, "dataset", row), 2100)
        assert np.array_equal(cache_ob[:, row], ob) and np.array_equal(cache_gt[:, row], gt)
    again = SequenceDataset(task, batch_size=16, seq_len=100, seed=4)
    assert np.array_equal(again()[0], x)
    with pytest.raises(TaskError, match="batch_size and seq_len"):
        SequenceDataset(task, batch_size=0)


class FakeNeurogymEnv:
    """The interface NeurogymTask reads: new_trial(), ob, gt, the two spaces, seed()."""

    class _Box:
        shape = (3,)

    class _Discrete:
        n = 2

    observation_space, action_space = _Box(), _Discrete()

    def seed(self, s):
        self.rng = np.random.RandomState(s)

    def new_trial(self):
        T = self.rng.randint(3, 6)
        self.ob = self.rng.normal(size=(T, 3))
        self.gt = np.r_[np.zeros(T - 1, dtype=int), 1]


def test_neurogym_interface_adapter_streams_trials():
    task = NeurogymTask(FakeNeurogymEnv())
    assert task.n_obs == 3 and task.n_actions == 2
    ds = SequenceDataset(task, batch_size=2, seq_len=10, seed=0, cache_len=40)
    x, y = ds()
    assert x.shape == (10, 2, 3) and x.dtype == np.float32
    assert set(np.unique(y)) == {0, 1}
    with pytest.raises(TaskError, match="no new_trial"):
        NeurogymTask(object())


def test_neurogym_delay_comparison_through_the_adapter():
    pytest.importorskip("neurogym")
    task = NeurogymTask("DelayComparison-v0", dt=100)
    ob, gt = task.trial(np.random.default_rng(0))
    assert ob.shape == (26, 2) and gt[-1] in (1, 2) and np.all(gt[:-1] == 0)


@pytest.mark.parametrize("timing_name, timing", [("default", None),
                                                 ("tutorial", TUTORIAL_TIMING)])
def test_equal_to_recorded_neurogym_trials(timing_name, timing):
    """100 trials recorded from neurogym 2.2.0 with its exact noise draws
    (bench/peers/neurogym_trials.py): the same draws give the same arrays, bit for bit."""
    from pathlib import Path
    data = np.load(Path(__file__).parents[1] / "data" / "neurogym_delay_comparison.npz")
    task = DelayComparisonTask(timing=timing)
    info = data[f"{timing_name}_info"]
    lengths = set()
    for k, (T, gt, pair, *bounds) in enumerate(info):
        starts, ends = bounds[:5], bounds[5:]
        assert starts[1:] == ends[:-1] and starts[0] == 0 and ends[-1] == T
        steps = [e - s for s, e in zip(starts, ends)]
        ob, gt_arr = task.build_trial(gt, pair, steps, data[f"{timing_name}_noise"][k, :T])
        assert np.array_equal(ob, data[f"{timing_name}_ob"][k, :T])
        assert np.array_equal(gt_arr, data[f"{timing_name}_gt"][k, :T])
        lengths.add(int(T))
    assert lengths == ({26} if timing is None else {18, 20, 24, 32, 48})
