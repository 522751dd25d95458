"""Sharing a small server's CPUs: heavy work runs at a lower priority, once per question, a few at a time.

The app serves a room from one process. Interactive pages must stay quick while a model trains or a map is
computed, and many visitors asking for the same t-SNE map must not each spend minutes of every core on it.

- :func:`lower_priority` renices the calling thread (and the OpenMP workers it starts later) for good: Linux lets
  an unprivileged process raise a thread's nice value but never lower it again, so it is for threads that end
  with their work (the training thread, the workers of :class:`SingleFlight`).
- :func:`yielding_cpu` lowers it for a block and gives it back after, where the system allows that (root, the
  CAP_SYS_NICE capability, or a high enough RLIMIT_NICE); elsewhere it leaves the priority alone rather than
  slow the thread for the rest of its life.
- :class:`SingleFlight` computes each key once at a time in a niced worker thread of its own, every concurrent
  caller waiting on that one computation and hearing its progress; at most ``$AECORE_HEAVY_WORKERS`` (default 1)
  run at once in the process, the rest say they wait.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any

NICE_STEP = 10
Report = Callable[[float, str], None]


def lower_priority(by: int = NICE_STEP) -> int | None:
    """Raise this thread's nice value by ``by`` (at most 19) for the rest of its life, and so that of the OpenMP
    workers it starts: on a small server the pages people are looking at go first. Returns the thread's new
    nice value (None where unsupported)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
        return os.getpriority(os.PRIO_PROCESS, tid)
    except (AttributeError, OSError):
        return None


def _may_lower_nice_to(value: int) -> bool:
    """Whether this process may set a nice value as low as ``value`` again (CAP_SYS_NICE, or RLIMIT_NICE)."""
    try:
        with open("/proc/self/status") as f:
            caps = next((line.split()[1] for line in f if line.startswith("CapEff:")), "0")
        if int(caps, 16) >> 23 & 1:  # CAP_SYS_NICE (root has it)
            return True
        soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    except (OSError, ValueError, AttributeError):
        return False
    return soft == resource.RLIM_INFINITY or value >= 20 - soft


@contextlib.contextmanager
def yielding_cpu(by: int = NICE_STEP) -> Iterator[int | None]:
    """Run the block at a lower CPU priority and restore the thread's priority after it. Where the system would
    refuse the restore (an unprivileged process), nothing is changed and it yields None: a page thread must not
    stay slow. Heavy work that should yield everywhere belongs in :class:`SingleFlight`'s niced workers."""
    try:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
    except (AttributeError, OSError):
        yield None
        return
    if not _may_lower_nice_to(before):
        yield None
        return
    try:
        yield lower_priority(by)
    finally:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, before)


def _slots() -> int:
    try:
        return max(1, int(os.environ.get("AECORE_HEAVY_WORKERS", "1")))
    except ValueError:
        return 1


HEAVY_SLOTS = threading.BoundedSemaphore(_slots())  # heavy computations at once in this process


class _Flight:
    """One computation in a niced daemon thread; any number of threads wait on it and hear its progress."""

    def __init__(self, fn: Callable[[Report], Any], waiting: str, slots: threading.Semaphore,
                 done: Callable[[], None]):
        self._cond = threading.Condition()
        self._progress: tuple[float, str] | None = None
        self._version = 0
        self._finished = False
        self._result: Any = None
        self._error: BaseException | None = None
        args = (fn, waiting, slots, done)
        self._thread = threading.Thread(target=self._run, args=args, name="aecore-heavy", daemon=True)
        self._thread.start()

    def _report(self, fraction: float, message: str) -> None:
        with self._cond:
            self._progress = (fraction, message)
            self._version += 1
            self._cond.notify_all()

    def _run(self, fn, waiting: str, slots: threading.Semaphore, done: Callable[[], None]) -> None:
        lower_priority()
        try:
            if not slots.acquire(blocking=False):
                self._report(0.0, waiting)
                slots.acquire()
            try:
                self._result = fn(self._report)
            finally:
                slots.release()
        except BaseException as e:  # noqa: BLE001 - handed to every waiter, which raises it
            self._error = e
        finally:
            done()  # before waking the waiters: a caller that comes next starts afresh (and finds the cache)
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def wait(self, on_progress: Report | None) -> Any:
        """The result (or the error) once computed; ``on_progress`` is called in the waiting thread (where a
        page's progress bar lives) with the latest report whenever there is a new one."""
        seen = 0
        while True:
            with self._cond:
                while not self._finished and self._version == seen:
                    self._cond.wait()
                finished, version, progress = self._finished, self._version, self._progress
            if on_progress and version != seen:
                on_progress(*progress)
            seen = version
            if finished:
                if self._error is not None:
                    raise self._error
                return self._result


class SingleFlight:
    """Computations run once per key at a time: a second caller with the same key waits for the first one's
    result instead of computing it again. Each runs in a niced thread of its own, holding one of ``slots``."""

    def __init__(self, slots: threading.Semaphore | None = None):
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}
        self._slots = slots or HEAVY_SLOTS

    def run(self, key: Hashable, fn: Callable[[Report], Any], on_progress: Report | None = None,
            waiting: str = "waiting for another computation to finish…") -> Any:
        """``fn(report)``'s result, computed in a worker (or already being computed for ``key``). The work goes
        on if this caller stops waiting (a closed tab), so whoever asks next still gets it."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = _Flight(fn, waiting, self._slots, lambda: self._forget(key))
        return flight.wait(on_progress)

    def _forget(self, key: Hashable) -> None:
        with self._lock:
            self._flights.pop(key, None)

    def running(self) -> int:
        with self._lock:
            return len(self._flights)
