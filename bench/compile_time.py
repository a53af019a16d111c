"""Cold compile (empty kernel cache) vs warm start (cache present) for the 48-neuron HH network
of bench/hh_network.py, each in a fresh process: time from `import circuitdsl` to the end of a
1-ms run.

    python bench/compile_time.py
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/peers"]
from hh_network import circuit_from_spec
from hh_network_spec import make_spec
from circuitdsl.simulator import Simulator
make_spec(sys.argv[2], dt=0.01)
c, _, _ = circuit_from_spec(dict(np.load(sys.argv[2])))
Simulator(c, dt=0.01).run(1.0)
print(time.perf_counter() - t0)
"""


def main():
    here = str(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, CIRCUITDSL_CACHE=cache)
        spec = os.path.join(cache, "spec.npz")
        times = [float(subprocess.run([sys.executable, "-c", CHILD, here, spec], env=env,
                                      check=True, capture_output=True, text=True).stdout.split()[-1])
                 for _ in range(2)]
    print(json.dumps(dict(cold_seconds=round(times[0], 2), warm_seconds=round(times[1], 2))))


if __name__ == "__main__":
    main()
