"""The breaker from both sides: what Python reports, haderctl sees, and
what haderctl does, Python obeys. Real redis-server, real haderctl."""

from __future__ import annotations

import asyncio
import json
import math
import os

import pytest

from conftest import run

from haderos_resilience import (CircuitBreakerOpenException, _core, circuit_breaker, get_breaker_status)
from haderos_resilience.circuit_breaker import CircuitBreaker


class Boom(Exception):
    pass


async def fail(b: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Boom):
            async with b:
                raise Boom("HTTP 503")


def status(haderctl, name):
    return haderctl.json("breaker", "status", name)["circuit_breakers"][name]


def admitted(b: CircuitBreaker) -> bool:
    """Whether the breaker admits a call now (the call then succeeds)."""
    async def once():
        try:
            async with b:
                return True
        except CircuitBreakerOpenException:
            return False
    return run(once())


def test_three_failures_from_python_open_the_breaker_haderctl_sees(client, haderctl):
    b = circuit_breaker("aramex")
    run(fail(b, 2))
    assert status(haderctl, "aramex")["state"] == "closed"
    assert status(haderctl, "aramex")["failure_count"] == 2
    run(fail(b, 1))
    st = status(haderctl, "aramex")
    assert st["state"] == "open"
    assert st["failure_count"] == 3
    # the registry holds it, as haderctl's own callers register theirs
    assert "aramex" in haderctl("breaker", "status").stdout
    ex = haderctl("breaker", "exec", "aramex", "--", "true", check=False)
    assert ex.returncode == 75, ex.stderr
    assert "open" in ex.stderr


def test_a_breaker_haderctl_trips_refuses_python_until_reset(client, haderctl):
    b = circuit_breaker("aramex")

    async def call():
        async with b:
            return "called"
    assert run(call()) == "called"  # in use: haderctl knows the name
    haderctl("breaker", "trip", "aramex", "--reason", "drill")
    with pytest.raises(CircuitBreakerOpenException) as e:
        run(call())
    assert e.value.name == "aramex"
    assert e.value.state == "forced_open"
    assert e.value.retry_after_seconds == math.inf
    assert "haderctl breaker reset aramex" in str(e.value)
    haderctl("breaker", "reset", "aramex", "--reason", "drill over")
    assert run(call()) == "called"


def test_failures_haderctl_records_open_the_breaker_for_python(client, haderctl):
    for _ in range(3):
        haderctl("breaker", "record", "shopify", "failure")
    b = circuit_breaker("shopify")
    with pytest.raises(CircuitBreakerOpenException) as e:
        run(b.acquire())
    assert e.value.state == "open"
    # the recovery time left: above 0 and at most the 120 s default
    assert 0 < e.value.retry_after_seconds <= 120
    assert "next probe in" in str(e.value)


def test_settings_haderctl_configures_are_the_ones_python_follows(client, haderctl):
    # Python's own seed is 3 failures; the stored setting says 5
    haderctl("breaker", "record", "erp", "success")  # the breaker exists with haderctl's defaults
    haderctl("breaker", "configure", "erp", "--failure-threshold", "5", "--reason", "flaky ERP")
    b = circuit_breaker("erp", failure_threshold=3)
    run(fail(b, 4))
    assert status(haderctl, "erp")["state"] == "closed"
    assert b.shared.failure_threshold == 5
    run(fail(b, 1))
    assert status(haderctl, "erp")["state"] == "open"
    # the seed did not overwrite what is stored
    assert status(haderctl, "erp")["settings"]["failure_threshold"] == 5


