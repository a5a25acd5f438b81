"""The worker pools of the two passes, and pass 1 itself (see worker.py).

    make_pool(options, context, jobs) -> ProcessPoolExecutor | None (None: in-process)
    with running(options, context, jobs) as pool: ...   (shut down after; killed on Ctrl-C)
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
from odhelper.data import discover, split, worker
from odhelper.options.data import TfrecordOptions

SERIAL_BELOW = 48  # images; fewer are handled in-process (no pool start-up)


def make_pool(options: TfrecordOptions, context: worker.Context, images: int):
    """A pool sized for `images`, its workers started and holding `context`."""
    workers = min(options.worker_count, max(1, images // SERIAL_BELOW))
    if workers <= 1:
        worker.install(context)
        return None
    # fork is fastest, but not safe once TensorFlow (threads) lives in this process
    # (e.g. `odhelper run` or the demo calling us after training started).
    safe_to_fork = "tensorflow" not in sys.modules
    method = "fork" if safe_to_fork and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                               initializer=_start_worker, initargs=(os.getpid(), context))
    pool.submit(int).result()  # start the workers now, before any thread of ours exists
    return pool


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


def first_pass(index: discover.FileIndex, context: worker.Context,
               options: TfrecordOptions) -> list[worker.Item]:
    """Every XML read; with a pool, `index.stats` are taken alongside."""
    clock = time.perf_counter()
    prefetch = None
    try:
        with running(options, context, len(index.xml_files)) as pool:
            if pool is not None:  # numpy (for the split) imported while this process waits
                prefetch = threading.Thread(target=split.import_numpy, daemon=True)
                prefetch.start()
            items = _read_annotations(index, pool)
    finally:
        if prefetch is not None:
            prefetch.join()
    log.info("Read %d annotations in %.2f s (%d workers)", len(items),
             time.perf_counter() - clock, pool._max_workers if pool else 1)
    return items


def _read_annotations(index: discover.FileIndex, pool) -> list[worker.Item]:
    xml_files = index.xml_files
    bar = log.progress(total=len(xml_files), desc="annotations", unit="xml")
    items: list[worker.Item] = []
    if pool is None:
        for path in xml_files:
            items.append(worker.read_annotation(path))
            bar.update()
    else:
        size = max(8, min(256, len(xml_files) // (pool._max_workers * 8) or 1))
        chunks = [xml_files[i:i + size] for i in range(0, len(xml_files), size)]
        results = pool.map(worker.read_annotations, chunks)
        step = max(1, len(index.files) // (pool._max_workers * 4))
        stats = [pool.submit(discover.file_stats, index.files[i:i + step])
                 for i in range(0, len(index.files), step)]
        for result in results:
            items.extend(result)
            bar.update(len(result))
        index.stats = [stat for future in stats for stat in future.result()]
    bar.close()
    return items
