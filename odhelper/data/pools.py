"""The worker pools of the two passes, and pass 1 itself (see worker.py).

    with running(options, context, images) as pool: ...   (None: in-process; shut down
        after the block, its workers killed at once on Ctrl-C or an error)
    run(pool, function, *arguments) -> the results, in order
    first_pass(index, context, options) -> list[worker.Item]
"""
from __future__ import annotations

import concurrent.futures.process
import contextlib
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from odhelper import log, signals
from odhelper.data import discover, worker
from odhelper.options.data import TfrecordOptions

SERIAL_BELOW = 48  # images per worker; fewer are handled in-process (no pool start-up)


def worker_count(options: TfrecordOptions, images: int) -> int:
    return min(options.worker_count, max(1, images // SERIAL_BELOW))


def make_pool(options: TfrecordOptions, context: worker.Context, images: int):
    """A pool sized for `images`, each worker holding `context`; None: work here."""
    workers = worker_count(options, images)
    if workers <= 1:
        worker.install(context)
        return None
    # fork is fastest, but not safe once TensorFlow (threads) lives in this process
    # (e.g. `odhelper run` or the demo calling us after training started).
    safe_to_fork = "tensorflow" not in sys.modules
    method = "fork" if safe_to_fork and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                               initializer=_start_worker, initargs=(os.getpid(), context))


def _start_worker(parent_pid: int, context: worker.Context) -> None:
    signals.die_with_parent(parent_pid)  # no orphans after a kill -9; Ctrl-C is the parent's
    worker.install_in_pool(context)


@contextlib.contextmanager
def running(options: TfrecordOptions, context: worker.Context, images: int):
    """`make_pool`'s pool for the block, shut down after it; on Ctrl-C or an error its
    workers are killed at once rather than waited for."""
    pool = None
    try:
        with signals.deferred():  # a Ctrl-C now arrives once `pool` is set
            pool = make_pool(options, context, images)
            if pool is not None:  # start its workers now: a signal during a fork is lost
                pool.submit(int).result()
        yield pool
    except BaseException:
        _shut_down(pool, kill=True)
        raise
    _shut_down(pool, kill=False)


@contextlib.contextmanager
def _quiet_manager_thread():
    """Python 3.11's pool manager fails futures that `map` had cancelled when its
    workers die (InvalidStateError in its thread): expected here, not worth a traceback."""
    previous = threading.excepthook

    def hook(args) -> None:
        if not isinstance(args.exc_value, concurrent.futures.InvalidStateError):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def _shut_down(pool: ProcessPoolExecutor | None, kill: bool) -> None:
    """Shut the pool down (not to be cut short by Ctrl-C); `kill`: its workers first."""
    if pool is None:
        return
    with signals.deferred(), _quiet_manager_thread():
        manager = pool._executor_manager_thread
        if kill:  # the pool breaks and fails what is pending
            for process in list((pool._processes or {}).values()):
                process.kill()
        pool.shutdown(cancel_futures=True)
        # Python 3.11 would wake the finished manager thread once more at exit, through
        # a pipe already closed, if anything still refers to it: a traceback at exit.
        wakeups = concurrent.futures.process._threads_wakeups
        for thread in [manager, *wakeups]:
            if thread is not None and not thread.is_alive():
                wakeups.pop(thread, None)


def run(pool: ProcessPoolExecutor | None, function, *arguments):
    """`function` over the argument lists, in the pool if any; the results in order."""
    return map(function, *arguments) if pool is None else pool.map(function, *arguments)


def first_pass(index: discover.FileIndex, context: worker.Context,
               options: TfrecordOptions) -> list[worker.Item]:
    """Every XML read, in chunks (a few dozen: even work for any pool size)."""
    clock = time.perf_counter()
    xml_files = index.xml_files
    size = max(1, min(256, len(xml_files) // 64))
    chunks = [xml_files[i:i + size] for i in range(0, len(xml_files), size)]
    bar = log.progress(total=len(xml_files), desc="annotations", unit="xml")
    items: list[worker.Item] = []
    try:
        with running(options, context, len(xml_files)) as pool:
            for result in run(pool, worker.read_annotations, chunks):
                items.extend(result)
                bar.update(len(result))
    finally:
        bar.close()
    log.info("Read %d annotations in %.2f s (%d workers)", len(items),
             time.perf_counter() - clock, worker_count(options, len(xml_files)))
    return items