def test_a_new_breaker_is_seeded_with_pythons_own_settings(client, haderctl, monkeypatch):
    monkeypatch.setenv("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "90s")
    b = circuit_breaker("smsa", success_threshold=3)
    run(fail(b, 2))
    st = status(haderctl, "smsa")
    assert st["state"] == "open"
    assert st["settings"]["failure_threshold"] == 2
    assert st["settings"]["recovery_timeout"] == "1m30s"
    assert st["settings"]["success_threshold"] == 3
    assert st["settings_stored"] is True


def test_probes_after_recovery_close_the_breaker_on_the_stored_settings(client, haderctl, poll):
    b = circuit_breaker("aramex")
    run(fail(b, 3))
    haderctl("breaker", "configure", "aramex", "--recovery-timeout", "200ms", "--success-threshold", "1",
             "--max-probes", "1", "--reason", "test recovers fast")
    # the stored 200 ms, not Python's own 120 s, decides when it probes
    poll(lambda: admitted(b), "the breaker to admit a probe")
    assert status(haderctl, "aramex")["state"] == "closed"


def test_a_cancelled_call_is_neither_success_nor_failure(client, haderctl, poll, sync_redis, namespace):
    b = circuit_breaker("aramex")
    run(fail(b, 3))
    haderctl("breaker", "configure", "aramex", "--recovery-timeout", "100ms", "--success-threshold", "1",
             "--max-probes", "1", "--reason", "test")
    keys = _core.Keys(namespace)

    async def cancelled_probe():
        holding = asyncio.Event()

        async def probe():
            async with b:
                holding.set()
                await asyncio.Event().wait()  # the call hangs until cancelled

        # acquire until the recovery time has passed and a probe is admitted
        while True:
            t = asyncio.ensure_future(probe())
            done = asyncio.ensure_future(holding.wait())
            await asyncio.wait([t, done], return_when=asyncio.FIRST_COMPLETED)
            if holding.is_set():
                break
            done.cancel()
            assert isinstance(t.exception(), CircuitBreakerOpenException)
            await asyncio.sleep(0.02)  # poll interval of the retry loop, not synchronisation
        assert await _core.get_redis().zcard(keys.breaker_probes("aramex")) == 1
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    run(asyncio.wait_for(cancelled_probe(), 20))
    # the slot is free at once (not when its 30 s lease ends), the breaker
    # stays half-open and the failure count is the one before
    assert sync_redis.zcard(keys.breaker_probes("aramex")) == 0
    st = status(haderctl, "aramex")
    assert st["state"] == "half_open"
    assert st["failure_count"] == 3
    assert st["success_count"] == 0
    # the freed slot admits the next probe, whose success closes it
    assert admitted(b)
    assert status(haderctl, "aramex")["state"] == "closed"


def test_a_result_from_before_a_reset_is_discarded(client, haderctl):
    b = circuit_breaker("aramex")
    run(fail(b, 1))

    async def call_spanning_a_reset():
        async with b:
            # an operator resets the breaker while the call runs: a new
            # generation, so the call's failure is stale
            proc = await asyncio.create_subprocess_exec(
                haderctl.binary, "breaker", "reset", "aramex", "--reason", "test", env=haderctl.env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            assert await proc.wait() == 0
            raise Boom("late failure")
    with pytest.raises(Boom):
        run(call_spanning_a_reset())
    st = status(haderctl, "aramex")
    assert st["state"] == "closed"
    assert st["failure_count"] == 0


def test_a_long_probe_keeps_its_slot_by_renewing_the_lease(client, haderctl, poll, sync_redis, namespace):
    b = circuit_breaker("aramex")
    run(fail(b, 3))
    haderctl("breaker", "configure", "aramex", "--recovery-timeout", "1ms", "--probe-lease", "300ms",
             "--success-threshold", "1", "--max-probes", "1", "--reason", "test")
    key = _core.Keys(namespace).breaker_probes("aramex")

    async def long_probe():
        async with b:
            first = (await _core.get_redis().zrange(key, 0, -1, withscores=True))[0][1]
            # the lease is pushed out while the call runs past it
            while True:
                got = await _core.get_redis().zrange(key, 0, -1, withscores=True)
                if got and got[0][1] > first + 300:
                    return
                await asyncio.sleep(0.02)  # poll interval
    run(asyncio.wait_for(long_probe(), 20))
    assert status(haderctl, "aramex")["state"] == "closed"
    assert sync_redis.zcard(key) == 0


def test_a_probe_ending_lets_its_lease_renewal_in_flight_finish(held_redis, haderctl):
    # the renewer stops between Redis calls, not by cancellation: redis-py
    # 4.3.4 can swallow one landing while a command waits for its reply,
    # and a renewer that never ends holds the probe slot for good
    b = circuit_breaker("aramex")
    run(fail(b, 3))
    haderctl("breaker", "configure", "aramex", "--recovery-timeout", "1ms", "--probe-lease", "300ms",
             "--success-threshold", "1", "--max-probes", "1", "--reason", "test")

    async def main():
        try:
            a = await b.acquire()
            assert a.token, "not admitted as the half-open probe"
            renewer = a.renewer
            await held_redis.hold_next_command("the lease renewal")
            finishing = asyncio.ensure_future(b.finish(a, True))
            await held_redis.let_the_loop_run()  # finish stops the renewer first
            assert not renewer.done(), "finish cut off the renewal waiting for its reply"
            held_redis.release()
            await asyncio.wait_for(finishing, 20)
            await asyncio.wait_for(renewer, 20)
            await held_redis.assert_in_step(_core.get_redis())
        finally:
            held_redis.release()
            await _core.close()

    asyncio.run(main())
    assert status(haderctl, "aramex")["state"] == "closed"


def test_the_decorator_counts_outcomes(client, haderctl):
    calls = []

    @circuit_breaker("twilio")
    async def send_sms(to, ok):
        calls.append(to)
        if not ok:
            raise Boom("HTTP 500")
        return "sent"

    assert run(send_sms("+966500000001", True)) == "sent"
    for _ in range(3):
        with pytest.raises(Boom):
            run(send_sms("+966500000002", False))
    with pytest.raises(CircuitBreakerOpenException):
        run(send_sms("+966500000003", True))
    assert calls == ["+966500000001"] + ["+966500000002"] * 3
    assert status(haderctl, "twilio")["state"] == "open"


def test_the_decorator_refuses_a_plain_function(client):
    with pytest.raises(TypeError, match="async function"):
        circuit_breaker("twilio")(lambda: None)


def test_get_breaker_status_is_haderctls_monitoring_entry(client, haderctl):
    b = circuit_breaker("aramex")
    run(fail(b, 2))
    ours = run(get_breaker_status("aramex"))
    theirs = status(haderctl, "aramex")
    # the time since the last failure is read at each side's moment
    assert ours.pop("time_since_last_failure") >= 0
    theirs.pop("time_since_last_failure")
    assert ours == theirs
    run(fail(b, 1))
    ours = run(get_breaker_status("aramex"))
    assert ours["state"] == "open"
    assert ours["should_attempt_reset"] is False


@pytest.mark.parametrize("kwargs,message", [
    ({"failure_threshold": 0}, "failure_threshold"),
    ({"recovery_timeout": 0}, "recovery_timeout"),
    ({"success_threshold": 3, "max_probes": 2}, "max_probes"),
    ({"redis_unavailable": "maybe"}, "redis_unavailable"),
])
def test_bad_settings_are_refused_naming_the_field(client, kwargs, message):
    with pytest.raises(ValueError, match=message):
        circuit_breaker("aramex", **kwargs)


def test_a_bad_name_is_refused(client):
    with pytest.raises(ValueError, match="invalid breaker name"):
        circuit_breaker("bad {name}")


def test_a_bad_environment_value_is_refused_naming_the_variable(client, monkeypatch):
    monkeypatch.setenv("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CIRCUIT_BREAKER_RECOVERY_TIMEOUT"):
        circuit_breaker("aramex")


def test_a_corrupt_breaker_is_refused_until_haderctl_resets_it(client, haderctl, sync_redis, namespace):
    from haderos_resilience import BreakerCorruptError
    b = circuit_breaker("aramex")
    run(fail(b, 1))
    sync_redis.hset(_core.Keys(namespace).breaker("aramex"), "state", "sideways")
    with pytest.raises(BreakerCorruptError, match="haderctl breaker reset aramex"):
        run(b.acquire())
    haderctl("breaker", "reset", "aramex", "--reason", "repair")
    assert admitted(b)


def test_the_calls_own_result_wins_over_a_failed_report(client, sync_redis, namespace, caplog):
    b = circuit_breaker("aramex")
    run(fail(b, 1))  # a failure on record: the next success is reported

    async def call():
        async with b:
            sync_redis.hset(_core.Keys(namespace).breaker("aramex"), "failures", "lots")
            return "answered"
    assert run(call()) == "answered"
    assert any("recording an outcome failed" in r.getMessage() for r in caplog.records)


def test_haderctl_breaker_events_names_the_python_process(client, haderctl):
    import getpass
    import json
    import os
    import socket
    run(fail(circuit_breaker("aramex"), 3))
    events = [json.loads(line) for line in haderctl("breaker", "events", "aramex", "-o", "json").stdout.splitlines()]
    opened = [e for e in events if e["to"] == "open"]
    assert len(opened) == 1
    e = opened[0]
    assert (e["from"], e["reason"], e["failures"]) == ("closed", "3 consecutive failures", 3)
    assert (e["host"], e["pid"], e["user"]) == (socket.gethostname(), os.getpid(), getpass.getuser())


def test_while_redis_is_unreachable_an_in_memory_breaker_opens(client, namespace, tmp_path, poll):
    from conftest import start_redis
    import haderos_resilience
    from haderos_resilience import _local
    proc, port = start_redis(tmp_path)
    haderos_resilience.configure(redis_url=f"redis://127.0.0.1:{port}/0", namespace=namespace)
    b = circuit_breaker("aramex")
    try:
        assert admitted(b)
        proc.terminate()
        proc.wait(timeout=10)
        run(fail(b, 3))
        with pytest.raises(CircuitBreakerOpenException) as e:
            run(b.acquire())
        assert e.value.in_memory and e.value.state == "open"
        assert 0 < e.value.retry_after_seconds <= 120
        assert "in memory" in str(e.value)
        # Redis back (empty: it never heard of the failures): its closed
        # breaker wins and the in-memory one is dropped
        proc, _ = start_redis(tmp_path, port=port)
        poll(lambda: admitted(b), "Redis' closed breaker to admit the call again")
        assert _local.outage.breakers == {}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_process_that_ran_in_memory_reports_it_once_redis_is_back(client, haderctl, namespace, tmp_path, poll):
    from conftest import start_redis
    import haderos_resilience
    from haderos_resilience import _local
    proc, port = start_redis(tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    haderos_resilience.configure(redis_url=url, namespace=namespace)
    b = circuit_breaker("aramex")
    try:
        assert admitted(b)
        proc.terminate()
        proc.wait(timeout=10)
        run(fail(b, 2))  # answered in memory: two calls
        assert _local.outage.breakers, "the calls did not fall back to an in-memory breaker"
        proc, _ = start_redis(tmp_path, port=port)
        poll(lambda: admitted(b) and not _local.outage.breakers, "a call admitted by Redis again")
        here = {"REDIS_URL": url}  # the test's own redis-server, not the session's
        st = haderctl.json("breaker", "status", "aramex", env=here)["circuit_breakers"]["aramex"]
        assert st["fallback_reporters"] == 1, st
        events = [json.loads(line) for line in haderctl("breaker", "events", "aramex", "-o", "json", env=here).stdout.splitlines()]
        reported = [e for e in events if e.get("action") == "fallback"]
        assert len(reported) == 1, events
        assert "ran on its in-memory breaker" in reported[0]["reason"], reported[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_while_redis_is_unreachable_deny_refuses_every_call(client, namespace):
    from conftest import free_port
    import haderos_resilience
    haderos_resilience.configure(redis_url=f"redis://127.0.0.1:{free_port()}/0", namespace=namespace)
    with pytest.raises(CircuitBreakerOpenException) as e:
        run(circuit_breaker("aramex", redis_unavailable="deny").acquire())
    assert e.value.redis_down
    assert "redis_unavailable: deny" in str(e.value)


def test_the_in_memory_breaker_follows_the_scripts_rules():
    from haderos_resilience._local import LocalBreaker
    clock = [1000.0]
    lb = LocalBreaker(failure_threshold=2, success_threshold=2, recovery_timeout=10, max_probes=2, probe_lease=30,
                      now=lambda: clock[0])
    gen, probe, refused = lb.allow()
    assert (probe, refused) == (False, None)
    lb.record(gen, False, False)
    lb.record(gen, False, True)  # a success clears the run of failures
    lb.record(gen, False, False)
    assert lb.state == "closed"
    lb.record(gen, False, False)
    assert lb.state == "open"
    lb.record(gen, False, False)  # stale: admitted before it opened
    assert lb.failures == 2 and lb.generation == gen + 1  # not 3
    assert lb.allow()[2] == ("open", 10)
    clock[0] += 10
    g1, p1, _ = lb.allow()
    g2, p2, _ = lb.allow()
    assert lb.state == "half_open" and p1 and p2
    assert lb.allow()[2] == ("half_open", 30)  # both probe slots taken
    lb.release(g2, p2)  # given back without an outcome
    g3, p3, _ = lb.allow()
    lb.record(g1, p1, True)
    lb.record(g3, p3, True)
    assert lb.state == "closed"
    g, _, _ = lb.allow()
    lb.record(g, False, False)
    lb.record(g, False, False)
    clock[0] += 10
    g, p, _ = lb.allow()
    lb.record(g, p, False)  # a failing probe reopens it
    assert lb.state == "open" and lb.opened_at == clock[0]


def test_min_reporters_counts_the_python_process_as_one_reporter(client, haderctl):
    b = circuit_breaker("aramex")
    assert admitted(b)
    haderctl("breaker", "configure", "aramex", "--min-reporters", "2", "--reason", "one path must not open it")
    run(fail(b, 4))
    st = status(haderctl, "aramex")
    assert (st["state"], st["failure_count"], st["reporters"]) == ("closed", 4, 1)
    # a second process (haderctl itself) failing too opens it
    haderctl("breaker", "record", "aramex", "failure")
    st = status(haderctl, "aramex")
    assert (st["state"], st["failure_count"]) == ("open", 5)
