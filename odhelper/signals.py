"""Signals and child processes.

SIGTERM (what `kill`, Docker and job schedulers send) stops a command the way
Ctrl-C does: `Stopped` is a KeyboardInterrupt, so every `except KeyboardInterrupt`
and `finally` on the way out runs (training saves a checkpoint, stages are recorded
"interrupted", temp files are removed), and the exit code says which signal it was.

Worker processes die with their parent, even when it is killed with SIGKILL, and
leave Ctrl-C to it (no traceback from each worker).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading


STOPPING = {signal.SIGINT, signal.SIGTERM}


class Stopped(KeyboardInterrupt):
    """The process was asked to stop by a signal other than Ctrl-C's SIGINT."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def how_stopped(exc: BaseException) -> str:
    """'SIGTERM' or 'Ctrl-C', for the log line that tells how to resume."""
    return str(exc) if isinstance(exc, Stopped) else "Ctrl-C"


def stop_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM `exc` is, or that another error interrupted. A signal
    can arrive inside TensorFlow's tracing, whose clean-up then fails with an error
    of its own (e.g. an AssertionError about its stacks): the stop is what happened."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def raise_stop_behind(exc: BaseException) -> None:
    """For handlers that log an error and go on: a stop that caused it must stop."""
    stop = stop_behind(exc)
    if stop is not None:
        raise stop


def exit_code(exc: BaseException) -> int:
    """128 + the signal number, as a shell reports a process its signal ended."""
    return 128 + (exc.signal_number if isinstance(exc, Stopped) else signal.SIGINT)


def _raise_stopped(signal_number: int, frame) -> None:
    raise Stopped(signal_number)


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises `Stopped` in the main thread (the command's entry
    point calls this once)."""
    signal.signal(signal.SIGTERM, _raise_stopped)


@contextlib.contextmanager
def held_off():
    """Ctrl-C and SIGTERM ignored inside the block (the last checkpoint of a stopping
    run is not cut short by a second Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOPPING}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def deferred():
    """Ctrl-C and SIGTERM wait until the block is over (they arrive then): for
    starting child processes, where a signal inside fork's hooks would be lost
    with a traceback. Children started inside inherit the block; `die_with_parent`
    lifts it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def set_parent_death_signal(number: int) -> bool:
    """Ask Linux to send this process `number` when its parent dies (prctl
    PR_SET_PDEATHSIG); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(number), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def die_with_parent(parent_pid: int) -> None:
    """In a worker process: SIGKILL when the parent dies (Linux), exit now if it
    already has, ignore Ctrl-C (the parent stops the workers) and take SIGTERM's
    default action (the parent's handler, inherited by a forked worker, is not ours)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)
