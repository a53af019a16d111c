"""The Dask backend: runs on a running Dask scheduler's workers, or on a LocalCluster started
for the sweep and closed at its end (`dask_local`). Dask is optional: it is imported only
here, and only when asked for.
"""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from circuitdsl.sweep.planning import SweepError
from circuitdsl.sweep.worker import ThreadEnv, one_line, outcome, run_task

DASK_MISSING = ('Dask is not installed; install it with: pip install "circuitdsl[dask]" '
                '(or pip install "dask[distributed]")')


def import_distributed():
    """The `distributed` module, or a SweepError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise SweepError(DASK_MISSING) from None
    return distributed


def run_dask(tasks, workers, scheduler, on_result):
    """Run tasks on the cluster at `scheduler`, or on a LocalCluster of `workers` one-thread
    processes when scheduler is None; on_result(task, result) as runs finish."""
    distributed = import_distributed()
    cluster = None
    with ThreadEnv():   # LocalCluster workers inherit the environment when they start
        try:
            if scheduler:
                try:
                    client = distributed.Client(scheduler, timeout="20s")
                except OSError as err:
                    raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: "
                                     f"{one_line(err)}") from None
            else:
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                                   processes=True, dashboard_address=None)
                client = distributed.Client(cluster)
                # a LocalCluster's workers are not our children: they watch our pid instead
                owner = dict(host=socket.gethostname(), pid=os.getpid())
                tasks = [dict(t, owner=owner) for t in tasks]
            futures = []
            try:
                batch = uuid.uuid4().hex[:8]
                futures = [client.submit(run_task, t, pure=False,
                                         key=f"circuitdsl-{batch}-{Path(t['out']).name}")
                           for t in tasks]
                by_key = {f.key: t for f, t in zip(futures, tasks)}
                for f in distributed.as_completed(futures):
                    on_result(by_key[f.key], outcome(f))
            finally:
                if futures:
                    client.cancel(futures)
                client.close()
        finally:
            if cluster is not None:
                cluster.close()
