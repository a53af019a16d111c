#!/usr/bin/env bash
# Every side-by-side benchmark, one after another, each printing JSON; run on a quiet machine.
#   bash bench/run_all.sh OUTDIR [BRIAN2_PYTHON] [ANNARCHY_VENV]
# Peers: Brian2 in its own venv (bench/peers/README.md), ANNarchy in another (MICONI.md).
set -euo pipefail
out=${1:?output directory}; b2=${2:-/tmp/b2venv/bin/python}; ann=${3:-/tmp/annvenv}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1
python bench/rate_network.py                     > "$out/rate_network.json"
python bench/hh_network.py --dt 0.01 --brian2-python "$b2" > "$out/hh_dt001.json"
python bench/hh_network.py --dt 0.05 --brian2-python "$b2" > "$out/hh_dt005.json"
python bench/compile_time.py                     > "$out/compile_time.json"
python bench/category_trial.py --trials 10       > "$out/category_trial.json"
python bench/dnms_trial.py --trials 200          > "$out/dnms_trial.json"
python bench/peers/miconi_numpy.py --trials 300 --seed 0 > "$out/miconi_numpy.json"
if [[ -f "$ann/bin/activate" ]]; then
  (source "$ann/bin/activate" && python bench/peers/miconi_annarchy.py --trials 300 --seed 0) \
    > "$out/miconi_annarchy.json"
fi
echo "results in $out"
