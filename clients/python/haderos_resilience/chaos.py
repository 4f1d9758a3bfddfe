"""Chaos experiments shared with haderctl: the same switch, guards, limits,
experiment documents, emergency stop and audit (docs/redis-schema.md,
"Chaos"). An experiment injected here is applied by every haderctl data
plane (health checks, queue drains, the gateway) and stopped by
``haderctl chaos stop-all``; Python itself applies no faults.

    enable_chaos ── guard (environment) ── switch.lua
    inject_* ── guard ── validate (kinds, limits) ── start.lua ──▶
        <ns>:{chaos}:exp:<id> (TTL = duration) + index + audit + PUBLISH
    stop / stop_all / disable_chaos ── end.lua (frees memory only) ── book.lua
    run_game_days_scenario ── ``haderctl chaos run NAME --wait`` (one
        definition of the scenarios)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pwd
import random
import shutil
import socket
import time
from typing import Any, Dict, List, Optional, Sequence

from . import _core
from .health import _redis_call, _text

KINDS = ("latency", "error", "abort", "timeout", "cpu", "memory")
# Environments chaos may run in by default; production never.
DEFAULT_ALLOWED = ("development", "test", "staging")
# Limits by default and the ceilings no setting can lift (chaos.Limits).
DEFAULT_LIMITS = {"max_duration": 15 * 60.0, "max_concurrent": 5, "max_per_hour": 20,
                  "max_cores": 1.0, "max_memory_mb": 512}
CEILINGS = {"max_duration": 4 * 3600.0, "max_concurrent": 50, "max_per_hour": 500,
            "max_cores": 8.0, "max_memory_mb": 8192}
_CI_VARS = ("GITHUB_RUN_ID", "CI_JOB_ID", "BUILD_ID", "CIRCLE_BUILD_NUM", "BUILDKITE_BUILD_ID")
_AUDIT_MAX = 10000

log = logging.getLogger("haderos_resilience.chaos")


class ChaosRefusedError(Exception):
    """A safety guard refused (haderctl's exit 4): the environment, the
    switch, the halt latch or a limit. The message says which."""


def identity() -> tuple:
    """("user@host" plus the CI job, the CI job): who the audit names, as
    haderctl's chaos.Identity."""
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        name = os.environ.get("USER", "")
    who, ci_job = f"{name}@{socket.gethostname()}", ""
    for var in _CI_VARS:
        if os.environ.get(var):
            ci_job = f"{var}={os.environ[var]}"
            who += f" ({ci_job})"
            break
    return who, ci_job


def environment_allowed(env: Optional[str], allowed: Sequence[str]) -> None:
    """Raise ChaosRefusedError unless chaos may act in env (haderctl's
    EnvironmentAllowed): set, on the allow-list, never production."""
    allowed = list(allowed) or list(DEFAULT_ALLOWED)
    e = (env or "").strip().lower()
    if not e:
        raise ChaosRefusedError("chaos refused: the environment is not set (HADERCTL_ENV or environment=); "
                                "allowed: " + ", ".join(allowed))
    if e in ("production", "prod"):
        raise ChaosRefusedError("chaos refused: the environment is production")
    if e not in allowed:
        raise ChaosRefusedError(f"chaos refused: environment {env!r} is not in the allow-list ({', '.join(allowed)})")


def _go_duration_s(seconds: float) -> str:
    return _core.go_duration(_core.seconds_ns(seconds))


class ChaosSystem:
    """The chaos control plane over the namespace's Redis.

    environment: where this process runs (default $HADERCTL_ENV, read when
    needed); allowed_environments: where chaos may act (default
    development, test, staging). limits: overrides of DEFAULT_LIMITS
    (seconds for max_duration), clamped to CEILINGS; haderctl reads its
    own from its config file, so give the same values to both."""

    def __init__(self, environment: Optional[str] = None,
                 allowed_environments: Optional[Sequence[str]] = None,
                 limits: Optional[Dict[str, Any]] = None) -> None:
        self._environment = environment
        self.allowed_environments = list(allowed_environments or DEFAULT_ALLOWED)
        merged = dict(DEFAULT_LIMITS)
        for k, v in (limits or {}).items():
            if k not in DEFAULT_LIMITS:
                raise ValueError(f"unknown chaos limit {k!r}: use {', '.join(DEFAULT_LIMITS)}")
            if v and v > 0:
                merged[k] = v
        self.limits = {k: min(v, CEILINGS[k]) for k, v in merged.items()}
        self.who, self.ci_job = identity()

    @property
    def environment(self) -> str:
        """Where this process runs: as set, else $HADERCTL_ENV."""
        return self._environment if self._environment is not None else os.environ.get("HADERCTL_ENV", "")

    @environment.setter
    def environment(self, value: Optional[str]) -> None:
        self._environment = value  # None: $HADERCTL_ENV again

    async def _redis(self):
        r = _core.get_redis()
        keys = _core.Keys(_core.settings().namespace)
        await _core.check_schema(r, keys)  # once per client and namespace
        return r, keys

    @staticmethod
    def _base_keys(keys, *extra: str) -> List[str]:
        return [keys.chaos_state(), keys.chaos_active(), keys.chaos_starts(), keys.chaos_audit(), *extra]

    async def _audit_refusal(self, what: str, why: str) -> None:
        # best effort, as haderctl's: the refusal stands without its entry
        try:
            r, keys = await self._redis()
            await r.xadd(keys.chaos_audit(), {"event": "refused", "id": what, "by": self.who, "detail": why,
                                              "at": str(int(time.time() * 1000))}, maxlen=_AUDIT_MAX, approximate=True)
        except Exception as err:  # noqa: BLE001
            log.warning("chaos refusal not audited: %s", _core.redact(str(err)))

    async def _guard(self, what: str) -> None:
        try:
            environment_allowed(self.environment, self.allowed_environments)
        except ChaosRefusedError as e:
            await self._audit_refusal(what, str(e))
            raise

    @_redis_call
    async def enable_chaos(self, environment: Optional[str] = None) -> None:
        """Turn chaos on in the namespace (``haderctl chaos enable``);
        refused (ChaosRefusedError, audited) outside the allowed
        environments. environment, when given, becomes this process'."""
        if environment is not None:
            self._environment = environment
        await self._guard("enable")
        r, keys = await self._redis()
        await _core.script("chaos/lua/switch.lua")(
            r, self._base_keys(keys), [self.who, keys.chaos_channel(), "enabled", "1", "enabled"])

    @_redis_call
    async def disable_chaos(self, reason: str = "") -> Dict[str, Any]:
        """Turn chaos off and end every experiment (``haderctl chaos
        disable``; works in any environment)."""
        return await self._stop_all("chaos disabled: " + reason, "disable")

    @_redis_call
    async def resume(self) -> None:
        """Clear the halt latched by stop_all (``haderctl chaos resume``)."""
        r, keys = await self._redis()
        await _core.script("chaos/lua/switch.lua")(
            r, self._base_keys(keys), [self.who, keys.chaos_channel(), "halted", "0", "resumed"])

    @_redis_call
    async def get_state(self) -> Dict[str, Any]:
        """The switch, the latch and this process' environment, in
        ``haderctl chaos status -o json``'s names (without experiments)."""
        r, keys = await self._redis()
        h = {_text(k): _text(v) for k, v in (await r.hgetall(keys.chaos_state())).items()}
        st: Dict[str, Any] = {"enabled": h.get("enabled") == "1", "halted": h.get("halted") == "1",
                              "environment": self.environment, "environment_allowed": True}
        if h.get("enabled_by"):
            st["enabled_by"] = h["enabled_by"]
        if st["halted"]:
            st["halted_by"], st["halt_reason"] = h.get("halted_by", ""), h.get("halt_reason", "")
        try:
            environment_allowed(self.environment, self.allowed_environments)
        except ChaosRefusedError as e:
            st["environment_allowed"], st["environment_refusal"] = False, str(e).replace("chaos refused: ", "", 1)
        return st

    def get_chaos_monkey(self, service: str) -> "ChaosMonkey":
        """The experiments on one service ("all" or "*": every service)."""
        if service not in ("all", "*"):
            _core.valid_name("service", service)
        return ChaosMonkey(self, "*" if service in ("all", "*") else service)

    def _validate(self, e: Dict[str, Any]) -> None:
        """haderctl's Experiment.Validate: ValueError for bad input,
        ChaosRefusedError for a limit."""
        if e["kind"] not in KINDS:
            raise ValueError(f"unknown kind {e['kind']!r}: use {', '.join(KINDS)}")
        if not e.get("services"):
            raise ValueError("a target service is required (a name, or all)")
        if not 0 < e["probability"] <= 1:
            raise ValueError("probability must be above 0 and at most 1 (100%)")
        if e["duration"] <= 0:
            raise ValueError("a positive duration_seconds is required")
        if e["duration"] > _core.seconds_ns(self.limits["max_duration"]):
            raise ChaosRefusedError(f"chaos refused: duration {_go_duration_s(e['duration'] / 1e9)} exceeds the "
                                    f"{_go_duration_s(self.limits['max_duration'])} limit (chaos.max_duration)")
        if e["kind"] == "latency" and not (e.get("delay", 0) > 0 and 0 <= e.get("jitter", 0) <= e.get("delay", 0)):
            raise ValueError("latency needs delay_ms > 0 and 0 <= jitter_ms <= delay_ms")
        if e["kind"] == "error" and not 400 <= e.get("status", 0) <= 599:
            raise ValueError("error needs a status between 400 and 599")
        if e["kind"] == "cpu":
            if not e.get("cores", 0) > 0:
                raise ValueError("cpu needs cores > 0")
            if e["cores"] > self.limits["max_cores"]:
                raise ChaosRefusedError(f"chaos refused: {e['cores']:.1f} cores exceeds the "
                                        f"{self.limits['max_cores']:.1f}-core cap (chaos.max_cores)")
        if e["kind"] == "memory":
            if not e.get("memory_mb", 0) > 0:
                raise ValueError("memory needs memory_mb > 0")
            if e["memory_mb"] > self.limits["max_memory_mb"]:
                raise ChaosRefusedError(f"chaos refused: {e['memory_mb']} MB exceeds the "
                                        f"{self.limits['max_memory_mb']} MB cap (chaos.max_memory_mb)")

    @_redis_call
    async def start(self, experiment: Dict[str, Any], after_seconds: float = 0) -> Dict[str, Any]:
        """Start an experiment document (haderctl's fields, durations in
        nanoseconds) after the guards; returns it as stored, with start_ms
        and end_ms on Redis' clock."""
        e = dict(experiment)
        e.setdefault("id", "ch-%012x" % (random.getrandbits(64) >> 16))
        e.setdefault("probability", 1.0)
        e.setdefault("duration", 0)
        await self._guard(e["id"])
        try:
            self._validate(e)
        except ChaosRefusedError as err:
            await self._audit_refusal(e["id"], str(err))
            raise
        e["by"] = self.who
        doc = {k: e[k] for k in ("id", "kind", "services", "probability")}
        for k in ("method", "path_prefix", "delay", "jitter", "status", "cores", "memory_mb"):
            if e.get(k):
                doc[k] = e[k]
        doc["duration"] = e["duration"]
        doc["by"] = e["by"]
        if self.ci_job:
            doc["ci_job"] = self.ci_job
        doc["reason"] = e.get("reason", "")
        if e.get("scenario"):
            doc["scenario"] = e["scenario"]
        r, keys = await self._redis()
        status, body = await _core.script("chaos/lua/start.lua")(
            r, self._base_keys(keys, keys.chaos_experiment(e["id"])),
            [self.who, keys.chaos_channel(), _core.go_json(doc), e["duration"] // 1_000_000,
             self.limits["max_concurrent"], self.limits["max_per_hour"], e["id"], int(after_seconds * 1000)])
        if _text(status) != "ok":
            raise ChaosRefusedError("chaos refused: " + _text(body))
        return json.loads(_text(body))

    async def _end(self, ids: List[str], switch_off: bool, result: Dict[str, Any]):
        r, keys = await self._redis()
        reply = await _core.script("chaos/lua/end.lua")(
            r, [keys.chaos_state(), keys.chaos_active(), *(keys.chaos_experiment(i) for i in ids)],
            [keys.chaos_channel(), "1" if switch_off else "0", *ids])
        stopped, expired = [_text(x) for x in reply[0]], [_text(x) for x in reply[1]]
        if _text(reply[2]):
            result["warnings"].append("chaos not switched off: " + _text(reply[2]))
        return stopped, expired

    async def _book(self, reason: str, mode: str, stopped: List[str], expired: List[str],
                    result: Dict[str, Any]) -> None:
        r, keys = await self._redis()
        try:
            reply = await _core.script("chaos/lua/book.lua")(
                r, self._base_keys(keys), [self.who, keys.chaos_channel(), reason, mode, len(stopped), *stopped, *expired])
        except Exception as err:  # noqa: BLE001 - the experiments are gone already
            result["warnings"].append("bookkeeping not written: " + _core.redact(str(err)))
            return
        if reply:
            if mode == "halt":
                result["halted"] = _text(reply[0]) == "1"
            result["warnings"].extend(_text(w) for w in reply[1:])

    @_redis_call
    async def stop(self, experiment_id: str, reason: str = "") -> Dict[str, Any]:
        """End one experiment (``haderctl chaos stop``); "stopped" is empty
        when it was not running."""
        result: Dict[str, Any] = {"stopped": [], "halted": False, "warnings": []}
        stopped, expired = await self._end([experiment_id], False, result)
        result["stopped"] = stopped
        await self._book(reason, "", stopped, expired, result)
        return result

    @_redis_call
    async def stop_all(self, reason: str = "emergency stop") -> Dict[str, Any]:
        """The emergency stop (``haderctl chaos stop-all``): end every
        experiment, then latch the halt (no new one until resume()).
        Returns {"stopped", "halted", "warnings"} as haderctl's JSON."""
        return await self._stop_all(reason, "halt")

    async def _stop_all(self, reason: str, mode: str) -> Dict[str, Any]:
        # repeat until a pass finds nothing: a start between reading the
        # index and the latch is caught by the next pass (as haderctl)
        result: Dict[str, Any] = {"stopped": [], "halted": False, "warnings": []}
        r, keys = await self._redis()
        for n in range(10):
            try:
                ids = [_text(i) for i in await r.zrange(keys.chaos_active(), 0, -1)]
            except Exception as err:  # noqa: BLE001
                if n == 0:
                    raise
                result["warnings"].append("could not look again for experiments started meanwhile: "
                                          + _core.redact(str(err)))
                break
            if not ids and n > 0:
                break
            stopped, expired = await self._end(ids, n == 0 and mode == "disable", result)
            result["stopped"].extend(stopped)
            book_mode = mode if n == 0 else ""
            if book_mode or stopped or expired:
                await self._book(reason, book_mode, stopped, expired, result)
        if mode != "halt":
            result.pop("halted")
        return result

    @_redis_call
    async def list_active(self) -> List[Dict[str, Any]]:
        """The experiments that have not ended (running or scheduled), by
        end, on Redis' clock, as haderctl stores them. Reads only."""
        r, keys = await self._redis()
        async with r.pipeline(transaction=False) as p:
            p.time()
            p.zrange(keys.chaos_active(), 0, -1, withscores=True)
            now, index = await p.execute()
        sec, usec = now if isinstance(now, (list, tuple)) else (now, 0)
        now_ms = int(sec) * 1000 + int(usec) // 1000
        ids = [_text(m) for m, score in index if int(score) > now_ms]
        if not ids:
            return []
        out = []
        for raw in await r.mget([keys.chaos_experiment(i) for i in ids]):
            if raw is None:
                continue  # stopped meanwhile, or its TTL ran out
            try:
                e = json.loads(_text(raw))
            except ValueError:
                continue
            if e.get("end_ms", 0) > now_ms:
                out.append(e)
        return out

    async def run_game_days_scenario(self, name: str, time_scale: float = 1.0,
                                     services: Optional[Sequence[str]] = None, wait: bool = True,
                                     haderctl: Optional[str] = None) -> Any:
        """Play a built-in scenario (network_storm, service_cascade,
        resource_crunch, blackout) by running ``haderctl chaos run NAME
        [--wait] -o json`` against this namespace, so the scenarios are
        defined once. With wait it returns the game day's journal (its
        "verdict" is "passed" or says what deviated); without, the
        scheduled experiments. haderctl: the binary (default
        $HADERCTL_BIN, else haderctl on PATH)."""
        if not 0 < time_scale <= 10:
            raise ValueError(f"invalid time_scale {time_scale}: use a factor above 0 and at most 10")
        for s in services or ():
            _core.valid_name("service", s)
        binary = haderctl or os.environ.get("HADERCTL_BIN") or shutil.which("haderctl")
        if not binary:
            raise FileNotFoundError("haderctl not found: set HADERCTL_BIN or put haderctl on PATH")
        args = [binary, "chaos", "run", name, "--time-scale", repr(float(time_scale)), "-o", "json"]
        if services:
            args += ["--services", ",".join(services)]
        if wait:
            args.append("--wait")
        env = dict(os.environ)
        # the connection goes by environment only: no password on argv
        env.update(_core.haderctl_env())
        env["HADERCTL_ENV"] = self.environment
        proc = await asyncio.create_subprocess_exec(*args, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        for line in _text(err).splitlines():
            if line.startswith("gameday: "):
                log.info("%s", _core.redact(line))
        lines = [ln for ln in _text(err).splitlines() if ln.startswith("haderctl:")]
        why = _core.redact(lines[-1] if lines else _text(err).strip()[-300:])
        if proc.returncode == 4:
            raise ChaosRefusedError(why.replace("haderctl: ", "", 1))
        if proc.returncode == 2:
            raise ValueError(why.replace("haderctl: ", "", 1))
        if proc.returncode not in (0, 1) or not out.strip():
            raise RuntimeError(f"haderctl chaos run {name} failed (exit {proc.returncode}): {why}")
        return json.loads(out)


class ChaosMonkey:
    """Experiments on one service, in the seed's names. Durations are
    seconds; each call returns the experiment as stored."""

    def __init__(self, system: ChaosSystem, service: str) -> None:
        self.system = system
        self.service = service

    def _experiment(self, kind: str, duration_seconds: float, probability: float, reason: str,
                    method: str, path_prefix: str, **params: Any) -> Dict[str, Any]:
        e = {"kind": kind, "services": [self.service], "probability": float(probability),
             "duration": _core.seconds_ns(duration_seconds), "reason": reason, "method": method.upper(), "path_prefix": path_prefix}
        e.update(params)
        return e

    async def inject_network_delay(self, delay_ms: float, duration_seconds: float, jitter_ms: float = 0,
                                   probability: float = 1.0, reason: str = "", method: str = "",
                                   path_prefix: str = "") -> Dict[str, Any]:
        """Delay calls to the service by delay_ms ± jitter_ms (haderctl
        chaos inject latency)."""
        return await self.system.start(self._experiment(
            "latency", duration_seconds, probability, reason, method, path_prefix,
            delay=_core.seconds_ns(delay_ms / 1000), jitter=_core.seconds_ns(jitter_ms / 1000)))

    async def inject_failure(self, failure_rate: Optional[float] = None, duration_seconds: float = 60,
                             status: int = 503, probability: Optional[float] = None, reason: str = "",
                             method: str = "", path_prefix: str = "") -> Dict[str, Any]:
        """Answer that share of calls (failure_rate, or probability: 0 to 1;
        default all) with HTTP status (haderctl chaos inject error)."""
        if failure_rate is not None and probability is not None and failure_rate != probability:
            raise ValueError("give failure_rate or probability, not both")
        rate = failure_rate if failure_rate is not None else (probability if probability is not None else 1.0)
        return await self.system.start(self._experiment(
            "error", duration_seconds, rate, reason, method, path_prefix, status=int(status)))

    async def inject_abort(self, duration_seconds: float, probability: float = 1.0, reason: str = "",
                           method: str = "", path_prefix: str = "") -> Dict[str, Any]:
        """Reset the connection of calls to the service (inject abort)."""
        return await self.system.start(self._experiment("abort", duration_seconds, probability, reason,
                                                        method, path_prefix))

    async def inject_timeout(self, duration_seconds: float, probability: float = 1.0, reason: str = "",
                             method: str = "", path_prefix: str = "") -> Dict[str, Any]:
        """Hang calls to the service until the caller gives up (inject timeout)."""
        return await self.system.start(self._experiment("timeout", duration_seconds, probability, reason,
                                                        method, path_prefix))

    async def stop_all(self, reason: str = "") -> Dict[str, Any]:
        """End every experiment on this service (no halt latch)."""
        result: Dict[str, Any] = {"stopped": [], "halted": False, "warnings": []}
        for e in await self.system.list_active():
            if self.service in e.get("services", []):
                r = await self.system.stop(e["id"], reason)
                result["stopped"] += r["stopped"]
                result["warnings"] += r["warnings"]
        return result


chaos_system = ChaosSystem()
