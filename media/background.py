"""Ordered work on shared helper threads: pieces of a stream handed off, e.g. to be hashed, in order."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["OrderedLane"]


class OrderedLane:
    """Runs ``apply(data, context)`` for queued pieces on a shared helper thread, one at a time and in order.

    Meant for work that releases the GIL on large buffers (hashlib does), so the calling thread goes on receiving
    while another core works through what it received. The caller must not change ``data`` until it
    has been processed: ``release`` (if given) is called then, and ``wait()`` returns once everything queued has
    been processed. At most ``max_pending`` bytes wait at a time; ``submit`` blocks while more would. The first
    exception raised by ``apply`` stops the lane and is raised by the next ``submit()`` or ``wait()``. A lane
    may outlive the code that queued into it and is safe to use from one thread at a time. Lanes share the
    process's helper threads fairly: a busy lane gives its thread up after ``TURN`` pieces.
    """

    TURN = 16

    def __init__(self, apply: Callable[[Any, Any], None], *, max_pending: int) -> None:
        self._apply = apply
        self._max_pending = max_pending
        self._queue: deque[tuple[Any, Any, Callable[[], None] | None]] = deque()
        self._pending = 0
        self._running = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    def submit(self, data: bytes | bytearray | memoryview, context: Any = None,
               release: Callable[[], None] | None = None) -> None:
        with self._changed:
            while self._pending and self._pending + len(data) > self._max_pending and self._error is None:
                self._changed.wait()
            self._raise_error()
            self._queue.append((data, context, release))
            self._pending += len(data)
            if not self._running:
                self._running = True
                _executor().submit(self._drain)

    def _drain(self) -> None:
        for _ in range(self.TURN):
            with self._changed:
                if not self._queue or self._error is not None:
                    self._running = False
                    self._changed.notify_all()
                    return
                data, context, release = self._queue[0]
            try:
                self._apply(data, context)
            except BaseException as exc:
                self._stop(exc)
                return
            with self._changed:
                self._queue.popleft()
                self._pending -= len(data)
                self._changed.notify_all()
            if release is not None:
                release()
        try:
            _executor().submit(self._drain)  # more may be queued: go on after the other lanes waiting for a thread
        except RuntimeError as exc:  # the interpreter is shutting down: tell waiters instead of leaving them hanging
            self._stop(exc)

    def _stop(self, error: BaseException) -> None:
        """Stop the lane; the next submit() or wait() raises ``error``."""
        with self._changed:
            self._error = error
            self._running = False
            self._changed.notify_all()

    def wait(self) -> None:
        """Return once everything queued so far has been processed (raise what ``apply`` raised, if it failed)."""
        with self._changed:
            while self._running:
                self._changed.wait()
            self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


_executor_lock = threading.Lock()
_shared_executor: ThreadPoolExecutor | None = None
_fork_hook_registered = False


def _executor() -> ThreadPoolExecutor:
    """The process's helper threads, started on first use (so never in a process that forks workers later)."""
    global _shared_executor, _fork_hook_registered
    with _executor_lock:
        if _shared_executor is None:
            _shared_executor = ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 4),
                                                  thread_name_prefix="lane")
            if not _fork_hook_registered:
                os.register_at_fork(after_in_child=_forget_executor)
                _fork_hook_registered = True
        return _shared_executor


def _forget_executor() -> None:
    global _shared_executor, _executor_lock
    _shared_executor = None  # a forked child has none of the parent's threads
    _executor_lock = threading.Lock()
