"""The local backend: runs on spawned worker processes of this machine.

Workers are spawned, never forked (Numba and fork do not mix), use one thread each, ignore
Ctrl-C (it is the sweep's) and die with the sweep (a Watchdog on their parent). A worker that
dies (a crash, the out-of-memory killer) breaks its pool: the runs in flight then are retried
one at a time in a new pool, so only the run that kills its worker is `failed`.
"""
from __future__ import annotations

import os
import signal

from circuitdsl.sweep.watchdog import Watchdog
from circuitdsl.sweep.worker import THREAD_ENV, ThreadEnv, outcome, run_task

WORKER_DIED = ("the worker process died during this run (a crash, or killed by the system, "
               "e.g. out of memory)")


def init_worker(owner_pid):
    """Process-pool initializer: one thread, Ctrl-C is the parent's, die with the parent."""
    os.environ.update(THREAD_ENV)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Watchdog.of_parent(owner_pid).start()


def run_local(tasks, workers, on_result):
    """Run tasks on `workers` spawned processes, at most `workers` in flight; on_result(task,
    result) is called in this process for each, in the order they finish."""
    with ThreadEnv():   # workers start on demand, and inherit the environment then
        pending, suspects = list(tasks), []
        while pending or suspects:
            suspects = run_pool(pending, suspects, workers, on_result)


def run_pool(pending, suspects, workers, on_result):
    """One process pool, until all tasks are done or a worker dies; returns the suspects (the
    runs in flight when a worker died; each is then run alone)."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool
    ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                initializer=init_worker, initargs=(os.getpid(),))
    running, broken, finished = {}, False, False
    try:
        while pending or suspects or running:
            isolating = bool(suspects) or any(t.get("_suspect") for t in running.values())
            while (suspects or pending) and len(running) < (1 if isolating else workers):
                task = suspects.pop(0) if suspects else pending.pop(0)
                try:
                    running[ex.submit(run_task, task)] = task
                except BrokenProcessPool:
                    (suspects if task.get("_suspect") else pending).insert(0, task)
                    broken = True
                    break
            if broken:
                break
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in done:
                try:
                    result = f.result()
                except BrokenProcessPool:
                    broken = True       # judged below, with the other runs in flight
                    continue
                except Exception:       # e.g. a result that cannot be sent back
                    result = outcome(f)
                on_result(running.pop(f), result)
            if broken:
                break
        finished = True
    finally:
        if not finished or broken:   # Ctrl-C, an error, or a dead worker
            procs = list((getattr(ex, "_processes", None) or {}).values())
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(5)
        ex.shutdown(wait=True, cancel_futures=True)
    in_flight = list(running.values())
    if len(in_flight) == 1:        # alone in the pool: this run killed its worker
        on_result(in_flight[0], dict(status="failed", metrics={}, seconds="", error=WORKER_DIED))
        return suspects
    return [dict(t, _suspect=True) for t in in_flight] + suspects
