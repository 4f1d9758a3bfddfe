"""The queue from both sides: an operation queued from Python is the
entry haderctl writes, is counted by `haderctl queue status` and replayed
by `haderctl queue drain`."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time

import pytest

from conftest import run

from haderos_resilience import LocalQueueFallback, Priority, SchemaError, _core
from haderos_resilience.queue import BAND, RawJSON

DATA = {"order_id": 1042, "city": "Riyadh", "note": "<b>fragile</b> & é \u2028"}


def ops_entry(sync_redis, namespace, queue, op_id):
    return sync_redis.hget(_core.Keys(namespace).queue_ops(queue), op_id)


def split(entry):
    """(rank, first-failed ms, the rest of the entry after the score)."""
    score, rest = entry.split(" ", 1)
    return int(score) // BAND, int(score) % BAND, rest


def push_both(client, haderctl, sync_redis, namespace, py_kwargs, cli_args):
    """The same operation pushed from Python and by haderctl (ids py-1 and
    hc-1); both entries, and the clock window each was pushed in."""
    t0 = int(time.time() * 1000)
    res = run(LocalQueueFallback().queue_failed_operation(id="py-1", **py_kwargs))
    t1 = int(time.time() * 1000)
    haderctl("queue", "push", py_kwargs["service_name"], "--id", "hc-1", *cli_args)
    t2 = int(time.time() * 1000)
    q = py_kwargs["service_name"]
    return res, ops_entry(sync_redis, namespace, q, "py-1"), ops_entry(sync_redis, namespace, q, "hc-1"), (t0, t1, t2)


@pytest.mark.parametrize("py_extra,cli_extra", [
    ({}, []),
    ({"priority": "high"}, ["--priority", "high"]),
    ({"priority": Priority.CRITICAL, "max_attempts": 4}, ["--priority", "critical", "--max-attempts", "4"]),
    # an error that needs escaping and a stored request: the meta line
    # goes through Go's encoding/json on haderctl's side
    ({"error": 'HTTP 503: "Service Unavailable" <html>', "method": "put", "path": "/api/shipments",
      "headers": {"X-Tenant": "haderos", "Accept": "application/json"}},
     ["--error", 'HTTP 503: "Service Unavailable" <html>', "--method", "put", "--path", "/api/shipments",
      "-H", "X-Tenant: haderos", "-H", "Accept: application/json"]),
])
def test_an_entry_is_byte_identical_to_haderctl_queue_push(client, haderctl, sync_redis, namespace,
                                                            py_extra, cli_extra):
    data_text = _core.go_json(DATA)
    kwargs = dict(operation="create_shipment", data=DATA, service_name="aramex", error="HTTP 503")
    kwargs.update(py_extra)
    args = ["--operation", "create_shipment", "--service", "aramex", "--data", data_text]
    if "error" not in py_extra:
        args += ["--error", "HTTP 503"]
    res, ours, theirs, (t0, t1, t2) = push_both(client, haderctl, sync_redis, namespace, kwargs, args + cli_extra)
    assert res == {"id": "py-1", "queue": "aramex", "status": "enqueued"}
    o_rank, o_ms, o_rest = split(ours)
    h_rank, h_ms, h_rest = split(theirs)
    # the score is each pusher's own clock: the rest is the same bytes
    assert o_rest == h_rest
    assert o_rank == h_rank
    assert t0 <= o_ms <= t1 and t1 <= h_ms <= t2
    assert o_rest.endswith("\n" + data_text)


def test_the_queue_is_the_service_unless_one_is_named(client, sync_redis, namespace):
    run(LocalQueueFallback().queue_failed_operation(operation="send_sms", data={}, service_name="twilio",
                                                            error="timeout", id="a"))
    run(LocalQueueFallback(queue="notifications").queue_failed_operation(
        operation="send_sms", data={}, service_name="twilio", error="timeout", id="b"))
    assert ops_entry(sync_redis, namespace, "twilio", "a") is not None
    assert ops_entry(sync_redis, namespace, "notifications", "b").split("\n")[0].endswith(" twilio")
    assert sync_redis.smembers(_core.Keys(namespace).queues()) == {"twilio", "notifications"}


def test_queued_from_python_is_counted_by_haderctl_queue_status(client, haderctl):
    q = LocalQueueFallback()

    async def push():
        await q.queue_failed_operation(operation="create_order", data={"id": 1}, service_name="shopify",
                                       error="HTTP 502", priority="high")
        await q.queue_failed_operation(operation="create_order", data={"id": 2}, service_name="shopify",
                                       error="HTTP 502")
        await q.queue_failed_operation(operation="create_shipment", data={"id": 3}, service_name="aramex",
                                       error="HTTP 503", priority=Priority.LOW)
        return await q.get_system_status()
    ours = run(push())
    theirs = haderctl.json("queue", "status")
    assert theirs["queues"]["shopify"]["pending"] == {"critical": 0, "high": 1, "low": 0, "normal": 1}
    assert theirs["queues"]["aramex"]["pending"]["low"] == 1
    assert theirs["overall"]["pending_total"] == 3
    assert theirs["overall"]["enqueued"] == 3
    # get_system_status is the same document, but for what moves with the clock
    moving = ("oldest_pending_age_seconds", "throughput_per_second")
    for doc in (ours, theirs):
        assert doc.pop("timestamp")
        for st in [*doc["queues"].values(), doc["overall"]]:
            for f in moving:
                assert st.pop(f) >= 0
    assert ours == theirs


def test_queued_from_python_is_replayed_by_haderctl_drain_exec(client, haderctl, tmp_path):
    res = run(LocalQueueFallback().queue_failed_operation(
        operation="create_shipment", data=DATA, service_name="aramex", error="HTTP 503"))
    out = tmp_path / "replayed.json"
    drain = haderctl("queue", "drain", "aramex", "--exec", f"cat > {out}")
    assert '"outcome":"completed"' in drain.stdout
    op = json.loads(out.read_text())
    assert op["id"] == res["id"]
    assert op["operation"] == "create_shipment"
    assert op["service"] == "aramex"
    assert op["data"] == DATA
    assert op["error"] == "HTTP 503"
    st = haderctl.json("queue", "status", "aramex")["queues"]["aramex"]
    assert st["completed"] == 1 and st["pending_total"] == 0


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Recorder.seen.append((self.command, self.path, self.headers.get("X-Tenant"), body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_stored_request_is_replayed_over_http_by_haderctl_drain(client, haderctl):
    Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/shipments"
        run(LocalQueueFallback().queue_failed_operation(
            operation="create_shipment", data=DATA, service_name="aramex", error="HTTP 503",
            method="PUT", path=url, headers={"X-Tenant": "haderos"}))
        drain = haderctl("queue", "drain", "aramex")
        assert '"outcome":"completed"' in drain.stdout, drain.stdout + drain.stderr
    finally:
        server.shutdown()
        server.server_close()
    assert len(Recorder.seen) == 1
    method, path, tenant, body = Recorder.seen[0]
    assert (method, path, tenant) == ("PUT", "/api/shipments", "haderos")
    assert json.loads(body) == DATA


def test_a_duplicate_id_is_not_queued_again(client, haderctl, sync_redis, namespace):
    q = LocalQueueFallback()
    kw = dict(operation="create_order", data={"id": 1}, service_name="shopify", error="HTTP 502", id="order-1042")
    assert run(q.queue_failed_operation(**kw))["status"] == "enqueued"
    again = run(q.queue_failed_operation(**{**kw, "data": {"id": 2}}))
    assert again == {"id": "order-1042", "queue": "shopify", "status": "duplicate", "state": "ready"}
    assert ops_entry(sync_redis, namespace, "shopify", "order-1042").endswith('\n{"id":1}')
    p = haderctl("queue", "push", "shopify", "--operation", "create_order", "--service", "shopify", "--id",
                 "order-1042")
    assert "already in shopify (ready)" in p.stdout
    assert haderctl.json("queue", "status", "shopify")["queues"]["shopify"]["duplicates"] == 2


def test_raw_json_data_is_stored_as_given(client, sync_redis, namespace):
    run(LocalQueueFallback().queue_failed_operation(
        operation="op", data=RawJSON(b' {"b": 2, "a": 1} '), service_name="erp", error="", id="x"))
    assert ops_entry(sync_redis, namespace, "erp", "x").endswith('\n{"operation":"op"}\n{"b": 2, "a": 1}')


def test_a_password_in_the_error_is_not_stored(client, sync_redis, namespace):
    run(LocalQueueFallback().queue_failed_operation(
        operation="op", data=None, service_name="erp", error="dial redis://app:hunter22@10.0.0.5:6379 refused",
        id="x"))
    e = ops_entry(sync_redis, namespace, "erp", "x")
    assert "hunter22" not in e
    assert "redis://app:***@10.0.0.5:6379" in e


@pytest.mark.parametrize("kwargs,message", [
    ({"priority": "urgent"}, "unknown priority 'urgent'"),
    ({"service_name": "bad name"}, "invalid service name"),
    ({"operation": ""}, "operation name is required"),
    ({"id": "has space"}, "invalid operation id"),
    ({"data": {"when": object()}}, "data cannot be stored as JSON"),
    ({"data": RawJSON(b"{not json")}, "data is not valid JSON"),
    ({"data": "x" * (1 << 20)}, "over the 1048576-byte limit"),
    ({"max_attempts": 0}, "max attempts must be at least 1"),
    ({"method": "GET"}, "a request needs a path"),
])
def test_bad_input_is_refused_before_redis_is_touched(client, sync_redis, namespace, kwargs, message):
    kw = dict(operation="op", data={}, service_name="erp", error="e")
    kw.update(kwargs)
    with pytest.raises(ValueError, match=message):
        run(LocalQueueFallback().queue_failed_operation(**kw))
    assert list(sync_redis.scan_iter(namespace + ":*")) == []


def test_a_namespace_of_a_newer_schema_is_refused_with_nothing_written(client, haderctl, sync_redis, namespace):
    sync_redis.set(namespace + ":schema", "99")
    q = LocalQueueFallback()
    with pytest.raises(SchemaError, match="newer than this client's 3"):
        run(q.queue_failed_operation(operation="op", data={}, service_name="erp", error="e"))
    with pytest.raises(SchemaError):
        run(q.get_system_status())
    assert list(sync_redis.scan_iter(namespace + ":*")) == [namespace + ":schema"]
    assert sync_redis.get(namespace + ":schema") == "99"
    # haderctl refuses it alike
    assert haderctl("queue", "status", check=False).returncode != 0
