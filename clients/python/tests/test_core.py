"""What every part shares: the schema rule, the keys, Go's encodings, and
secrets kept out of every message."""

from __future__ import annotations

import asyncio
import logging

import pytest

import haderos_resilience
from haderos_resilience import (CircuitBreakerOpenException, LocalQueueFallback, RedisUnavailableError, SchemaError,
                                _core, circuit_breaker, get_breaker_status)

from conftest import free_port, run, start_redis


def keys_in(sync_redis, namespace):
    return sorted(sync_redis.scan_iter(namespace + ":*"))


async def fail_once(name):
    try:
        async with circuit_breaker(name):
            raise RuntimeError("HTTP 503")
    except RuntimeError:
        pass


# --- the schema ---------------------------------------------------------------

def test_a_new_namespace_is_claimed_at_the_first_write(client, sync_redis, namespace, haderctl):
    run(fail_once("aramex"))
    assert sync_redis.get(namespace + ":schema") == "3"
    # haderctl works with what Python claimed
    assert haderctl.json("breaker", "status", "aramex")["circuit_breakers"]["aramex"]["failure_count"] == 1


def test_reading_claims_nothing(client, sync_redis, namespace):
    st = run(get_breaker_status("aramex"))
    assert st["state"] == "closed" and st["settings_stored"] is False
    assert run(LocalQueueFallback().get_system_status())["queues"] == {}
    assert keys_in(sync_redis, namespace) == []


def test_a_breaker_in_a_newer_schema_is_refused_with_nothing_written(client, sync_redis, namespace):
    sync_redis.set(namespace + ":schema", "99")
    with pytest.raises(SchemaError, match=r"schema version '99', newer than this client's 3"):
        run(fail_once("aramex"))
    with pytest.raises(SchemaError):
        run(get_breaker_status("aramex"))
    assert keys_in(sync_redis, namespace) == [namespace + ":schema"]


@pytest.mark.parametrize("version", ["1", "2"])
def test_an_older_version_is_left_to_haderctls_upgrade(client, sync_redis, namespace, haderctl, version):
    sync_redis.set(namespace + ":schema", version)
    with pytest.raises(SchemaError, match=f"version {version}, older than this client's 3: run any haderctl"):
        run(fail_once("aramex"))
    assert keys_in(sync_redis, namespace) == [namespace + ":schema"]
    assert sync_redis.get(namespace + ":schema") == version
    haderctl("queue", "status")  # haderctl upgrades it in place
    assert sync_redis.get(namespace + ":schema") == "3"
    _core._schema_ok.clear()
    run(fail_once("aramex"))
    assert sync_redis.hget(_core.Keys(namespace).breaker("aramex"), "failures") == "1"


@pytest.mark.parametrize("setup,message", [
    (lambda r, k: r.set(k, "three"), "holds 'three', not a version number"),
    (lambda r, k: r.set(k, "0"), "holds '0', not a version number"),
    (lambda r, k: r.set(k, "+3"), r"holds '\+3', not a version number"),
    (lambda r, k: r.set(k, " 3"), "holds ' 3', not a version number"),
    (lambda r, k: r.set(k, ""), "holds '', not a version number"),
    (lambda r, k: r.rpush(k, "3"), "holds a list, not a string"),
])
def test_an_unreadable_version_is_refused(client, sync_redis, namespace, setup, message):
    setup(sync_redis, namespace + ":schema")
    with pytest.raises(SchemaError, match=message):
        run(LocalQueueFallback().queue_failed_operation(operation="op", data={}, service_name="erp",
                                                                error="e"))
    assert keys_in(sync_redis, namespace) == [namespace + ":schema"]


# --- keys and encodings ----------------------------------------------------------

