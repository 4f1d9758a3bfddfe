"""Health checks from Python and from haderctl agree on the same Redis."""

import asyncio
import http.server
import json
import pathlib
import selectors
import subprocess
import sys
import threading
import time

import pytest

from haderos_resilience import HealthChecker, ServiceConfig, health_checker
from haderos_resilience import SchemaError
from haderos_resilience import _core
from haderos_resilience import health as health_mod

from conftest import async_wait_for

DEADLINE = 30.0
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]


class Upstream:
    """A service on loopback answering every GET with a status the test
    sets; it counts the requests it got."""

    def __init__(self) -> None:
        self.status = 200
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                owner.requests += 1
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


def status_of(haderctl, name):
    out = haderctl("health", "status", name, "-o", "json")
    return json.loads(out.stdout)["services"][name]


async def poll(what, fn, deadline=DEADLINE):
    """Await fn() until it returns something true, or fail naming what."""
    return await async_wait_for(fn, what, deadline, interval=0.05)


def first_watch_result(haderctl, name):
    """Run ``haderctl health watch NAME`` (not a terminal: one NDJSON line
    per check it makes) until its first result, then stop it."""
    watch = subprocess.Popen([haderctl.binary, "health", "watch", name], env=haderctl.env, cwd=haderctl.cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(watch.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=DEADLINE):
                pytest.fail(f"haderctl health watch {name} printed no result in {DEADLINE}s")
        line = watch.stdout.readline()
    finally:
        watch.terminate()
        _, err = watch.communicate(timeout=DEADLINE)
    assert line, f"haderctl health watch {name} ended without a result: {err}"
    return json.loads(line)


def test_a_service_checked_from_python_is_up_in_haderctl(client, haderctl, upstream):
    async def main():
        await health_checker.register_service(ServiceConfig(
            name="shopify", check_interval=30, timeout=10, health_check_url=upstream.url))
        assert not await health_checker.is_service_healthy("shopify")  # never checked yet
        result = await health_checker.check_service("shopify")
        assert result["healthy"] and result["http_code"] == 200
        assert await health_checker.is_service_healthy("shopify")
        return await health_checker.get_service_status("shopify")

    ours = asyncio.run(main())
    theirs = status_of(haderctl, "shopify")
    assert theirs["healthy"] is True and theirs["status"] == "healthy"
    assert theirs["http_code"] == 200 and theirs["consecutive_successes"] == 1
    assert upstream.requests == 1
    for field in ("healthy", "status", "http_code", "latency_ms", "checked_at", "consecutive_failures",
                  "consecutive_successes", "alert_open", "uptime", "recent"):
        assert ours[field] == theirs[field], field
    # haderctl runs the check Python registered, with its settings
    check = haderctl("health", "check", "shopify", "-o", "json")
    assert json.loads(check.stdout)[0]["healthy"] is True
    assert upstream.requests == 2


def test_registration_is_what_haderctl_register_stores(client, haderctl, sync_redis, namespace, upstream):
    haderctl("health", "register", "aramex", "--url", upstream.url + "?a=1&b=<2>", "--interval", "10s",
                 "--timeout", "2s", "--expect-status", "200,204", "--failure-threshold", "4")
    asyncio.run(health_checker.register_service(ServiceConfig(
        name="aramex-py", health_check_url=upstream.url + "?a=1&b=<2>", check_interval=10, timeout=2,
        expected_status=[200, 204], failure_threshold=4)))
    stored = sync_redis.hgetall(f"{namespace}:health:services")
    assert stored["aramex-py"] == stored["aramex"].replace('"name":"aramex"', '"name":"aramex-py"')
    assert sync_redis.get(f"{namespace}:schema") == "3"


def test_a_service_checked_by_haderctl_watch_is_healthy_in_python(client, haderctl, upstream):
    haderctl("health", "register", "smsa", "--url", upstream.url, "--interval", "1s")
    assert not asyncio.run(health_checker.is_service_healthy("smsa"))
    # not a terminal: one NDJSON line per check this watcher made
    assert first_watch_result(haderctl, "smsa")["healthy"] is True

    async def main():
        assert await health_checker.is_service_healthy("smsa")
        return await health_checker.get_service_status("smsa")

    st = asyncio.run(main())
    assert st["status"] == "healthy" and st["http_code"] == 200 and st["checked_at"]


def test_a_failing_service_is_unhealthy_in_both(client, haderctl, upstream):
    upstream.status = 503

    async def from_python():
        await health_checker.register_service(ServiceConfig(
            name="aramex", health_check_url=upstream.url, failure_threshold=1))
        return await health_checker.check_service("aramex")

    result = asyncio.run(from_python())
    assert result["healthy"] is False and result["error"] == "HTTP 503" and result["alert"] == "fired"
    theirs = status_of(haderctl, "aramex")
    assert theirs["status"] == "unhealthy" and theirs["http_code"] == 503 and theirs["error"] == "HTTP 503"
    assert theirs["alert_open"] is True
    assert haderctl("health", "status", "aramex", "--fail-on-unhealthy", check=False).returncode == 1

    # and the other way: haderctl's check of a failing service
    haderctl("health", "register", "smsa", "--url", upstream.url)
    assert haderctl("health", "check", "smsa", check=False).returncode == 1
    assert not asyncio.run(health_checker.is_service_healthy("smsa"))


def test_recovery_resolves_the_alert_haderctl_fired(client, haderctl, upstream):
    upstream.status = 500
    haderctl("health", "register", "shopify", "--url", upstream.url, "--failure-threshold", "1",
                 "--success-threshold", "1")
    assert haderctl("health", "check", "shopify", check=False).returncode == 1
    assert status_of(haderctl, "shopify")["alert_open"] is True
    upstream.status = 200
    alerts = []
    checker = HealthChecker(on_alert=alerts.append)
    result = asyncio.run(checker.check_service("shopify"))  # the check haderctl registered
    assert result["healthy"] and result["alert"] == "resolved"
    assert [a["kind"] for a in alerts] == ["resolved"]
    assert status_of(haderctl, "shopify")["alert_open"] is False


def test_watchers_probe_once_per_interval_between_them(client, haderctl, upstream):
    # both watchers run on one frozen instant, so they ask within the same
    # 24 h slot even if the run crosses midnight UTC; only a shared slot
    # keeps the second from probing too
    cfg = ServiceConfig(name="shopify", health_check_url=upstream.url, check_interval=24 * 3600)
    frozen = time.time()
    first, second = HealthChecker(now=lambda: frozen), HealthChecker(now=lambda: frozen)

    async def main():
        await first.register_service(cfg)
        await second.register_service(cfg)
        await first.start_monitoring()
        await second.start_monitoring()
        try:
            await poll("both watchers to ask for the slot",
                       lambda: sum(sum(c.values()) for w in (first, second) for c in w.rounds.values()) >= 2)
            await poll("the winner's result", lambda: health_checker.is_service_healthy("shopify"))
        finally:
            await first.stop_monitoring()
            await second.stop_monitoring()

    asyncio.run(main())
    probed = [w.rounds["shopify"]["probed"] for w in (first, second)]
    skipped = [w.rounds["shopify"]["skipped"] for w in (first, second)]
    assert sorted(probed) == [0, 1] and sorted(skipped) == [0, 1]
    assert upstream.requests == 1


def test_python_skips_the_interval_haderctl_watch_probed(client, haderctl, upstream, sync_redis, namespace):
    haderctl("health", "register", "aramex", "--url", upstream.url, "--interval", "24h")
    assert first_watch_result(haderctl, "aramex")["service"] == "aramex"
    assert upstream.requests == 1
    # Python's clock pinned inside the slot haderctl's watch took (the
    # slot key holds floor(now / interval)), so midnight UTC cannot come
    # between them; only the shared slot makes Python skip
    day_ms = 24 * 3600 * 1000
    taken = int(sync_redis.get(f"{namespace}:health:{{aramex}}:slot"))
    checker = HealthChecker(now=lambda: (taken * day_ms + day_ms // 2) / 1000)

    async def main():
        await checker.register_service(ServiceConfig(name="aramex", health_check_url=upstream.url,
                                                     check_interval=24 * 3600, expected_status=None))
        await checker.start_monitoring()
        try:
            await poll("the Python watcher's first round", lambda: checker.rounds.get("aramex"))
        finally:
            await checker.stop_monitoring()

    asyncio.run(main())
    assert checker.rounds["aramex"] == {"probed": 0, "skipped": 1}
    assert upstream.requests == 1


def test_bad_configs_are_refused_naming_the_field(client):
    with pytest.raises(ValueError, match="invalid health_check_url"):
        ServiceConfig(name="x", health_check_url="ftp://host/").validate()
    with pytest.raises(ValueError, match="check_interval 0.5s"):
        ServiceConfig(name="x", health_check_url="http://h/", check_interval=0.5).validate()
    with pytest.raises(ValueError, match="failure_threshold 0"):
        ServiceConfig(name="x", health_check_url="http://h/", failure_threshold=0).validate()
    with pytest.raises(ValueError, match="invalid service name"):
        ServiceConfig(name="{x}", health_check_url="http://h/").validate()


class Paths(http.server.BaseHTTPRequestHandler):
    """/ok 200 "ok", /fail 503, /moved 302 to /ok, /slow answers after 2 s."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/slow":
            time.sleep(2)
        code = {"/ok": 200, "/fail": 503, "/moved": 302, "/slow": 200}.get(self.path, 404)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


PROBES = [False] + ([True] if health_mod.httpx is not None else [])


@pytest.mark.parametrize("use_httpx", PROBES, ids=lambda v: "httpx" if v else "urllib")
def test_probe_outcomes(client, use_httpx):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Paths)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    checker = HealthChecker(use_httpx=use_httpx)
    cases = [  # name, config overrides, healthy, code, error
        ("ok", dict(health_check_url=base + "/ok", body_match="ok"), True, 200, None),
        ("fail", dict(health_check_url=base + "/fail"), False, 503, "HTTP 503"),
        ("moved", dict(health_check_url=base + "/moved", expected_status=None), True, 302, None),
        ("moved-strict", dict(health_check_url=base + "/moved"), False, 302, "HTTP 302"),
        ("body", dict(health_check_url=base + "/ok", body_match="ready"), False, 200, 'body does not contain "ready"'),
        ("slow", dict(health_check_url=base + "/slow", timeout=0.2), False, 0, "timed out after 200ms"),
        ("refused", dict(health_check_url="http://127.0.0.1:1/"), False, 0, None),
    ]

    async def main():
        out = {}
        for name, over, *_ in cases:
            await checker.register_service(ServiceConfig(name=name, **over))
            out[name] = await checker.check_service(name)
        return out

    try:
        results = asyncio.run(main())
    finally:
        server.shutdown()
        server.server_close()
    for name, _, healthy, code, error in cases:
        r = results[name]
        assert (r["healthy"], r["http_code"]) == (healthy, code), name
        if error:
            assert r["error"] == error, name
        assert ("error" in r) == (not healthy), name
    assert "127.0.0.1:1" not in results["refused"]["error"]  # the URL may carry a token: never in the error


def readme_example(marker):
    """The python block of the README section between P2's markers."""
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split(f"<!-- P2 {marker} -->", 1)[1].split(f"<!-- /P2 {marker} -->", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs(haderctl, upstream):
    env = dict(haderctl.env, SHOPIFY_HEALTH_URL=upstream.url, PYTHONPATH=str(PACKAGE_ROOT))
    out = subprocess.run([sys.executable, "-c", readme_example("health")], env=env, capture_output=True,
                         text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stderr
    assert "shopify: healthy" in out.stdout and "uptime 24h: 100.0" in out.stdout
    assert status_of(haderctl, "shopify")["healthy"] is True


def test_failed_checks_from_python_open_the_breaker_haderctl_sees(client, haderctl, upstream):
    upstream.status = 503

    async def main():
        quiet = HealthChecker(feed_breaker=False)
        await quiet.register_service(ServiceConfig(name="smsa", health_check_url=upstream.url))
        await quiet.check_service("smsa")
        await health_checker.register_service(ServiceConfig(name="aramex", health_check_url=upstream.url))
        for _ in range(3):  # haderctl's default failure threshold
            await health_checker.check_service("aramex")

    asyncio.run(main())
    out = json.loads(haderctl("breaker", "status", "aramex", "-o", "json").stdout)
    assert out["circuit_breakers"]["aramex"]["state"] == "open"
    assert haderctl("breaker", "exec", "aramex", "--", "true", check=False).returncode == 75  # refused
    unfed = haderctl("breaker", "status", "smsa", "-o", "json", check=False)
    assert unfed.returncode == 2 and 'unknown breaker "smsa"' in unfed.stderr  # never fed


def test_checks_alone_close_the_breaker_they_opened(client, haderctl, upstream):
    # no traffic: once the service is back, the checks close the breaker
    # (success_threshold of them past the recovery timeout), as haderctl's
    # watcher does, rather than stopping after the first success
    upstream.status = 503
    checker = HealthChecker()

    def state():
        return json.loads(haderctl("breaker", "status", "aramex", "-o", "json").stdout)[
            "circuit_breakers"]["aramex"]["state"]

    async def check():
        await checker.check_service("aramex")

    async def main():
        await checker.register_service(ServiceConfig(name="aramex", health_check_url=upstream.url))
        for _ in range(3):  # haderctl's default failure threshold
            await checker.check_service("aramex")

    asyncio.run(main())
    assert state() == "open"
    haderctl("breaker", "configure", "aramex", "--success-threshold", "3", "--max-probes", "3", "--recovery-timeout", "1ms",
             "--reason", "test")
    upstream.status = 200
    checks = 0
    deadline = time.monotonic() + DEADLINE
    while state() != "closed":
        assert time.monotonic() < deadline, f"after {checks} successful checks the breaker is {state()}"
        asyncio.run(check())
        checks += 1
    assert checks >= 3, f"closed after {checks} successful checks, want the success threshold (3)"


def test_a_service_registered_while_monitoring_is_probed(client, haderctl, upstream):
    checker = HealthChecker()

    async def main():
        await checker.start_monitoring()  # nothing registered yet
        try:
            await checker.register_service(ServiceConfig(name="late", health_check_url=upstream.url))
            await poll("the late service's first check", lambda: checker.is_service_healthy("late"))
        finally:
            await checker.stop_monitoring()

    asyncio.run(main())
    assert status_of(haderctl, "late")["healthy"] is True
    assert checker.rounds["late"]["probed"] == 1


def test_stopping_waits_for_the_slot_command_in_flight(held_redis, upstream):
    # stop_monitoring while the loop's slot command waits for its reply
    # lets the reply arrive: cancelling the loop there hung it for good
    # with redis-py 4.3.4 (the cancellation swallowed: CI waited 80
    # minutes) or left the reply for the connection's next command
    checker = HealthChecker()

    async def main():
        try:
            await checker.register_service(ServiceConfig(name="held", health_check_url=upstream.url,
                                                         check_interval=1))
            await checker.start_monitoring()
            await async_wait_for(lambda: checker.is_service_healthy("held"), "the first check recorded")
            await held_redis.hold_next_command("the next round's slot command", DEADLINE)
            stopping = asyncio.ensure_future(checker.stop_monitoring())
            await held_redis.let_the_loop_run()
            assert not stopping.done(), "stop_monitoring cut off a Redis command waiting for its reply"
            held_redis.release()
            await asyncio.wait_for(stopping, DEADLINE)
            await held_redis.assert_in_step(_core.get_redis())
        finally:
            held_redis.release()
            await _core.close()

    asyncio.run(main())
    assert checker.rounds["held"] == {"probed": 1, "skipped": 0}
    assert upstream.requests == 1


def test_a_newer_schema_is_refused(client, sync_redis, namespace, upstream):
    sync_redis.set(f"{namespace}:schema", 4)
    with pytest.raises(SchemaError, match="newer than this client's 3"):
        asyncio.run(HealthChecker().register_service(ServiceConfig(name="x", health_check_url=upstream.url)))
    assert not sync_redis.exists(f"{namespace}:health:services")


def test_the_injected_clock_is_the_scripts_clock(client, haderctl, upstream):
    # the record script stamps the check with the checker's clock, not
    # Redis TIME: an instant an hour back shows as the check's time
    pinned_ms = (int(time.time()) - 3600) * 1000
    checker = HealthChecker(now=lambda: pinned_ms / 1000)

    async def main():
        await checker.register_service(ServiceConfig(name="erp", health_check_url=upstream.url))
        return await checker.check_service("erp")

    result = asyncio.run(main())
    theirs = status_of(haderctl, "erp")
    assert result["checked_at"] == health_mod._iso(pinned_ms)
    assert theirs["checked_at"] == result["checked_at"], theirs


def test_a_configs_repr_shows_no_secret():
    cfg = ServiceConfig(name="erp", health_check_url="https://probe:hunter22@erp.test/health",
                        headers={"Authorization": "Bearer TOPSECRET", "X-Api-Key": "k-123456", "Accept": "json"})
    text = repr(cfg)
    for secret in ("TOPSECRET", "k-123456", "hunter22"):
        assert secret not in text, text
    assert "'Accept': 'json'" in text and "'Authorization': '***'" in text and "erp.test/health" in text
    assert str(cfg) == text
    assert cfg.headers["Authorization"] == "Bearer TOPSECRET"  # the probe still sends it
