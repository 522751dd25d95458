"""Work shared by a server's visitors: a map asked for by many is computed once, in a niced worker, one heavy map
at a time, and a page can yield the CPU for a while."""

import os
import threading

import numpy as np
import pytest

from aecore import cpu, projection

WAIT = 60  # seconds a test waits for another thread before it fails (never reached when all is well)


@pytest.fixture
def flights(tmp_path, monkeypatch):
    """An empty cache, one heavy slot, and a t-SNE that counts its calls and holds until released."""
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(projection, "FLIGHTS", cpu.SingleFlight(threading.BoundedSemaphore(1)))
    state = {"calls": [], "entered": threading.Event(), "release": threading.Event(), "nice": []}
    real = projection.reduce

    def reduce(codes, method, settings, on_progress=None):
        if method != "tsne":
            return real(codes, method, settings, on_progress)
        state["calls"].append(len(codes))
        state["nice"].append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        on_progress(0.5, "t-SNE: halfway")
        state["entered"].set()
        assert state["release"].wait(WAIT)
        if len(codes) == 13:
            raise ValueError("no map of 13 codes")
        return codes[:, :2] * 2

    monkeypatch.setattr(projection, "reduce", reduce)
    return state


def in_thread(fn, *args, **kwargs):
    out = {}

    def run():
        try:
            out["value"] = fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def codes(n=50, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 5)).astype(np.float32)


def test_two_visitors_asking_for_the_same_map_compute_it_once(flights):
    z = codes()
    first, a = in_thread(projection.project_codes, z, "sha", "mnist", "tsne")
    assert flights["entered"].wait(WAIT)
    joined = threading.Event()
    heard = []

    def hear(fraction, message):
        heard.append(message)
        joined.set()

    second, b = in_thread(projection.project_codes, z, "sha", "mnist", "tsne", on_progress=hear)
    assert joined.wait(WAIT)  # the second caller waits on the first one's computation, and hears its progress
    flights["release"].set()
    first.join(WAIT), second.join(WAIT)
    assert flights["calls"] == [50]
    np.testing.assert_array_equal(a["value"].coords, b["value"].coords)
    assert heard[0] == "t-SNE: halfway" and heard[-1].startswith("t-SNE done")
    assert projection.project_codes(z, "sha", "mnist", "tsne").cached == "cache"  # and stored for whoever is next
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert flights["nice"][0] >= min(19, main + cpu.NICE_STEP)  # computed in a niced worker


def test_other_maps_wait_their_turn_and_say_so(flights):
    first, _ = in_thread(projection.project_codes, codes(), "sha", "mnist", "tsne")
    assert flights["entered"].wait(WAIT)
    waiting = threading.Event()
    heard = []

    def hear(fraction, message):
        heard.append(message)
        waiting.set()

    second, b = in_thread(projection.project_codes, codes(60), "sha", "mnist", "tsne", on_progress=hear)
    assert waiting.wait(WAIT)
    assert heard == ["waiting for another map to finish before this t-SNE map starts…"]
    assert flights["calls"] == [50]  # the second map has not started
    pca = projection.project_codes(codes(70), "sha", "mnist", "pca")  # a cheap map never queues
    assert pca.coords.shape == (70, 2)
    flights["release"].set()
    first.join(WAIT), second.join(WAIT)
    assert flights["calls"] == [50, 60] and b["value"].coords.shape == (60, 2)


def test_a_failed_map_fails_for_every_waiter_and_is_tried_again_next_time(flights):
    z = codes(13)
    first, a = in_thread(projection.project_codes, z, "sha", "mnist", "tsne")
    assert flights["entered"].wait(WAIT)
    joined = threading.Event()
    second, b = in_thread(projection.project_codes, z, "sha", "mnist", "tsne", on_progress=lambda f, m: joined.set())
    assert joined.wait(WAIT)
    flights["release"].set()
    first.join(WAIT), second.join(WAIT)
    assert str(a["error"]) == str(b["error"]) == "no map of 13 codes"
    with pytest.raises(ValueError):
        projection.project_codes(z, "sha", "mnist", "tsne")
    assert flights["calls"] == [13, 13] and projection.FLIGHTS.running() == 0


def test_yielding_cpu_gives_the_priority_back_or_leaves_it_alone(monkeypatch):
    tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, tid)
    with cpu.yielding_cpu() as nice:
        if nice is not None:  # allowed to restore here (root, or CAP_SYS_NICE)
            assert os.getpriority(os.PRIO_PROCESS, tid) == nice > before
    assert os.getpriority(os.PRIO_PROCESS, tid) == before
    monkeypatch.setattr(cpu, "_may_lower_nice_to", lambda value: False)  # an unprivileged server
    with cpu.yielding_cpu() as nice:
        assert nice is None and os.getpriority(os.PRIO_PROCESS, tid) == before