def test_keys_are_haderctls():
    k = _core.Keys("hader")
    assert k.schema() == "hader:schema"
    assert k.breaker("aramex") == "hader:breaker:{aramex}"
    assert k.breaker_probes("aramex") == "hader:breaker:{aramex}:probes"
    assert k.breaker_reporters("aramex") == "hader:breaker:{aramex}:reporters"
    assert k.breaker_channel() == "hader:breaker:transitions"
    assert k.queue_ops("orders") == "hader:queue:{orders}:ops"
    assert k.queue_leases("orders") == "hader:queue:{orders}:lease"
    assert k.health_recent("erp") == "hader:health:{erp}:recent"
    assert k.chaos_experiment("x1") == "hader:{chaos}:exp:x1"
    assert k.chaos_channel() == "hader:chaos:changed"


@pytest.mark.parametrize("ns,text", [(0, "0s"), (1500, "1.5µs"), (250_000_000, "250ms"),
                                     (1_500_000_000, "1.5s"), (120 * 10**9, "2m0s"), (90 * 10**9, "1m30s"),
                                     (3600 * 10**9, "1h0m0s"), (-30 * 10**9, "-30s")])
def test_go_durations(ns, text):
    assert _core.go_duration(ns) == text


@pytest.mark.parametrize("text,seconds", [("90", 90), ("0.5", 0.5), ("2m", 120), ("1h30m", 5400),
                                          ("250ms", 0.25), ("1m30.5s", 90.5)])
def test_durations_read_as_haderctl_reads_them(text, seconds):
    assert _core.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", "", "5x", "m"])
def test_a_bad_duration_is_refused(bad):
    with pytest.raises(ValueError, match="not a duration"):
        _core.parse_duration(bad)


def test_bad_configuration_is_refused_naming_it(redis_url):
    with pytest.raises(ValueError, match="invalid namespace"):
        haderos_resilience.configure(redis_url=redis_url, namespace="has space")
    with pytest.raises(ValueError, match="unsupported Redis URL"):
        haderos_resilience.configure(redis_url="http://127.0.0.1:6379", namespace="x")


# --- secrets ------------------------------------------------------------------

PASSWORD = "s3cr3t-pw"


def test_a_password_never_appears_in_messages_or_reprs(namespace, caplog):
    caplog.set_level(logging.DEBUG, logger="haderos_resilience")
    dead = f"redis://oncall:{PASSWORD}@127.0.0.1:{free_port()}/0"
    s = haderos_resilience.configure(redis_url=dead, namespace=namespace)
    seen = [repr(s), str(s), repr(_core.settings())]
    with pytest.raises(RedisUnavailableError) as e:
        run(LocalQueueFallback().queue_failed_operation(operation="op", data={}, service_name="erp",
                                                                error="e"))
    seen += [str(e.value), repr(e.value)]
    assert "redis://oncall:***@127.0.0.1" in str(e.value)
    with pytest.raises(CircuitBreakerOpenException) as e2:
        run(circuit_breaker("aramex", redis_unavailable="deny").acquire())
    assert e2.value.redis_down
    seen += [str(e2.value), repr(e2.value)]
    with pytest.raises(RedisUnavailableError) as e3:
        run(get_breaker_status("aramex"))
    seen += [str(e3.value), repr(e3.value)]
    # allowed while Redis is away: admitted, with a warning that names no secret
    run(fail_once("aramex"))
    assert any("Redis unreachable" in r.getMessage() for r in caplog.records)
    seen += [r.getMessage() for r in caplog.records]
    with pytest.raises(ValueError) as e4:
        haderos_resilience.configure(redis_url=f"redis+sentinel://:{PASSWORD}@10.0.0.5:26379/mymaster")
    seen += [str(e4.value)]
    for text in seen:
        assert PASSWORD not in text, text
    haderos_resilience.configure(namespace="hader", redis_url="redis://127.0.0.1:6379/0")


