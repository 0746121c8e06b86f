"""Page plumbing: the worker threads a landing starts, and when."""

from __future__ import annotations

import queue
import threading

import pytest

from airflow_provider_intervals.storage import pages


def _queue(items):
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    return todo


def _work(todo, done, gate=None, ran=None):
    """Take items until none is left, noting which client took each; wait at ``gate`` first."""

    def work(client):
        if ran is not None:
            ran.append(client)
        if gate is not None:
            gate.wait(timeout=10)
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            done.append((client, item))

    return work


def test_without_more_every_client_starts_at_once():
    todo, done, gate = _queue(range(40)), [], threading.Barrier(3)
    pages.run_in_threads(_work(todo, done, gate), ["a", "b", "c"], threading.Event())
    assert sorted(item for _, item in done) == list(range(40))  # the barrier needed all three


def test_a_client_starts_only_when_more_says_so():
    todo, done, asked, ran, started = _queue(range(40)), [], [], [], threading.Event()

    def more(running):
        asked.append(running)
        yes = len(asked) >= 3 and running < 2
        if yes:
            started.set()  # the workers hold their items until then
        return yes

    pages.run_in_threads(_work(todo, done, started, ran), ["a", "b", "c"], threading.Event(), more=more)
    assert sorted(item for _, item in done) == list(range(40))
    assert asked[:3] == [1, 1, 1]  # asked again, with one running, until it said yes
    assert sorted(ran) == ["a", "b"]  # "c" never started: more said no with two running


def test_no_client_starts_when_no_work_is_pending():
    todo, done, ran = _queue(range(5)), [], []
    pages.run_in_threads(
        _work(todo, done, ran=ran),
        ["a", "b"],
        threading.Event(),
        more=lambda running: True,
        pending=lambda: False,
    )
    assert ran == ["a"]
    assert [client for client, _ in done] == ["a"] * 5


def test_the_first_failure_is_raised_after_every_started_worker_ended():
    ended = []

    def work(client):
        ended.append(client)
        if client == "a":
            raise ValueError("stream a failed")

    with pytest.raises(ValueError, match="stream a failed"):
        pages.run_in_threads(work, ["a", "b"], threading.Event())
    assert sorted(ended) == ["a", "b"]
