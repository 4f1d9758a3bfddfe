"""Health checks shared with haderctl: the same registry, probe slots,
record script and stored state (docs/redis-schema.md, "Health").

    register_service ──▶ <ns>:health:services (the check as haderctl's JSON)
    start_monitoring ──(slot.lua: one probe per interval between every
    watcher, Go or Python)──▶ HTTP probe ──▶ record.lua (state, hourly
    counters, recent list, alert decision) ──▶ the alert it decided is logged

A service checked here is what ``haderctl health status`` shows, and one
checked by ``haderctl health watch`` is what ``is_service_healthy`` reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import json
import logging
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

from . import _core

try:  # optional: used for probes when installed
    import httpx  # type: ignore
except ImportError:  # pragma: no cover - depends on the machine
    httpx = None

log = logging.getLogger("haderos_resilience.health")

# Bounds of a check, as haderctl's (internal/engine/health/types.go).
MIN_INTERVAL = 1.0
MAX_INTERVAL = 24 * 3600.0
MAX_TIMEOUT = 3600.0
MAX_THRESHOLD = 1_000_000
# What the record script keeps (the Go checker's arguments).
RECENT_MAX = 60
HOURS_KEPT = 30 * 24
# Uptime windows of a status, in hours (health.Windows).
WINDOWS = (("1h", 1), ("24h", 24), ("7d", 7 * 24), ("30d", 30 * 24))

_NS = 1_000_000_000


# --- helpers ------------------------------------------------------------------


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def _int(v: Any) -> int:
    try:
        return int(_text(v) or 0)
    except ValueError:
        return 0


def _redis_call(fn: Callable) -> Callable:
    """A public coroutine whose unreachable Redis is one
    RedisUnavailableError, its message redacted."""
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except _core.RedisUnavailableError:
            raise
        except _core.REDIS_DOWN as e:
            raise _core.unavailable(e) from None
    return call


def _iso(ms: int) -> str:
    """Unix ms as haderctl's JSON times (RFC 3339, UTC, ms precision)."""
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    return text + (f".{frac:03d}".rstrip("0") if frac else "") + "Z"


# --- the check ----------------------------------------------------------------