def test_a_password_protected_redis_is_shared_with_haderctl(tmp_path, haderctl, namespace):
    proc, port = start_redis(tmp_path, "--requirepass", PASSWORD)
    try:
        url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
        haderos_resilience.configure(redis_url=url, namespace=namespace)
        for _ in range(3):
            run(fail_once("aramex"))
        env = _core.haderctl_env()
        assert env == {"REDIS_URL": url, "HADERCTL_NAMESPACE": namespace}
        p = haderctl("breaker", "status", "aramex", env=env)
        assert "open" in p.stdout
        assert PASSWORD not in p.stdout + p.stderr
        # a wrong password: refused, and neither password is in the message
        haderos_resilience.configure(redis_url=f"redis://:wrong-{PASSWORD}@127.0.0.1:{port}/0",
                                     namespace=namespace)
        with pytest.raises(RedisUnavailableError) as e:
            run(LocalQueueFallback().queue_failed_operation(operation="op", data={}, service_name="erp",
                                                                    error="e"))
        assert PASSWORD not in str(e.value) and PASSWORD not in repr(e.value)
    finally:
        haderos_resilience.configure(namespace="hader", redis_url="redis://127.0.0.1:6379/0")
        proc.terminate()
        proc.wait(timeout=10)


def test_a_client_made_where_a_dead_one_was_is_checked_afresh():
    # the memos of what a client did once (schema checked, breaker and
    # queue registered) must not carry over to a new client that got a
    # dead one's id(): after configure() with a wrong password that new
    # client skipped the schema check, and a refused AUTH surfaced as a
    # bare ResponseError (a CI run failed so)
    import redis.asyncio as aioredis
    seen, reused = {}, 0
    for _ in range(200):
        r = aioredis.from_url("redis://127.0.0.1:1/0")
        key, where = _core.client_key(r), id(r)
        assert _core.client_key(r) == key  # stable for the same client
        if where in seen:
            reused += 1
            assert seen[where] != key, "a new client at a dead one's address got its memo key"
        seen[where] = key
        del r
    assert reused, "no address was reused in 200 clients: the case this test is for did not arise"


# What Go's encoding/json writes for each float64, printed once by this
# program (go1, `go run`), json.Marshal of each value:
#     for _, f := range []float64{1, 0.3, 0.00001, 1e-6, 1e-7, 1.5e-7, 1e-10,
#         123456789e-20, 1e20, 1e21, 1.5e21, 1e300, -0.5, math.Copysign(0, -1),
#         0, 100, 2.5, 1234567.125, 5e-324, math.MaxFloat64} {
#         b, _ := json.Marshal(f); fmt.Printf("%v\t%s\n", f, b) }
GO_FLOATS = [(1.0, "1"), (0.3, "0.3"), (0.00001, "0.00001"), (1e-6, "0.000001"), (1e-7, "1e-7"),
             (1.5e-7, "1.5e-7"), (1e-10, "1e-10"), (123456789e-20, "1.23456789e-12"),
             (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e21, "1.5e+21"), (1e300, "1e+300"),
             (-0.5, "-0.5"), (-0.0, "-0"), (0.0, "0"), (100.0, "100"), (2.5, "2.5"),
             (1234567.125, "1234567.125"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308")]


@pytest.mark.parametrize("value,go", GO_FLOATS)
def test_floats_are_written_as_gos_encoding_json_writes_them(value, go):
    assert _core.go_float(value) == go
    assert _core.go_json({"p": value}) == '{"p":' + go + "}"
    assert float(go) == value  # and read back as the same number


def test_go_json_writes_nested_values_compactly_and_escapes_as_go():
    doc = {"a": [1, 2.0, {"b": 1e-7}], "s": "<x&y>", "t": True, "n": None, "u": "é"}
    assert _core.go_json(doc) == '{"a":[1,2,{"b":1e-7}],"s":"\\u003cx\\u0026y\\u003e","t":true,"n":null,"u":"é"}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_go_json_refuses_what_json_marshal_refuses(bad):
    with pytest.raises(ValueError):
        _core.go_json([bad])
