"""The model thread's queue: finals overtake queued interims, cancelled calls never run."""

from __future__ import annotations

import threading

import pytest

from agent.models.executor import BACKGROUND, URGENT, PriorityExecutor


def _blocked() -> tuple[PriorityExecutor, threading.Event]:
    executor = PriorityExecutor("test")
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(10)

    executor.submit(hold)
    assert started.wait(10)
    return executor, release


def test_urgent_calls_overtake_queued_background_calls() -> None:
    executor, release = _blocked()
    order: list[str] = []
    futures = [
        executor.submit_with_priority(BACKGROUND, order.append, "interim-a"),
        executor.submit_with_priority(BACKGROUND, order.append, "interim-b"),
        executor.submit_with_priority(URGENT, order.append, "final-c"),
        executor.submit_with_priority(URGENT, order.append, "final-d"),
    ]
    assert executor.queued == 4
    release.set()
    for future in futures:
        future.result(10)
    assert order == ["final-c", "final-d", "interim-a", "interim-b"]
    executor.shutdown()


def test_a_call_cancelled_while_queued_never_runs() -> None:
    executor, release = _blocked()
    ran: list[int] = []
    skipped = executor.submit_with_priority(BACKGROUND, ran.append, 1)
    kept = executor.submit(ran.append, 2)
    assert skipped.cancel()
    release.set()
    kept.result(10)
    executor.shutdown()
    assert ran == [2]


def test_errors_reach_the_caller_and_shutdown_refuses_new_work() -> None:
    executor = PriorityExecutor("test")

    def boom() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        executor.submit(boom).result(10)
    executor.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        executor.submit(print)


def test_shutdown_can_cancel_what_is_queued() -> None:
    executor, release = _blocked()
    queued = executor.submit(print, "never")
    executor.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert queued.cancelled()


def test_busy_while_a_call_runs_or_waits() -> None:
    executor = PriorityExecutor("test")
    assert not executor.busy
    executor_blocked, release = _blocked()
    assert executor_blocked.busy  # running, nothing queued
    assert executor_blocked.queued == 0
    release.set()
    executor_blocked.submit(print, end="").result(10)
    executor_blocked.shutdown()
    executor.shutdown()


def test_two_workers_run_two_calls_at_once() -> None:
    executor = PriorityExecutor("test", workers=2)
    both = threading.Barrier(2, timeout=10)  # only passes when two calls run at the same time
    futures = [executor.submit(both.wait) for _ in range(2)]
    assert sorted(f.result(10) for f in futures) == [0, 1]
    executor.shutdown()
    with pytest.raises(ValueError, match="at least 1"):
        PriorityExecutor("test", workers=0)
