"""Work on native helper threads, also under gevent: ordered pieces of a stream (hashing), and blocking calls."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from gevent import monkey
from gevent.threadpool import ThreadPoolExecutor as GeventThreadPoolExecutor

__all__ = ["OrderedLane", "cooperative", "run_blocking"]

T = TypeVar("T")

# The operating system's lock and thread id, even where gevent has patched threading.
_native_lock = monkey.get_original("threading", "Lock")
_native_thread_id = monkey.get_original("threading", "get_ident")


def cooperative() -> bool:
    """True in a process whose threads gevent has patched into greenlets (gunicorn's gevent worker): there, a
    blocking call stalls every request of the process, and "threads" from ``threading`` never run in parallel."""
    return monkey.is_module_patched("threading")


def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` where it holds up no one: on a native helper thread while the calling greenlet waits
    (under gevent), else right here. For calls that block in the kernel or in C without the GIL: fsync, hashing
    or copying a whole file, password hashing. The function must not touch gevent objects (sockets, locks)."""
    if not cooperative() or not _on_loop_thread():
        return function(*args)
    return _executor().submit(function, *args).result()


def _on_loop_thread() -> bool:
    """False on a helper thread under gevent: helpers cannot hand work to the pool, they just do it."""
    executor = _executor()
    return not isinstance(executor, GeventThreadPoolExecutor) or _native_thread_id() == _loop_thread


class OrderedLane:
    """Runs ``apply(data, context)`` for queued pieces in order, on native helper threads, beside the caller.

    Meant for work that releases the GIL on large buffers (hashlib does), so the caller goes on receiving while
    another core works through what it received. The caller must not change ``data`` until it has been
    processed: ``release`` (if given) is called then, on whichever thread processed it, so it must be safe from
    any thread and take no gevent lock (a deque append is). ``wait()`` returns once everything queued has been
    processed. At most ``max_pending`` bytes wait at a time; ``submit`` waits while more would. The first
    exception raised by ``apply`` stops the lane and is raised by the next ``submit()`` or ``wait()``.

    A lane is used from one thread or greenlet at a time. Each queued piece starts a helper task that processes
    whatever is queued under the lane's own lock, so pieces are processed once, in order, and none waits for a
    later ``submit``; the caller waits only on those tasks' futures, which gevent's native thread pool lets a
    greenlet wait on without blocking the others. A small piece with nothing ahead of it is processed at once,
    on the caller: handing it over would cost more than the work.
    """

    INLINE_BYTES = 64 * 1024

    def __init__(self, apply: Callable[[Any, Any], None], *, max_pending: int) -> None:
        self._apply = apply
        self._max_pending = max_pending
        self._queue: deque[tuple[Any, Any, Callable[[], None] | None]] = deque()
        self._lock = _native_lock()
        self._submitted = 0                # bytes queued so far (written by the caller only)
        self._processed = 0                # bytes processed so far (written under self._lock only)
        self._tasks: deque[Future[None]] = deque()  # helper tasks not yet seen finished
        self._error: BaseException | None = None

    def submit(self, data: bytes | bytearray | memoryview, context: Any = None,
               release: Callable[[], None] | None = None) -> None:
        self._raise_error()
        while self._tasks and self._tasks[0].done():
            self._tasks.popleft()
        if (self._processed == self._submitted and len(data) <= self.INLINE_BYTES) or not _on_loop_thread():
            self._run_inline(data, context, release)
            return
        while self._tasks and self._submitted - self._processed + len(data) > self._max_pending:
            self._wait_for_oldest()
        self._queue.append((data, context, release))
        self._submitted += len(data)
        self._tasks.append(_executor().submit(self._drain))

    def wait(self) -> None:
        """Return once everything queued so far has been processed (raise what ``apply`` raised, if it failed)."""
        while self._tasks:
            self._wait_for_oldest()
        self._raise_error()

    def _run_inline(self, data: Any, context: Any, release: Callable[[], None] | None) -> None:
        try:
            self._apply(data, context)
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._submitted += len(data)
            self._processed += len(data)
            if release is not None:
                release()

    def _wait_for_oldest(self) -> None:
        self._tasks.popleft().result()  # a task never raises: failures are kept in self._error
        self._raise_error()

    def _drain(self) -> None:
        """On a helper thread: process what is queued, in order (a task started later finds it done)."""
        with self._lock:
            while self._queue:
                data, context, release = self._queue.popleft()
                if self._error is None:
                    try:
                        self._apply(data, context)
                    except BaseException as exc:
                        self._error = exc
                self._processed += len(data)
                if release is not None:
                    release()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


_executor_lock = _native_lock()
_shared_executor: ThreadPoolExecutor | None = None
_loop_thread: int | None = None  # the thread that made the executor: under gevent, the event loop's
_fork_hook_registered = False


def _executor() -> ThreadPoolExecutor:
    """The process's native helper threads, started on first use (so never in a process that forks workers
    later): gevent's pool of real threads, whose futures a greenlet waits on cooperatively, where gevent has
    patched threading; the standard one elsewhere."""
    global _shared_executor, _loop_thread, _fork_hook_registered
    with _executor_lock:
        if _shared_executor is None:
            _loop_thread = _native_thread_id()
            size = min(16, (os.cpu_count() or 2) * 4)
            _shared_executor = (GeventThreadPoolExecutor(size) if cooperative()
                                else ThreadPoolExecutor(max_workers=size, thread_name_prefix="lane"))
            if not _fork_hook_registered:
                os.register_at_fork(after_in_child=_forget_executor)
                _fork_hook_registered = True
        return _shared_executor


def _forget_executor() -> None:
    global _shared_executor, _loop_thread, _executor_lock
    _shared_executor = _loop_thread = None  # a forked child has none of the parent's threads
    _executor_lock = _native_lock()
