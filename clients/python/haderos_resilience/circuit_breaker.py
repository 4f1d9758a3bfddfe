"""The circuit breaker shared through Redis with haderctl: the very same
acquire, record and renew scripts (internal/engine/breaker/lua), with the
keys and arguments haderctl's engine passes them.

    async with circuit_breaker("aramex"):      @circuit_breaker("aramex")
        ...                                    async def call(): ...

    __aenter__ ── acquire.lua ──┬─ allow (closed, disabled)
                                ├─ probe (half-open: a slot leased to a
                                │         token, renewed every third of
                                │         the lease while the call runs)
                                └─ reject ──▶ CircuitBreakerOpenException
                                              (retry_after_seconds)
    __aexit__ ── no exception: success ── record.lua (only when it can
                                          change something)
              ── an exception: failure ── record.lua
              ── cancelled: neither ───── record.lua "release" (a probe's
                                          slot is given back at once)

While Redis is unreachable each process runs an in-memory breaker per
name by the same rules (redis_unavailable "allow", the default) or
refuses every call ("deny"), as haderctl's engine does; Redis is tried
again a second later, and its state wins once it answers.

A breaker runs with the settings stored with it in Redis (set by
``haderctl breaker configure`` or the first writer); this process' own,
from its arguments or CIRCUIT_BREAKER_* as haderctl reads them, only seed
a breaker that has none.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import math
import os
import secrets
import socket
import time
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from . import _core, _local
from ._core import REDIS_DOWN, redis_errors

log = logging.getLogger("haderos_resilience.circuit_breaker")

MAX_THRESHOLD = 2**31 - 1
MAX_DURATION = 7 * 24 * 3600.0
FALLBACK_WINDOW_MS = 10 * 60 * 1000
STREAM_CAP = 1000

# this process among a breaker's failure reporters (min_reporters counts
# distinct ones): "<host>/<pid>/<random>", as haderctl's engine makes it
REPORTER = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


class CircuitBreakerOpenException(Exception):
    """The breaker refused the call: OPEN, FORCED_OPEN, or HALF_OPEN with
    every probe slot taken. retry_after_seconds is the time to the next
    probe; math.inf when an operator forced it open (it admits calls again
    only after ``haderctl breaker reset``)."""

    def __init__(self, name: str, retry_after_seconds: float, state: str = "open", redis_down: bool = False,
                 in_memory: bool = False):
        self.name = name
        self.retry_after_seconds = retry_after_seconds
        self.state = state
        self.redis_down = redis_down
        # refused by this process' in-memory breaker (Redis unreachable)
        self.in_memory = in_memory
        super().__init__(self._message())

    def _message(self) -> str:
        if self.redis_down:
            return f"breaker {self.name} refuses calls while Redis is unreachable (redis_unavailable: deny)"
        if self.state == "forced_open":
            return (f"breaker {self.name} is forced open by an operator; it admits calls again after "
                    f"`haderctl breaker reset {self.name}`")
        wait = _round(self.retry_after_seconds)
        where = " (in memory: Redis is unreachable)" if self.in_memory else ""
        if self.state == "half_open":
            return f"breaker {self.name} is half-open{where} and every probe slot is taken; next probe in {wait}"
        return f"breaker {self.name} is open{where}; next probe in {wait}"


def _round(seconds: float) -> str:
    ms = max(0, int(math.ceil(seconds * 1000))) if math.isfinite(seconds) else 0
    return _core.go_duration(ms * 1_000_000 if ms < 1000 else round(ms / 1000) * 1_000_000_000)


class BreakerCorruptError(Exception):
    """The breaker's keys do not hold a valid breaker (written by hand);
    ``haderctl breaker reset NAME`` repairs it."""

    def __init__(self, name: str, detail: str):
        self.name, self.detail = name, detail
        super().__init__(f"breaker {name} is corrupt in Redis: {detail} (`haderctl breaker reset {name}` repairs it)")


@dataclasses.dataclass(frozen=True)
class BreakerSettings:
    """One breaker's settings; seconds are floats. The defaults are
    haderctl's (the seed's): 3 failures open it, 120 s until it probes, 2
    probe successes close it; max_probes 0 means success_threshold."""
    failure_threshold: int = 3
    success_threshold: int = 2
    recovery_timeout: float = 120.0
    max_probes: int = 0
    probe_lease: float = 30.0
    min_reporters: int = 1
    reporter_window: float = 60.0
    # this process' own: what it does while Redis is unreachable ("allow":
    # run an in-memory breaker; "deny": refuse every call)
    redis_unavailable: str = "allow"

    def filled(self) -> "BreakerSettings":
        return dataclasses.replace(self, max_probes=self.max_probes or self.success_threshold)

    def validate(self) -> "BreakerSettings":
        """Raise ValueError naming the bad field (Settings.Validate's rules)."""
        for f in ("failure_threshold", "success_threshold", "max_probes", "min_reporters"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_THRESHOLD:
                raise ValueError(f"{f} must be a whole number from 1 to {MAX_THRESHOLD}, not {v!r}")
        for f in ("recovery_timeout", "probe_lease", "reporter_window"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.001 <= v <= MAX_DURATION:
                raise ValueError(f"{f} must be from 0.001 s to 7 days (in seconds), not {v!r}")
        if self.max_probes < self.success_threshold:
            raise ValueError(f"max_probes ({self.max_probes}) must be at least success_threshold "
                             f"({self.success_threshold}), or the breaker could never close")
        if self.redis_unavailable not in ("allow", "deny"):
            raise ValueError(f"redis_unavailable must be allow or deny, not {self.redis_unavailable!r}")
        return self

    @staticmethod
    def from_env(environ: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """The CIRCUIT_BREAKER_* variables haderctl reads, as fields."""
        env = os.environ if environ is None else environ
        out: Dict[str, Any] = {}
        for var, field in (("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "failure_threshold"),
                           ("CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "success_threshold")):
            v = env.get(var, "")
            if v:
                if not v.strip().isdigit() or not 1 <= int(v) <= MAX_THRESHOLD:
                    raise ValueError(f"{var}: {v!r} is not a whole number from 1 to {MAX_THRESHOLD}")
                out[field] = int(v)
        v = env.get("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "")
        if v:
            try:
                d = _core.parse_duration(v)
            except ValueError:
                raise ValueError(f"CIRCUIT_BREAKER_RECOVERY_TIMEOUT: {v!r} is not a number of seconds "
                                 "(or a duration such as 2m)") from None
            if not 0.001 <= d <= MAX_DURATION:
                raise ValueError(f"CIRCUIT_BREAKER_RECOVERY_TIMEOUT: {v!r} is out of range: 1ms to 168h")
            out["recovery_timeout"] = d
        return out


def _clock(ms: int) -> str:
    """Unix ms as a UTC time of day, HH:MM:SS (Go's time.TimeOnly)."""
    return time.strftime("%H:%M:%S", time.gmtime(ms // 1000))


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


@dataclasses.dataclass
class Reply:
    """A breaker script's flat reply (reply() in breaker/lua/prelude.lua)."""
    verdict: str
    state: str
    generation: int
    failures: int
    successes: int
    wait_ms: int
    opened_at: int
    last_failure: int
    now: int
    events: List[Dict[str, Any]]
    settings: BreakerSettings
    reporters: int

    @classmethod
    def decode(cls, raw: List[Any]) -> "Reply":
        if len(raw) != 18:
            raise RuntimeError(f"unexpected breaker script reply of {len(raw)} fields")
        n = [int(x) if str(x).lstrip("-").isdigit() else 0 for x in raw]
        s = BreakerSettings(failure_threshold=n[10], success_threshold=n[11], recovery_timeout=n[12] / 1000,
                            max_probes=n[13], probe_lease=n[14] / 1000, min_reporters=n[15],
                            reporter_window=n[16] / 1000)
        evs = json.loads(raw[9]) if raw[9] else []
        return cls(str(raw[0]), str(raw[1]), n[2], n[3], n[4], n[5], n[6], n[7], n[8],
                   evs if isinstance(evs, list) else [], s, n[17])


@dataclasses.dataclass
class Admission:
    """One admitted call: finished by CircuitBreaker.finish or .release."""
    generation: int = 0
    token: str = ""  # a half-open probe's slot
    failures: int = 0
    local: Optional[_local.LocalBreaker] = None  # admitted in memory: Redis unreachable
    probe: bool = False  # a local probe slot
    renewer: Optional[asyncio.Task] = None
    renew_stop: Optional[asyncio.Event] = None  # ends the renewer (never cancelled)

    def stop(self) -> None:
        if self.renew_stop is not None:
            self.renew_stop.set()
            self.renew_stop = self.renewer = None


_registered: Dict[Tuple[int, str, str], bool] = {}
_renewers: Set[asyncio.Task] = set()


class CircuitBreaker:
    """A breaker shared with every haderctl and Python process on the same
    Redis and namespace. Use it as ``async with`` or as a decorator of an
    async function; one instance may guard many concurrent calls."""

    def __init__(self, name: str, failure_threshold: Optional[int] = None, success_threshold: Optional[int] = None,
                 recovery_timeout: Optional[float] = None, max_probes: Optional[int] = None,
                 probe_lease: Optional[float] = None, min_reporters: Optional[int] = None,
                 reporter_window: Optional[float] = None, redis_unavailable: Optional[str] = None):
        self.name = _core.valid_name("breaker", name)
        given = {k: v for k, v in dict(failure_threshold=failure_threshold, success_threshold=success_threshold,
                                       recovery_timeout=recovery_timeout, max_probes=max_probes,
                                       probe_lease=probe_lease, min_reporters=min_reporters,
                                       reporter_window=reporter_window,
                                       redis_unavailable=redis_unavailable).items() if v is not None}
        self.own = BreakerSettings(**{**BreakerSettings.from_env(), **given}).filled().validate()
        # the settings the breaker runs with, as the last script reply said
        self.shared: Optional[BreakerSettings] = None
        self._calls: Dict[Any, List[Admission]] = {}

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r})"

    # -- the scripts --------------------------------------------------------

    async def _run(self, relpath: str, *extra: Any, extra_keys: Sequence[str] = ()) -> Any:
        r = _core.get_redis()
        keys = _core.Keys()
        s = self.own
        memo = (_core.client_key(r), keys.namespace, self.name)
        if not _registered.get(memo):
            await _core.check_schema(r, keys)
            await r.sadd(keys.breakers(), self.name)
            _registered[memo] = True
        who = _core.who_json(reporter=REPORTER, min_reporters=s.min_reporters,
                             reporter_window_ms=_ms(s.reporter_window))
        args = ["", s.failure_threshold, s.success_threshold, _ms(s.recovery_timeout), s.max_probes,
                _ms(s.probe_lease), who, keys.breaker_channel(), STREAM_CAP, self.name, *extra]
        bkeys = [keys.breaker(self.name), keys.breaker_probes(self.name), keys.breaker_events(self.name),
                 keys.breaker_reporters(self.name), *extra_keys]
        try:
            return await _core.script(relpath)(r, bkeys, args)
        except redis_errors.ResponseError as e:
            msg = str(e)
            if msg.startswith("CORRUPT "):
                raise BreakerCorruptError(self.name, msg[len("CORRUPT "):]) from None
            if msg.startswith("WRONGTYPE"):
                raise BreakerCorruptError(self.name, "the key is not a hash") from None
            raise

    async def _script(self, relpath: str, *extra: Any, extra_keys: Sequence[str] = ()) -> Reply:
        rep = Reply.decode(await self._run(relpath, *extra, extra_keys=extra_keys))
        self.shared = dataclasses.replace(rep.settings, redis_unavailable=self.own.redis_unavailable)
        for ev in rep.events:
            if not ev.get("action"):
                log.debug("breaker %s: %s -> %s (%s)", self.name, ev.get("from"), ev.get("to"), ev.get("reason"))
        return rep

    async def acquire(self) -> Admission:
        """Ask to make one call; raises CircuitBreakerOpenException when
        refused. Finish the admission with finish() or release()."""
        if _local.outage.is_down():
            return self._admit_local()
        token = secrets.token_hex(12)
        try:
            rep = await self._script("breaker/lua/acquire.lua", token)
        except asyncio.CancelledError:
            # the script may have run all the same and leased a probe slot
            # to token: give it back now, not when its lease runs out
            asyncio.ensure_future(self._release_quietly(Admission(token=token)))
            raise
        except REDIS_DOWN as e:
            self._mark_down(e)
            return self._admit_local()
        used = _local.outage.clear(self._key())
        if used is not None:
            log.info("breaker %s: Redis reachable again, the shared state resumes", self.name)
            # Redis may be back empty (restarted): register the breaker again
            for memo in [m for m in _registered if m[1:] == self._key()]:
                del _registered[memo]
            # inline, not in the background as the Go engine does: one
            # round trip on the first call after the outage, and a process
            # that runs one asyncio.run per call still reports it
            await self._report_fallback(used)
        if rep.verdict == "allow":
            return Admission(generation=rep.generation, failures=rep.failures)
        if rep.verdict == "probe":
            a = Admission(generation=rep.generation, token=token, renew_stop=asyncio.Event())
            a.renewer = asyncio.ensure_future(self._keep_probe(token, rep.settings.probe_lease, a.renew_stop))
            # held until it ends: a stopped renewer finishes its Redis call
            # after the admission may be gone
            _renewers.add(a.renewer)
            a.renewer.add_done_callback(_renewers.discard)
            return a
        wait = math.inf if rep.wait_ms < 0 else rep.wait_ms / 1000
        raise CircuitBreakerOpenException(self.name, wait, rep.state)

    async def _report_fallback(self, used: _local.LocalBreaker) -> None:
        """Tell Redis this process ran the breaker in memory during the
        outage (fallback.lua), as the Go engine's reportFallbacks does:
        once, best effort, a failure logged at debug (a cancellation
        passes through)."""
        until = int(time.time() * 1000)
        calls = used.calls
        reason = (f"ran on its in-memory breaker from {_clock(used.since_ms)} to {_clock(until)} UTC "
                  f"({calls} {'call' if calls == 1 else 'calls'}) \u2014 {REPORTER}")
        try:
            await self._script("breaker/lua/fallback.lua", used.since_ms, until, calls, FALLBACK_WINDOW_MS, reason,
                               extra_keys=[_core.Keys().breaker_fallbacks(self.name)])
        except Exception as e:  # noqa: BLE001 - best effort: the outage is over, the calls made
            log.debug("breaker %s: reporting the in-memory fallback failed: %s", self.name, _core.redact(e))

    def _key(self) -> Tuple[str, str]:
        return (_core.settings().namespace, self.name)

    def _mark_down(self, err: BaseException) -> None:
        if _local.outage.mark_down():
            log.warning("breaker %s: Redis unreachable, using in-memory breakers: %s", self.name, _core.redact(err))

    def _local_breaker(self) -> _local.LocalBreaker:
        s = self.shared or self.own  # the settings last learnt from Redis
        return _local.outage.breaker(self._key(), lambda: _local.LocalBreaker(
            s.failure_threshold, s.success_threshold, s.recovery_timeout, s.max_probes, s.probe_lease))

    def _admit_local(self) -> Admission:
        # Redis is unreachable: deny refuses; allow runs this process'
        # in-memory breaker by the scripts' rules
        if self.own.redis_unavailable == "deny":
            raise CircuitBreakerOpenException(self.name, _local.RETRY_AFTER, "open", redis_down=True)
        lb = self._local_breaker()
        gen, probe, refused = lb.allow()
        if refused:
            raise CircuitBreakerOpenException(self.name, refused[1], refused[0], in_memory=True)
        return Admission(generation=gen, local=lb, probe=probe)

    async def _keep_probe(self, token: str, lease: float, stop: asyncio.Event) -> None:
        # renew the probe's lease every third of it while the call runs,
        # following a lease changed mid-probe, until the admission ends
        # (stop; see _core.stopped_within for why it is not cancelled)
        try:
            while not await _core.stopped_within(stop, max(lease / 3, 0.001)):
                try:
                    in_force = int(await self._run("breaker/lua/renew.lua", token))
                except REDIS_DOWN:
                    continue
                if in_force == 0:
                    return  # the probe is gone: the breaker moved on
                lease = in_force / 1000
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001 - the lease frees the slot
            log.warning("breaker %s: renewing a probe failed: %s", self.name, _core.redact(e))

    async def finish(self, a: Admission, success: bool) -> Optional[Reply]:
        """Record an admitted call's outcome (None: nothing to record)."""
        a.stop()
        if a.local is not None:
            a.local.record(a.generation, a.probe, success)
            return None
        if success and not a.token and a.failures == 0:
            return None  # nothing to clear: the happy path costs no round trip
        try:
            return await self._script("breaker/lua/record.lua", "success" if success else "failure",
                                      str(a.generation), a.token)
        except REDIS_DOWN as e:
            # counted in memory instead, as an untracked outcome
            self._mark_down(e)
            lb = self._local_breaker()
            lb.record(lb.generation, False, success)
            return None

    async def release(self, a: Admission) -> None:
        """Give an admitted call back without an outcome: neither a success
        nor a failure; a probe's slot is freed at once."""
        a.stop()
        if a.local is not None:
            a.local.release(a.generation, a.probe)
            return
        if not a.token:
            return
        await self._script("breaker/lua/record.lua", "release", str(a.generation), a.token)

    async def _release_quietly(self, a: Admission) -> None:
        try:
            await self.release(a)
        except Exception as e:  # noqa: BLE001 - its lease frees it
            log.warning("breaker %s: releasing a probe failed; its lease frees it: %s", self.name, _core.redact(e))

    async def record(self, success: bool) -> Reply:
        """Report an outcome not tied to an admission, as ``haderctl breaker
        record`` does (an untracked report)."""
        return await self._script("breaker/lua/record.lua", "success" if success else "failure", "", "")

    async def status(self) -> Dict[str, Any]:
        """get_breaker_status(self.name)."""
        return await get_breaker_status(self.name, self.own)

    # -- async with / decorator ---------------------------------------------

    async def __aenter__(self) -> "CircuitBreaker":
        a = await self.acquire()
        self._calls.setdefault(asyncio.current_task(), []).append(a)
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        task = asyncio.current_task()
        stack = self._calls[task]
        a = stack.pop()
        if not stack:
            del self._calls[task]
        if exc_type is None or issubclass(exc_type, Exception):
            # the call's own result or exception is what the caller gets:
            # a report that fails is logged, as haderctl's engine logs it
            try:
                await self.finish(a, exc_type is None)
            except Exception as e:  # noqa: BLE001
                log.warning("breaker %s: recording an outcome failed: %s", self.name, _core.redact(e))
        else:
            # cancelled (or the process is stopping): the call says nothing
            # about the service; shielded so the release survives the
            # cancellation that caused it
            await asyncio.shield(self._release_quietly(a))
        return False

    def __call__(self, fn: Any) -> Any:
        if not asyncio.iscoroutinefunction(fn):
            raise TypeError(f"circuit_breaker({self.name!r}) decorates an async function, not {fn!r}")

        @functools.wraps(fn)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            async with self:
                return await fn(*args, **kwargs)
        return guarded


def circuit_breaker(name: str, failure_threshold: Optional[int] = None, success_threshold: Optional[int] = None,
                    recovery_timeout: Optional[float] = None, max_probes: Optional[int] = None,
                    probe_lease: Optional[float] = None, min_reporters: Optional[int] = None,
                    reporter_window: Optional[float] = None,
                    redis_unavailable: Optional[str] = None) -> CircuitBreaker:
    """The breaker called name, for ``async with`` or as a decorator. The
    settings given (else CIRCUIT_BREAKER_*, else haderctl's defaults) only
    seed a breaker Redis holds no settings for."""
    return CircuitBreaker(name, failure_threshold=failure_threshold, success_threshold=success_threshold,
                          recovery_timeout=recovery_timeout, max_probes=max_probes, probe_lease=probe_lease,
                          min_reporters=min_reporters, reporter_window=reporter_window,
                          redis_unavailable=redis_unavailable)


# --- status ------------------------------------------------------------------

_STATES = ("closed", "open", "half_open", "forced_open", "disabled")
_DIGITS = __import__("re").compile(r"[0-9]{1,15}")


async def get_breaker_status(name: str, own: Optional[BreakerSettings] = None) -> Dict[str, Any]:
    """One breaker in the seed's monitoring shape, as ``haderctl breaker
    status NAME -o json`` shows it under circuit_breakers[NAME]: state,
    failure_count, success_count, last_failure_time (Unix s or None),
    time_since_last_failure, should_attempt_reset, settings (Go duration
    strings), settings_stored, reporters, fallback_reporters. Read on
    Redis' clock; writes nothing."""
    _core.valid_name("breaker", name)
    own = (own or BreakerSettings(**BreakerSettings.from_env())).filled()
    r = _core.get_redis()
    keys = _core.Keys()
    await _core.check_schema(r, keys, claim=False)
    async with r.pipeline(transaction=False) as p:
        p.time()
        p.hgetall(keys.breaker(name))
        p.zrange(keys.breaker_reporters(name), 0, -1, withscores=True)
        p.zrange(keys.breaker_fallbacks(name), 0, -1, withscores=True)
        replies = await p.execute(raise_on_error=False)
    (sec, usec), h = replies[0], replies[1]
    now = int(sec) * 1000 + int(usec) // 1000
    state, problem = "closed", ""
    if isinstance(h, Exception):
        h, state, problem = {}, "corrupt", "the key is not a hash"

    def num(field: str, bound: Optional[int] = None) -> Optional[int]:
        nonlocal state, problem
        v = h.get(field)
        if v is None or v == "":
            return None
        if not _DIGITS.fullmatch(v) or (bound is not None and int(v) > bound):
            state, problem = "corrupt", problem or f"field '{field}' holds {v!r}"
            return None
        return int(v)

    if "state" in h:
        state = h["state"] if h["state"] in _STATES else "corrupt"
    failures, successes = num("failures") or 0, num("successes") or 0
    opened_at = num("opened_at", now + 3600_000) or 0
    last_failure = num("last_failure") or 0
    stored: Dict[str, int] = {}
    for field, bound in (("failure_threshold", MAX_THRESHOLD), ("success_threshold", MAX_THRESHOLD),
                         ("recovery_timeout_ms", 604800000), ("max_probes", MAX_THRESHOLD),
                         ("probe_lease_ms", 604800000), ("min_reporters", MAX_THRESHOLD),
                         ("reporter_window_ms", 604800000)):
        v = num(field, bound)
        if v == 0:
            state = "corrupt"
        elif v is not None:
            stored[field] = v
    s = dataclasses.replace(
        own, **{f: stored[k] for f, k in (("failure_threshold", "failure_threshold"),
                                          ("success_threshold", "success_threshold"),
                                          ("max_probes", "max_probes"), ("min_reporters", "min_reporters"))
                if k in stored},
        **{f: stored[k] / 1000 for f, k in (("recovery_timeout", "recovery_timeout_ms"),
                                            ("probe_lease", "probe_lease_ms"),
                                            ("reporter_window", "reporter_window_ms")) if k in stored})
    should_reset = state == "open" and opened_at + _ms(s.recovery_timeout) <= now
    reporters = 0
    if state == "closed" and s.min_reporters > 1 and isinstance(replies[2], list):
        reporters = sum(1 for _, score in replies[2] if score >= now - _ms(s.reporter_window))
    fallbacks = 0
    if isinstance(replies[3], list):
        fallbacks = sum(1 for _, score in replies[3] if score >= now - FALLBACK_WINDOW_MS)
    ns = 1_000_000
    return {
        "state": state,
        "failure_count": failures,
        "success_count": successes,
        "last_failure_time": last_failure / 1000 if last_failure else None,
        "time_since_last_failure": (now - last_failure) / 1000 if last_failure else 0,
        "should_attempt_reset": should_reset,
        "settings": {"failure_threshold": s.failure_threshold, "success_threshold": s.success_threshold,
                     "recovery_timeout": _core.go_duration(_ms(s.recovery_timeout) * ns),
                     "max_probes": s.max_probes, "probe_lease": _core.go_duration(_ms(s.probe_lease) * ns),
                     "min_reporters": s.min_reporters,
                     "reporter_window": _core.go_duration(_ms(s.reporter_window) * ns)},
        "settings_stored": all(k in stored for k in ("failure_threshold", "success_threshold",
                                                      "recovery_timeout_ms", "max_probes", "probe_lease_ms")),
        "reporters": reporters,
        "fallback_reporters": fallbacks,
    }
