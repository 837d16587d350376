"""A small executor (one thread by default) that runs the most urgent call first.

One model instance serves every room, on its own thread or threads (native libraries tie state to
their thread; CTranslate2's Whisper can serve several threads at once).
With a plain FIFO, four rooms' interim transcriptions queued in front of one room's final transcript
and that room waited seconds for its reply. Here a final (priority 0) overtakes queued interims
(priority 1); equal priorities keep their arrival order.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

URGENT = 0
BACKGROUND = 1

_Item = tuple[int, int, "Future[Any] | None", "Callable[..., Any] | None", tuple[Any, ...]]


class PriorityExecutor(Executor):
    def __init__(self, thread_name: str, *, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        self._order = itertools.count()
        self._shutdown = False
        self._running = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name}-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def queued(self) -> int:
        """Calls waiting (not the one running)."""
        return self._queue.qsize()

    @property
    def busy(self) -> bool:
        """A call is running or waiting: optional work (interim captions) is spaced by this."""
        return self._running > 0 or self._queue.qsize() > 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if kwargs:
            return self.submit_with_priority(URGENT, lambda: fn(*args, **kwargs))
        return self.submit_with_priority(URGENT, fn, *args)

    def submit_with_priority(self, priority: int, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._queue.put((priority, next(self._order), future, fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        _, _, future, _, _ = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if future is not None:
                        future.cancel()
            # Sort after every real call, so queued work (when not cancelled) still runs first.
            for _ in self._threads:
                self._queue.put((BACKGROUND + 1, next(self._order), None, None, ()))
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()

    def _work(self) -> None:
        while True:
            _, _, future, fn, args = self._queue.get()
            if future is None or fn is None:
                return
            # False when the caller cancelled while it waited: skip it without running.
            if not future.set_running_or_notify_cancel():
                continue
            with self._lock:
                self._running += 1
            try:
                result = fn(*args)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                with self._lock:
                    self._running -= 1
