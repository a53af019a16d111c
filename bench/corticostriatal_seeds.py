"""The corticostriatal acceptance runs (issue 16): seeds x {STA, no STA}, 700 trials each.

    python bench/corticostriatal_seeds.py --seeds 1 2 3 4 5 --sta both --trials 700 \
        --out results/corticostriatal-seeds

Each run is `circuitdsl run corticostriatal --seed S --set sta=...` (runs.run_one, the same
code path) into OUT/sta-S or OUT/nosta-S, so an interrupted run continues where it stopped
when the command is repeated (a finished run is only re-read). Then OUT/table.csv and
OUT/table.md get one row per run with the acceptance numbers:

- STA: the 40-trial running mean reaches >= 0.85 by trial 400, and the mean over trials
  100-400 is >= 0.70 (at least 4 of 5 seeds must pass);
- no STA: the running mean stays <= 0.75 after trial 40 (at least 4 of 5);
- dopamine (first 100 trials, DA_log in (1, 2] when correct, (0, 1] when wrong): at most 5
  of trials 1-20 below the extreme (2 or 1) and more than 40 of trials 40-100 below it;
- accuracy per block of 100 trials and the mean wall and CPU seconds per trial.

OUT/learning_curves.png draws every run's 40-trial running mean on one figure (STA solid,
no STA dashed) with the published description as bands: the STA runs settle at 85-100 %,
the non-STA runs stay at 35-70 % after the first ~20 trials (reference page §9).

`--summarize` only rebuilds the table from the run directories.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from circuitdsl.experiment import read_trace
from circuitdsl.runs import run_one

WINDOW = 40


def running_mean(correct, window=WINDOW):
    return np.array([correct[max(0, k - window + 1):k + 1].mean() for k in range(len(correct))])


def below_extreme(da, correct):
    """Trials whose logged dopamine is below its extreme (2 when correct, 1 when wrong);
    1e-9 absorbs the rounding of the trace's 10 significant digits."""
    extreme = np.where(correct > 0, 2.0, 1.0)
    return da < extreme - 1e-9


def row_of(run_dir, sta, seed):
    trace = read_trace(run_dir / "trace.csv")
    c = np.asarray([float(r["correct"]) for r in trace])
    da = np.asarray([float(r["dopamine"]) for r in trace])
    secs = np.asarray([float(r["seconds"]) for r in trace])
    n = len(c)
    run = running_mean(c)
    below = below_extreme(da, c)
    row = dict(sta=sta, seed=seed, trials=n,
               accuracy=round(float(c.mean()), 3),
               acc_100_400=round(float(c[99:400].mean()), 3) if n >= 400 else "",
               running_max_by_400=round(float(run[:400].max()), 3),
               first_trial_running_ge_085=(int(np.argmax(run >= 0.85)) + 1
                                           if (run >= 0.85).any() else ""),
               running_max_after_40=round(float(run[40:].max()), 3) if n > 40 else "",
               da_below_1_20=int(below[:20].sum()),
               da_below_40_100=int(below[39:100].sum()) if n >= 100 else "",
               seconds_per_trial=round(float(secs.mean()), 2))
    for b in range(0, n, 100):
        row[f"acc_{b + 1}_{min(b + 100, n)}"] = round(float(c[b:b + 100].mean()), 3)
    if n >= 400:
        if sta == "sta":
            row["pass"] = bool(row["running_max_by_400"] >= 0.85 and row["acc_100_400"] >= 0.70)
        else:
            row["pass"] = bool(row["running_max_after_40"] <= 0.75)
    if n >= 100:
        row["da_pass"] = bool(row["da_below_1_20"] <= 5 and row["da_below_40_100"] > 40)
    cpu = run_dir / "cpu_seconds.json"
    if cpu.exists():
        info = json.loads(cpu.read_text())
        row["cpu_seconds_per_trial"] = round(info["cpu"] / max(1, info["trials"]), 2)
    return row


def write_table(out, rows):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(out / "table.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, keys, restval="")
        w.writeheader()
        w.writerows(rows)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    for sta in ("sta", "nosta"):
        passed = [r["pass"] for r in rows if r["sta"] == sta and "pass" in r]
        if passed:
            lines.append(f"\n{sta}: {sum(passed)} of {len(passed)} seeds pass")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    return lines


def draw_curves(out, runs):
    """All running means on one figure, beside the published ranges."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    ax.axhspan(0.85, 1.0, color="tab:blue", alpha=0.08, label="published STA: 85-100 % late")
    ax.axhspan(0.35, 0.70, color="tab:orange", alpha=0.08,
               label="published non-STA: 35-70 % after trial ~20")
    for (tag, seed), correct in runs.items():
        run = running_mean(correct)
        ax.plot(np.arange(1, len(run) + 1), run, "-" if tag == "sta" else "--", lw=1.2,
                color="tab:blue" if tag == "sta" else "tab:orange", alpha=0.85,
                label=f"{'STA' if tag == 'sta' else 'no STA'} seed {seed}")
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"accuracy, {WINDOW}-trial running mean")
    ax.set_title("corticostriatal: STA vs no STA")
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--sta", choices=("true", "false", "both"), default="both")
    ap.add_argument("--trials", type=int, default=700)
    ap.add_argument("--dt", type=float, default=None, help="default: the circuit's (0.02)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="another circuit parameter for every run (e.g. TAN.kappa=10)")
    ap.add_argument("--out", default="results/corticostriatal-seeds")
    ap.add_argument("--summarize", action="store_true")
    args = ap.parse_args(argv)
    from circuitdsl.cli import _params
    extra = _params(args.set)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    conditions = [s for s in ("true", "false") if args.sta in (s, "both")]
    rows, curves = [], {}
    for sta in conditions:
        tag = "sta" if sta == "true" else "nosta"
        for seed in args.seeds:
            run_dir = out / f"{tag}-{seed}"
            if not args.summarize:
                done = 0
                if (run_dir / "trace.csv").exists():
                    done = len(read_trace(run_dir / "trace.csv"))
                if done < args.trials:
                    t0 = time.process_time()
                    run_one("corticostriatal", seed, dict(extra, sta=(sta == "true")), run_dir,
                            trials=args.trials, dt=args.dt, resume=(run_dir / "run.json").exists(),
                            progress=False)
                    cpu = time.process_time() - t0
                    prior = (json.loads((run_dir / "cpu_seconds.json").read_text())
                             if (run_dir / "cpu_seconds.json").exists() else dict(cpu=0.0, trials=0))
                    (run_dir / "cpu_seconds.json").write_text(json.dumps(dict(
                        cpu=prior["cpu"] + cpu, trials=prior["trials"] + args.trials - done)))
            if (run_dir / "trace.csv").exists():
                rows.append(row_of(run_dir, tag, seed))
                curves[(tag, seed)] = np.asarray(
                    [float(r["correct"]) for r in read_trace(run_dir / "trace.csv")])
                print(rows[-1], flush=True)
    if rows:
        print("\n".join(write_table(out, rows)))
        draw_curves(out, curves)


if __name__ == "__main__":
    main()
