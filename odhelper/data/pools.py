"""The worker pools of the two passes, and pass 1 itself (see worker.py).

    make_pool(options, context, images) -> ProcessPoolExecutor | None (None: in-process)
    run(pool, function, *arguments) -> the results, in order
    first_pass(index, context, options) -> list[worker.Item]
"""
from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from odhelper import log
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
                               initializer=worker.install_in_pool, initargs=(context,))


def run(pool: ProcessPoolExecutor | None, function, *arguments):
    """`function` over the argument lists, in the pool if any; the results in order."""
    return map(function, *arguments) if pool is None else pool.map(function, *arguments)


def first_pass(index: discover.FileIndex, context: worker.Context,
               options: TfrecordOptions) -> list[worker.Item]:
    """Every XML read, in chunks (a few dozen: even work for any pool size)."""
    clock = time.perf_counter()
    xml_files = index.xml_files
    pool = make_pool(options, context, len(xml_files))
    size = max(1, min(256, len(xml_files) // 64))
    chunks = [xml_files[i:i + size] for i in range(0, len(xml_files), size)]
    bar = log.progress(total=len(xml_files), desc="annotations", unit="xml")
    items: list[worker.Item] = []
    try:
        for result in run(pool, worker.read_annotations, chunks):
            items.extend(result)
            bar.update(len(result))
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    log.info("Read %d annotations in %.2f s (%d workers)", len(items),
             time.perf_counter() - clock, worker_count(options, len(xml_files)))
    return items