@dataclasses.dataclass
class ServiceConfig:
    """One service's health check, in the seed's names. Seconds are floats.

    expected_status: the healthy HTTP code(s); None means 200-399 (haderctl's
    default when no --expect-status is given). failure_threshold consecutive
    failures fire the alert, success_threshold consecutive successes resolve
    it; remind_every re-sends an open alert at most that often (negative:
    never). max_response_time 0 means no limit."""

    name: str
    check_interval: float = 30
    timeout: float = 10
    health_check_url: str = ""
    expected_status: Union[int, Sequence[int], None] = 200
    failure_threshold: int = 3
    success_threshold: int = 2
    method: str = "GET"
    body_match: str = ""
    max_response_time: float = 0
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)
    remind_every: float = 3600

    def __repr__(self) -> str:
        # the dataclass' repr, but no secret: headers such as Authorization
        # masked and any password in the URL, as haderctl prints checks
        fields = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "headers":
                v = _core.redact_headers(v)
            elif f.name == "health_check_url":
                v = _core.redact_url(v)
            fields.append(f"{f.name}={v!r}")
        return f"ServiceConfig({', '.join(fields)})"

    @property
    def expect_status(self) -> List[int]:
        if self.expected_status is None:
            return []
        if isinstance(self.expected_status, int):
            return [self.expected_status]
        return [int(c) for c in self.expected_status]

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (haderctl's rules)."""
        _core.valid_name("service", self.name)
        bad = f"health check {self.name}: "
        u = urllib.parse.urlsplit(self.health_check_url or "")
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(bad + "invalid health_check_url: use http:// or https:// with a host")
        if not MIN_INTERVAL <= self.check_interval <= MAX_INTERVAL:
            raise ValueError(bad + f"check_interval {self.check_interval}s is out of range: 1s to 24h")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ValueError(bad + f"timeout {self.timeout}s is out of range: above 0, at most 1h")
        for field in ("failure_threshold", "success_threshold"):
            v = getattr(self, field)
            if not isinstance(v, int) or not 1 <= v <= MAX_THRESHOLD:
                raise ValueError(bad + f"{field} {v!r} is out of range: 1 to {MAX_THRESHOLD}")
        if not 0 <= self.max_response_time <= MAX_TIMEOUT:
            raise ValueError(bad + f"max_response_time {self.max_response_time}s is out of range: 0 to 1h")
        for code in self.expect_status:
            if not 100 <= code <= 599:
                raise ValueError(bad + f"expected status {code} is not an HTTP status")
        if not self.method or not all("A" <= ch <= "Z" for ch in self.method.upper()):
            raise ValueError(bad + f"invalid method {self.method!r}")

    def check_document(self) -> Dict[str, Any]:
        """The check as haderctl stores it (health.Check's JSON: durations
        in nanoseconds, fields in its order, empty ones left out)."""
        doc: Dict[str, Any] = {"name": self.name, "url": self.health_check_url,
                               "method": self.method.upper(), "interval": _core.seconds_ns(self.check_interval),
                               "timeout": _core.seconds_ns(self.timeout)}
        if self.expect_status:
            doc["expect_status"] = self.expect_status
        if self.body_match:
            doc["body_match"] = self.body_match
        if self.max_response_time:
            doc["max_response_time"] = _core.seconds_ns(self.max_response_time)
        if self.headers:
            doc["headers"] = dict(sorted(self.headers.items()))  # Go sorts map keys
        remind = -1 if self.remind_every < 0 else _core.seconds_ns(self.remind_every)
        doc["alert"] = {"failure_threshold": self.failure_threshold,
                        "success_threshold": self.success_threshold, "remind_every": remind}
        doc["source"] = "registered"
        return doc

    @classmethod
    def from_document(cls, name: str, doc: Dict[str, Any]) -> "ServiceConfig":
        """A check as haderctl stored it, its unset fields given
        haderctl's defaults (health.Check.WithDefaults)."""
        alert = doc.get("alert") or {}
        remind = alert.get("remind_every") or 3600 * _NS
        return cls(name=name, health_check_url=doc.get("url", ""), method=(doc.get("method") or "GET").upper(),
                   check_interval=(doc.get("interval") or 30 * _NS) / _NS,
                   timeout=(doc.get("timeout") or 10 * _NS) / _NS,
                   expected_status=list(doc.get("expect_status") or []) or None,
                   body_match=doc.get("body_match", ""),
                   max_response_time=(doc.get("max_response_time") or 0) / _NS,
                   headers=dict(doc.get("headers") or {}),
                   failure_threshold=alert.get("failure_threshold") or 3,
                   success_threshold=alert.get("success_threshold") or 2,
                   remind_every=-1 if remind < 0 else remind / _NS)

    def healthy_status(self, code: int) -> bool:
        if not self.expect_status:
            return 200 <= code < 400
        return code in self.expect_status


# --- probing --------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # haderctl judges the redirect itself (a 3xx is healthy by default)
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _loopback(host: Optional[str]) -> bool:
    # Go's proxy rule: never proxy loopback, use the environment's otherwise
    return host in ("localhost", "::1") or (host or "").startswith("127.")


def _probe_urllib(cfg: ServiceConfig, user_agent: str):
    """One request with the standard library; (code, body prefix) or an
    exception. Runs in a thread."""
    handlers: List[Any] = [_NoRedirect()]
    if _loopback(urllib.parse.urlsplit(cfg.health_check_url).hostname):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(cfg.health_check_url, method=cfg.method.upper())
    for k, v in cfg.headers.items():
        req.add_header(k, v)
    req.add_header("User-Agent", user_agent)
    limit = (1 << 20) if cfg.body_match else (64 << 10)
    try:
        with opener.open(req, timeout=cfg.timeout) as resp:
            return resp.status, resp.read(limit)
    except urllib.error.HTTPError as e:  # a status urllib does not pass: still an answer
        try:
            body = e.read(limit)
        finally:
            e.close()
        return e.code, body


async def _probe_httpx(cfg: ServiceConfig, user_agent: str):
    host = urllib.parse.urlsplit(cfg.health_check_url).hostname
    async with httpx.AsyncClient(follow_redirects=False, timeout=cfg.timeout,
                                 trust_env=not _loopback(host)) as client:
        headers = dict(cfg.headers)
        headers["User-Agent"] = user_agent
        resp = await client.request(cfg.method.upper(), cfg.health_check_url, headers=headers)
        return resp.status_code, resp.content


def _transport_error(err: BaseException) -> str:
    # the cause without the URL (which may carry a token)
    reason = getattr(err, "reason", None)
    if reason is not None:
        err = reason if isinstance(reason, BaseException) else Exception(str(reason))
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower() if err.strerror[0].isupper() else err.strerror
    return str(err) or type(err).__name__


# --- the checker ----------------------------------------------------------------


class HealthChecker:
    """Health checks over the Redis state haderctl uses.

    use_httpx: probe with httpx when it is importable (the default), else
    the standard library in a thread. feed_breaker: record failed checks
    (and the first success after them) in the service's breaker, as
    haderctl's health.feed_breaker does by default. on_alert(alert dict)
    is called, after the log line, for each alert the record script gave
    this process. now: a clock (Unix seconds, as time.time returns) that
    replaces Redis TIME in the slot and record scripts, as the Go checker's
    Clock.Now does; None (the default) is Redis' clock. Tests pin it so
    watchers ask within one interval's slot whatever the wall clock does."""

    def __init__(self, *, use_httpx: bool = True, feed_breaker: bool = True,
                 on_alert: Optional[Callable[[Dict[str, Any]], Any]] = None,
                 now: Optional[Callable[[], float]] = None) -> None:
        self.now = now
        self._services: Dict[str, ServiceConfig] = {}
        self._use_httpx = use_httpx and httpx is not None
        self.feed_breaker = feed_breaker
        self.on_alert = on_alert
        self._who = f"{socket.gethostname()}/{os.getpid()}"
        self._user_agent = "haderos-resilience-health"
        # each monitored service's loop and the event that ends it; loops
        # asked to end and not yet ended
        self._tasks: Dict[str, Tuple[asyncio.Task, asyncio.Event]] = {}
        self._ending: Set[asyncio.Task] = set()
        # services whose breaker this checker last fed and left open or
        # half-open: their successes are fed until it closes
        self._unsettled: Set[str] = set()
        # rounds[name] counts this checker's monitoring rounds: "probed"
        # when it won the interval's slot, "skipped" when another watcher
        # (haderctl's or Python's) had it already
        self.rounds: Dict[str, Dict[str, int]] = {}
        self._supervisor: Optional[asyncio.Task] = None
        self._stop: Optional[asyncio.Event] = None

    # Redis and keys from the package configuration, looked up per call so
    # configure() applies to the module-level checker too.
    async def _redis(self):
        r = _core.get_redis()
        keys = _core.Keys(_core.settings().namespace)
        await _core.check_schema(r, keys)  # once per client and namespace
        return r, keys

    @_redis_call
    async def register_service(self, config: ServiceConfig) -> None:
        """Store the check in Redis, as ``haderctl health register`` does,
        so every watcher (haderctl's and this one) runs it, and claim the
        schema version if the namespace has none."""
        config.validate()
        r, keys = await self._redis()
        async with r.pipeline(transaction=False) as p:
            p.hset(keys.health_services(), config.name, _core.go_json(config.check_document()))
            p.setnx(keys.schema(), _core.SCHEMA_VERSION)
            await p.execute()
        self._services[config.name] = config
        if self._monitoring():
            self._start_loop(config)

    @_redis_call
    async def unregister_service(self, name: str) -> bool:
        """Remove a registered check (its history stays); whether there was one."""
        self._services.pop(name, None)
        self._end_loop(name)
        r, keys = await self._redis()
        return await r.hdel(keys.health_services(), name) == 1

    @_redis_call
    async def registered_services(self) -> Dict[str, ServiceConfig]:
        """Every check registered in the namespace (by haderctl or Python)."""
        r, keys = await self._redis()
        out = {}
        for name, js in (await r.hgetall(keys.health_services())).items():
            try:
                out[_text(name)] = ServiceConfig.from_document(_text(name), json.loads(_text(js)))
            except (ValueError, TypeError, AttributeError):
                log.warning("ignoring a registered health check that does not parse: %s", _text(name))
        return out

    async def _config(self, name: str) -> ServiceConfig:
        if name in self._services:
            return self._services[name]
        reg = await self.registered_services()
        if name not in reg:
            raise KeyError(f"unknown service {name}: register it first (register_service or haderctl health register)")
        return reg[name]

    async def _probe(self, cfg: ServiceConfig):
        """(ok, HTTP code, latency µs, why); touches no Redis."""
        start = time.monotonic()
        try:
            if self._use_httpx:
                code, body = await asyncio.wait_for(_probe_httpx(cfg, self._user_agent), cfg.timeout)
            else:
                code, body = await asyncio.wait_for(
                    asyncio.to_thread(_probe_urllib, cfg, self._user_agent), cfg.timeout)
        except (asyncio.TimeoutError, socket.timeout, TimeoutError):
            return False, 0, int((time.monotonic() - start) * 1e6), "timed out after " + _core.go_duration(_core.seconds_ns(cfg.timeout))
        except Exception as e:  # noqa: BLE001 - any transport failure is a failed check
            us = int((time.monotonic() - start) * 1e6)
            if "timed out" in str(getattr(e, "reason", e)) or (httpx is not None and isinstance(e, getattr(httpx, "TimeoutException", ()))):
                return False, 0, us, "timed out after " + _core.go_duration(_core.seconds_ns(cfg.timeout))
            return False, 0, us, _transport_error(e)
        us = int((time.monotonic() - start) * 1e6)
        if not cfg.healthy_status(code):
            return False, code, us, f"HTTP {code}"
        if cfg.body_match and cfg.body_match.encode() not in body:
            return False, code, us, f"body does not contain {json.dumps(cfg.body_match)}"
        if cfg.max_response_time and us > cfg.max_response_time * 1e6:
            return False, code, us, f"slow: {_core.go_duration(us // 1000 * 1_000_000)} > {_core.go_duration(_core.seconds_ns(cfg.max_response_time))}"
        return True, code, us, ""

    async def _record(self, cfg: ServiceConfig, ok: bool, code: int, us: int, why: str) -> Dict[str, Any]:
        r, keys = await self._redis()
        n = cfg.name
        remind = -1 if cfg.remind_every < 0 else _core.seconds_ns(cfg.remind_every) // 1_000_000
        reply = await _core.script("health/lua/record.lua")(
            r, [keys.health(n), keys.health_hours(n), keys.health_recent(n), keys.health_alerts(n)],
            ["1" if ok else "0", code, us, why, cfg.failure_threshold, cfg.success_threshold, remind,
             RECENT_MAX, HOURS_KEPT, self._who, n, self._script_now()])
        action, cf, cs, now, since = _text(reply[0]), _int(reply[1]), _int(reply[2]), _int(reply[3]), _int(reply[4])
        # haderctl's health.Result JSON: error and alert only when set
        result: Dict[str, Any] = {"service": n, "healthy": ok, "status": "healthy" if ok else "unhealthy",
                                  "http_code": code, "latency_ms": us / 1000}
        if why:
            result["error"] = why
        result.update(checked_at=_iso(now), consecutive_failures=cf, consecutive_successes=cs)
        if action:
            result["alert"] = action
        await self._feed_breaker(n, ok, cs)
        if action:
            await self._alert(n, action, now, since, cf, why)
        return result

    async def _feed_breaker(self, name: str, ok: bool, cs: int) -> None:
        # as haderctl's checker (health.feed_breaker, on by default): every
        # failed check is a failure of the service's breaker, and the first
        # success after failures a success, so a down service fails fast
        # for every caller whichever watcher probed it; successes go on
        # being fed while the breaker they fed is open or half-open, so the
        # checks alone close it again
        if not self.feed_breaker or (ok and cs != 1 and name not in self._unsettled):
            return
        from .circuit_breaker import CircuitBreaker  # here: it imports this package's parts
        try:
            rep = await CircuitBreaker(name).record(ok)
        except Exception as e:  # noqa: BLE001 - the check is recorded; the breaker is best effort
            log.warning("could not feed the breaker of %s: %s", name, _core.redact(str(e)))
            return
        if rep.state in ("open", "half_open"):
            self._unsettled.add(name)
        else:
            self._unsettled.discard(name)  # closed, or an operator's forced_open/disabled

    async def _alert(self, name: str, kind: str, now: int, since: int, cf: int, why: str) -> None:
        # the record script gave this process the alert: it is sent once,
        # here, as a log line (haderctl's "log" provider) and to on_alert
        if kind == "resolved":
            msg = f"{name} is healthy again (down for {_core.go_duration((now - since) // 1000 * _NS)})"
        elif kind == "reminder":
            msg = f"{name} is still unhealthy (since {_iso(since)}, {cf} consecutive failures): {why}"
        else:
            msg = f"{name} is unhealthy: {cf} consecutive failures: {why}"
        (log.info if kind == "resolved" else log.warning)("health alert %s: %s", kind, msg)
        if self.on_alert is not None:
            out = self.on_alert({"service": name, "kind": kind, "message": msg, "at": _iso(now),
                                 "since": _iso(since), "consecutive_failures": cf, "last_error": why})
            if asyncio.iscoroutine(out):
                await out

    @_redis_call
    async def check_service(self, name: str) -> Dict[str, Any]:
        """Probe one service now and record the result (as ``haderctl
        health check`` does: no slot lock). Returns the result as
        haderctl's JSON shapes it."""
        cfg = await self._config(name)
        ok, code, us, why = await self._probe(cfg)
        return await self._record(cfg, ok, code, us, why)

    def _script_now(self) -> str:
        """The scripts' clock argument: "" for Redis TIME, else Unix ms."""
        if self.now is None:
            return ""
        return str(int(self.now() * 1000))

    async def _acquire(self, cfg: ServiceConfig):
        r, keys = await self._redis()
        got, now = await _core.script("health/lua/slot.lua")(
            r, [keys.health_slot(cfg.name)], [_core.seconds_ns(cfg.check_interval) // 1_000_000,
                                              self._script_now()])
        return _int(got) == 1, _int(now)

    async def _loop(self, cfg: ServiceConfig, stop: asyncio.Event) -> None:
        # ends when stop is set, checked between Redis calls: never
        # cancelled mid-command (see _core.stopped_within)
        interval_ms = _core.seconds_ns(cfg.check_interval) // 1_000_000
        while not stop.is_set():
            try:
                got, now = await self._acquire(cfg)
            except Exception as e:  # noqa: BLE001 - keep watching while Redis is away
                log.warning("health slot unavailable (Redis?) for %s: %s", cfg.name, _core.redact(str(e)))
                got, now = False, int(time.time() * 1000)
            if stop.is_set():
                return
            counts = self.rounds.setdefault(cfg.name, {"probed": 0, "skipped": 0})
            counts["probed" if got else "skipped"] += 1
            if got:
                try:
                    await self._check_unless_stopped(cfg, stop)
                except Exception as e:  # noqa: BLE001
                    log.warning("could not record a health check of %s: %s", cfg.name, _core.redact(str(e)))
            # wake at the next slot boundary on Redis' clock, spread a
            # little so many services do not fire in the same millisecond
            wait_ms = interval_ms - now % interval_ms + random.uniform(0, interval_ms / 20)
            if await _core.stopped_within(stop, wait_ms / 1000):
                return

    async def _check_unless_stopped(self, cfg: ServiceConfig, stop: asyncio.Event) -> None:
        """Probe and record, as check_service does; a stop during the probe
        (HTTP only: cancelling it is safe) drops it unrecorded."""
        probe = asyncio.ensure_future(self._probe(cfg))
        halt = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({probe, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
            if not probe.done():
                probe.cancel()
        if probe.cancelled():
            return
        await self._record(cfg, *probe.result())

    def _monitoring(self) -> bool:
        return self._supervisor is not None and not self._supervisor.done()

    def _start_loop(self, cfg: ServiceConfig) -> None:
        self._end_loop(cfg.name)  # its settings changed: the new loop replaces it
        stop = asyncio.Event()
        self._tasks[cfg.name] = (asyncio.ensure_future(self._loop(cfg, stop)), stop)

    def _end_loop(self, name: str) -> None:
        """Ask a service's loop to end; stop_monitoring awaits it."""
        got = self._tasks.pop(name, None)
        if got is not None:
            task, stop = got
            stop.set()
            if not task.done():
                self._ending.add(task)
                task.add_done_callback(self._ending.discard)

    @_redis_call
    async def start_monitoring(self) -> asyncio.Task:
        """Start probing every service registered with this checker (and
        those registered with it later), each on its interval, taking the
        shared slot first so all watchers (haderctl's too) probe it once
        per interval between them. Returns the task; it runs until
        stop_monitoring() (await it to block until then)."""
        if self._monitoring():
            return self._supervisor
        await self._redis()  # fail now on a bad URL or a newer schema
        for cfg in self._services.values():
            self._start_loop(cfg)
        stop = self._stop = asyncio.Event()

        async def supervise() -> None:
            try:
                await stop.wait()
            finally:
                for name in list(self._tasks):
                    self._end_loop(name)
                # each loop ends after the Redis call it is in (bounded by
                # the client's socket timeout)
                await asyncio.gather(*self._ending, return_exceptions=True)

        self._supervisor = asyncio.ensure_future(supervise())
        return self._supervisor

    async def stop_monitoring(self) -> None:
        """Stop every probe loop; a probe in flight is not recorded, a Redis
        command in flight is waited for."""
        sup, self._supervisor = self._supervisor, None
        if sup is not None:
            self._stop.set()
            await asyncio.gather(sup, return_exceptions=True)

    @_redis_call
    async def is_service_healthy(self, name: str) -> bool:
        """Whether the last recorded check succeeded, whoever made it (as
        ``haderctl health status`` judges); never checked: False."""
        r, keys = await self._redis()
        return _text(await r.hget(keys.health(name), "status")) == "healthy"

    @_redis_call
    async def get_service_status(self, name: str) -> Dict[str, Any]:
        """The stored health of a service without probing, in the shape of
        one entry of ``haderctl health status -o json``'s services."""
        r, keys = await self._redis()
        async with r.pipeline(transaction=False) as p:
            p.time()
            p.hmget(keys.health(name), "status", "http_code", "latency_us", "error", "checked_at",
                    "consecutive_failures", "consecutive_successes", "alert_open", "alert_since")
            p.hgetall(keys.health_hours(name))
            p.lrange(keys.health_recent(name), 0, RECENT_MAX - 1)
            now, h, hours, recent = await p.execute()
        h = [_text(v) for v in h]
        sec, usec = (now if isinstance(now, (list, tuple)) else (now, 0))
        now_ms = int(sec) * 1000 + int(usec) // 1000
        st: Dict[str, Any] = {"service": name, "healthy": False, "status": "unknown", "http_code": 0,
                              "latency_ms": 0.0, "checked_at": None,
                              "consecutive_failures": 0, "consecutive_successes": 0,
                              "uptime": {}, "alert_open": False, "recent": []}
        if h[0]:
            st.update(status=h[0], healthy=h[0] == "healthy", http_code=_int(h[1]), latency_ms=_int(h[2]) / 1000,
                      checked_at=_iso(_int(h[4])), consecutive_failures=_int(h[5]),
                      consecutive_successes=_int(h[6]))
            if h[3]:
                st["error"] = h[3]
            if h[7] == "1":
                st.update(alert_open=True, alert_since=_iso(_int(h[8])))
        hour_now = now_ms // 3_600_000
        sums = {w: [0, 0, 0] for w, _ in WINDOWS}
        for field, value in hours.items():
            hs, _, kind = _text(field).partition(":")
            if not hs.isdigit() or int(hs) > hour_now or kind not in ("n", "ok", "us"):
                continue
            for w, span in WINDOWS:
                if int(hs) > hour_now - span:
                    sums[w][("n", "ok", "us").index(kind)] += _int(value)
        for w, (n, oks, us) in sums.items():
            st["uptime"][w] = {"checks": n, "uptime_percent": oks / n * 100 if n else None,
                               "avg_latency_ms": us / n / 1000 if n else None}
        for line in recent:
            parts = _text(line).split(" ")
            if len(parts) == 4:
                st["recent"].append({"ok": parts[0] == "1", "latency_ms": float(parts[1]),
                                     "http_code": _int(parts[2]), "at": _iso(_int(parts[3]))})
        return st


health_checker = HealthChecker()
