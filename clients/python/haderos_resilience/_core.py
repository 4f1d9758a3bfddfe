"""What every part of the client shares with haderctl: the connection, the
key names (internal/engine/store/keys.go), the Lua scripts as files under
the prelude rule (internal/engine/luascript), the schema check
(internal/engine/store/schema.go), the identity recorded in events, Go's
JSON and duration forms, and the redaction of secrets.

    configure() / env ── settings() ── get_redis()  (one client per event loop)
    Keys(namespace) ── the same builders as store.Keys
    script("breaker/lua/acquire.lua") ── prelude + own bytes ── EVALSHA
        (SCRIPT LOAD on NOSCRIPT, then EVALSHA again)
    check_schema(r, keys) ── refuse newer/unreadable, claim a new namespace
"""

from __future__ import annotations

import asyncio
import decimal
import getpass
import hashlib
import itertools
import json
import math
import os
import re
import socket
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

# SCHEMA_VERSION is the key schema this client reads and writes, the same
# as haderctl's store.SchemaVersion.
SCHEMA_VERSION = 3
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_NAMESPACE = "hader"
DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 3600.0
MASK = "***"


# --- secrets -----------------------------------------------------------

# scheme://user:password@ — the user info ends at the last '@' before the
# next blank, as haderctl's redact.URL reads it
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:@/]*:)([^\s]*)(@)")
_SENTINEL_PW = re.compile(r"(sentinel_password=)([^&\s]*)")


def url_passwords(url: str) -> List[str]:
    """The passwords written in a Redis URL (user info, sentinel_password)."""
    _, sep, rest = url.partition("://")
    if not sep:
        return []
    out = []
    at = rest.rfind("@")
    if at >= 0:
        colon = rest.find(":", 0, at)
        if colon >= 0:
            out.append(rest[colon + 1:at])
    m = _SENTINEL_PW.search(rest)
    if m:
        out.append(m.group(2))
    return [p for p in out if p]


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    at = rest.rfind("@")
    if at >= 0:
        colon = rest.find(":", 0, at)
        if colon >= 0:
            rest = rest[:colon + 1] + MASK + rest[at:]
    rest = _SENTINEL_PW.sub(r"\1" + MASK, rest)
    return scheme + "://" + rest


# words marking a header or field name whose value is a secret, as
# haderctl's internal/redact.IsSecretName has them
SECRET_WORDS = ("authorization", "cookie", "token", "secret", "password", "passwd", "apikey", "api-key", "api_key",
                "key", "credential", "signature", "webhook")


def is_secret_name(name: str) -> bool:
    n = str(name).lower()
    return any(w in n for w in SECRET_WORDS)


def redact_headers(headers: Dict[str, str]) -> Dict[str, str]:
    """A copy of headers with secret values masked (redact.Headers)."""
    return {k: (MASK if is_secret_name(k) else v) for k, v in headers.items()}


def redact(text: Any) -> str:
    """text (or str(text)) with the passwords of any URLs in it and of the
    configured Redis URL masked: for every message this package prints,
    logs or raises."""
    s = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    for pw in url_passwords(_settings.redis_url):
        if len(pw) >= 3:
            for form in {pw, unquote(pw)}:
                s = s.replace(form, MASK)
    s = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), s)
    return _SENTINEL_PW.sub(r"\1" + MASK, s)


# --- names ---------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def valid_name(kind: str, name: Any) -> str:
    """name, if it is a valid breaker, service or queue name (store.ValidName);
    else ValueError saying what a name may hold."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"invalid {kind} name {name!r}: use 1-128 letters, digits, '_', '.' or '-', "
                         "starting with a letter or digit")
    return name


def valid_namespace(ns: Any) -> str:
    if not isinstance(ns, str) or not _NAMESPACE.fullmatch(ns):
        raise ValueError(f"invalid namespace {ns!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return ns


# --- settings and the connection ---------------------------------------

@dataclass(frozen=True)
class Settings:
    """Where the shared state lives: haderctl's REDIS_URL and
    HADERCTL_NAMESPACE (the defaults when unset), and HADERCTL_TIMEOUT,
    the time limit in seconds of connecting and of each Redis call
    (default 5)."""
    redis_url: str = DEFAULT_REDIS_URL
    namespace: str = DEFAULT_NAMESPACE
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:  # never the password
        return (f"Settings(redis_url={redact_url(self.redis_url)!r}, namespace={self.namespace!r}, "
                f"timeout={self.timeout!r})")

    __str__ = __repr__


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url:
        raise ValueError("invalid Redis URL: it is empty (e.g. redis://127.0.0.1:6379/0)")
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"unsupported Redis URL {redact_url(url)!r}: this client takes redis://, rediss:// "
                         "or unix:// (Sentinel and Cluster forms are haderctl's only)")
    return url


def _check_timeout(t: Any, what: str = "timeout") -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.001 <= t <= MAX_TIMEOUT:
        raise ValueError(f"{what}: {t!r} is out of range: 0.001 to 3600 seconds")
    return float(t)


def _from_env() -> Settings:
    t = os.environ.get("HADERCTL_TIMEOUT", "")
    timeout = DEFAULT_TIMEOUT
    if t:
        try:
            seconds = parse_duration(t)
        except ValueError:
            raise ValueError(f"HADERCTL_TIMEOUT: {t!r} is not a number of seconds (or a duration such as 2s)") from None
        timeout = _check_timeout(seconds, "HADERCTL_TIMEOUT")
    return Settings(redis_url=_check_url(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL),
                    namespace=valid_namespace(os.environ.get("HADERCTL_NAMESPACE") or DEFAULT_NAMESPACE),
                    timeout=timeout)


_lock = threading.Lock()
_settings = Settings()
_configured = False
# one client per event loop: a redis.asyncio client's connections belong
# to the loop that made them
_clients: Dict[int, Tuple[Any, Any]] = {}


def configure(redis_url: Optional[str] = None, namespace: Optional[str] = None,
              timeout: Optional[float] = None) -> Settings:
    """Set the Redis URL, namespace and timeout (seconds) for every part of
    the package; a value left out comes from the environment (REDIS_URL,
    HADERCTL_NAMESPACE, HADERCTL_TIMEOUT) or the default, as haderctl
    reads them."""
    global _settings, _configured
    env = _from_env() if redis_url is None or namespace is None or timeout is None else None
    url = _check_url(redis_url) if redis_url is not None else env.redis_url
    ns = valid_namespace(namespace) if namespace is not None else env.namespace
    t = _check_timeout(timeout) if timeout is not None else env.timeout
    with _lock:
        _settings = Settings(redis_url=url, namespace=ns, timeout=t)
        _configured = True
        old = list(_clients.values())
        _clients.clear()
    for _, client in old:
        _close_later(client)
    from . import _local  # a new Redis: what this process learnt of the old one goes
    _local.outage.reset()
    return _settings


def _close_later(client: Any) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # its loop is gone: the connections went with it
    loop.create_task(client.close())


def settings() -> Settings:
    """The settings in force: configure()'s, else the environment's."""
    global _settings, _configured
    with _lock:
        if not _configured:
            _settings = _from_env()
            _configured = True
        return _settings


def get_redis() -> aioredis.Redis:
    """The redis.asyncio client of the settings in force, made on first use
    in this event loop (replies decoded as UTF-8 text)."""
    s = settings()
    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    with _lock:
        for key, (lp, client) in list(_clients.items()):
            if lp is not None and lp.is_closed():
                del _clients[key]
        got = _clients.get(id(loop))
        if got and got[0] is loop:
            return got[1]
        client = aioredis.from_url(s.redis_url, decode_responses=True, socket_timeout=s.timeout,
                                   socket_connect_timeout=s.timeout)
        _clients[id(loop)] = (loop, client)
        return client


async def close() -> None:
    """Close this event loop's client (the next call makes a new one)."""
    loop = asyncio.get_running_loop()
    with _lock:
        got = _clients.pop(id(loop), None)
    if got:
        await got[1].close()


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to seconds for stop; whether it was set.

    The package's background loops (health monitoring, a probe's lease
    renewal) end on an event they check between Redis calls, never by
    cancellation: redis-py before 4.5 can swallow a cancellation that lands
    while a command waits for its reply, so the task never ends, or leave
    that reply unread for the connection's next command (redis/redis-py
    issues 2028 and 2624). Debian 12's redis-py is 4.3.4."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


def haderctl_env() -> Dict[str, str]:
    """The environment that points a haderctl child process at the same
    Redis and namespace (no password on its command line)."""
    s = settings()
    return {"REDIS_URL": s.redis_url, "HADERCTL_NAMESPACE": s.namespace}


class RedisUnavailableError(ConnectionError):
    """Redis could not be reached; the message is redacted."""


def unavailable(err: BaseException) -> RedisUnavailableError:
    return RedisUnavailableError("Redis unavailable at " + redact_url(settings().redis_url) + ": " + redact(err))


REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


# --- keys ---------------------------------------------------------------

class Keys:
    """Every key and channel of one namespace, named as store.Keys names
    them (docs/redis-schema.md)."""

    def __init__(self, namespace: Optional[str] = None):
        self.namespace = valid_namespace(namespace if namespace is not None else settings().namespace)

    def __repr__(self) -> str:
        return f"Keys({self.namespace!r})"

    def schema(self) -> str: return self.namespace + ":schema"  # STRING

    # breakers: one hash tag {name} per breaker
    def breakers(self) -> str: return self.namespace + ":breakers"  # SET
    def breaker(self, name: str) -> str: return self.namespace + ":breaker:{" + name + "}"  # HASH
    def breaker_probes(self, name: str) -> str: return self.breaker(name) + ":probes"  # ZSET
    def breaker_events(self, name: str) -> str: return self.breaker(name) + ":events"  # STREAM
    def breaker_reporters(self, name: str) -> str: return self.breaker(name) + ":reporters"  # ZSET
    def breaker_fallbacks(self, name: str) -> str: return self.breaker(name) + ":fallbacks"  # ZSET
    def breaker_channel(self) -> str: return self.namespace + ":breaker:transitions"  # pub/sub

    # queues: one hash tag {name} per queue
    def queues(self) -> str: return self.namespace + ":queues"  # SET
    def queue(self, name: str) -> str: return self.namespace + ":queue:{" + name + "}"  # HASH
    def queue_ready(self, name: str) -> str: return self.queue(name) + ":ready"  # ZSET
    def queue_delayed(self, name: str) -> str: return self.queue(name) + ":delayed"  # ZSET
    def queue_leased(self, name: str) -> str: return self.queue(name) + ":leased"  # ZSET
    def queue_dead(self, name: str) -> str: return self.queue(name) + ":dead"  # ZSET
    def queue_ops(self, name: str) -> str: return self.queue(name) + ":ops"  # HASH
    def queue_leases(self, name: str) -> str: return self.queue(name) + ":lease"  # HASH
    def queue_errors(self, name: str) -> str: return self.queue(name) + ":errors"  # HASH
    def queue_done(self, name: str) -> str: return self.queue(name) + ":done"  # LIST

    # health: one hash tag {name} per service
    def health_services(self) -> str: return self.namespace + ":health:services"  # HASH
    def health(self, name: str) -> str: return self.namespace + ":health:{" + name + "}"  # HASH
    def health_slot(self, name: str) -> str: return self.health(name) + ":slot"  # STRING
    def health_hours(self, name: str) -> str: return self.health(name) + ":hours"  # HASH
    def health_recent(self, name: str) -> str: return self.health(name) + ":recent"  # LIST
    def health_alerts(self, name: str) -> str: return self.health(name) + ":alerts"  # STREAM

    # chaos: the one hash tag {chaos}
    def chaos_state(self) -> str: return self.namespace + ":{chaos}:state"  # HASH
    def chaos_experiment(self, id: str) -> str: return self.namespace + ":{chaos}:exp:" + id  # STRING
    def chaos_active(self) -> str: return self.namespace + ":{chaos}:active"  # ZSET
    def chaos_starts(self) -> str: return self.namespace + ":{chaos}:starts"  # ZSET
    def chaos_audit(self) -> str: return self.namespace + ":{chaos}:audit"  # STREAM
    def chaos_channel(self) -> str: return self.namespace + ":chaos:changed"  # pub/sub
    def chaos_impact(self, key: str) -> str: return self.namespace + ":{chaos}:impact:" + key  # HASH

    # gateway: a hash tag per key
    def gateway_idempotency(self, key: str) -> str: return self.namespace + ":gateway:idem:{" + key + "}"
    def gateway_operation(self, id: str) -> str: return self.namespace + ":gateway:op:{" + id + "}"
    def gateway_traffic(self, bucket: str) -> str: return self.namespace + ":gateway:traffic:" + bucket


# --- the scripts ----------------------------------------------------------

_PACKAGE_DIR = Path(__file__).resolve().parent


def lua_dir() -> Path:
    """The directory holding the scripts as internal/engine lays them out
    (breaker/lua/acquire.lua, ...): $HADEROS_LUA_DIR, else the repository's
    internal/engine when the package runs from a checkout (found by walking
    up from this file to the directory holding go.mod), else lua/ installed
    beside the package (bundle_lua.py). A checkout's own files come before
    a bundle so a bundle left in the checkout never runs stale scripts."""
    env = os.environ.get("HADEROS_LUA_DIR")
    if env:
        return Path(env)
    for d in _PACKAGE_DIR.parents:
        if (d / "go.mod").is_file() and (d / "internal" / "engine").is_dir():
            return d / "internal" / "engine"
    beside = _PACKAGE_DIR / "lua"
    if beside.is_dir():
        return beside
    raise FileNotFoundError("the haderctl Lua scripts were not found: set HADEROS_LUA_DIR to a copy of "
                            "internal/engine, install lua/ beside the package, or run from the repository")


def prelude_of(text: bytes) -> Optional[str]:
    """The prelude a script's header names ("--- prelude: NAME"), if any:
    the header is the leading lines starting with "---"."""
    for line in text.split(b"\n"):
        if not line.startswith(b"---"):
            break
        if line.startswith(b"--- prelude: "):
            return line[len(b"--- prelude: "):].decode().strip()
    return None


def script_text(relpath: str) -> bytes:
    """The text a script runs as: its prelude's bytes, when its header
    names one, then its own, nothing between them."""
    path = lua_dir() / relpath
    own = path.read_bytes()
    pre = prelude_of(own)
    if pre is None:
        return own
    return (path.parent / pre).read_bytes() + own


class Script:
    """One script file, run by EVALSHA of its text's SHA-1; a Redis that
    does not hold it (NOSCRIPT) is given it by SCRIPT LOAD first."""

    def __init__(self, relpath: str):
        self.relpath = relpath
        self.text = script_text(relpath)
        self.sha = hashlib.sha1(self.text).hexdigest()

    def __repr__(self) -> str:
        return f"Script({self.relpath!r}, sha={self.sha})"

    async def __call__(self, r: Any, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        keys, args = list(keys), [_arg(a) for a in args]
        try:
            return await r.evalsha(self.sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:
            loaded = await r.script_load(self.text)
            if loaded != self.sha:
                raise RuntimeError(f"{self.relpath}: Redis loaded it as {loaded}, not {self.sha}")
            return await r.evalsha(self.sha, len(keys), *keys, *args)


def _arg(a: Any) -> Any:
    if isinstance(a, bool):
        return "1" if a else "0"
    return a


_scripts: Dict[str, Script] = {}


def script(relpath: str) -> Script:
    """The script at relpath under lua_dir(), e.g. "breaker/lua/acquire.lua"."""
    s = _scripts.get(relpath)
    if s is None:
        s = _scripts[relpath] = Script(relpath)
    return s


def all_scripts() -> List[str]:
    """Every script file (not the preludes) under lua_dir(), as relpaths."""
    root = lua_dir()
    return sorted(str(p.relative_to(root)) for p in root.glob("**/lua/*.lua") if p.name != "prelude.lua")


# --- the schema -----------------------------------------------------------

class SchemaError(Exception):
    """The namespace's schema version is newer than this client's, older
    than it can write, or unreadable: the client leaves the namespace alone."""

    def __init__(self, namespace: str, message: str, stored: Optional[str] = None):
        super().__init__(message)
        self.namespace = namespace
        self.stored = stored


_VERSION = re.compile(r"[0-9]+")
_schema_ok: Dict[Tuple[int, str], bool] = {}

# A client's key in the memos of what it has done once (schema checked,
# breaker or queue registered): a serial number per client, never reused.
# id() is not a key: a client made after configure() (another URL, another
# password) can get the id of one garbage-collected before it, and would
# skip the schema check that turns a refused AUTH into
# RedisUnavailableError.
_serials: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()
_next_serial = itertools.count(1)


def client_key(r: Any) -> int:
    """The memo key of client r: unique for the process' lifetime."""
    with _lock:
        got = _serials.get(r)
        if got is None:
            got = _serials[r] = next(_next_serial)
        return got


async def check_schema(r: Any, keys: Keys, claim: bool = True) -> int:
    """Read <ns>:schema as docs/redis-schema.md ("Claim and check the
    schema version") tells a client to: a newer or unreadable version
    (anything but plain decimal digits of at least 1, or another type)
    raises SchemaError; none stored is claimed with SETNX 3 (claim=True)
    as haderctl's first write does. An older version (1 or 2) is refused
    too, saying to run haderctl once: only haderctl's upgrade changes a
    stored version. Returns the version stored before (0: none). A
    namespace found current is not read again by this client."""
    memo = (client_key(r), keys.namespace)
    if _schema_ok.get(memo):
        return SCHEMA_VERSION
    key = keys.schema()
    try:
        v = await r.get(key)
    except redis_errors.ResponseError as e:
        if str(e).startswith(("WRONGPASS", "NOAUTH", "NOPERM")):
            raise unavailable(e) from None
        if not str(e).startswith("WRONGTYPE"):
            raise
        held = await r.type(key)
        raise SchemaError(keys.namespace, f"namespace {keys.namespace!r} has an unreadable Redis schema version: "
                          f"key {key} holds a {held}, not a string (it should hold a version number, e.g. "
                          f"{SCHEMA_VERSION}); this client will not touch the namespace until it is fixed") from None
    except REDIS_DOWN as e:
        raise unavailable(e) from None
    if v is None:
        if claim:
            await r.setnx(key, SCHEMA_VERSION)
            # another process may have claimed it between the GET and the
            # SETNX with another version: read what won
            _schema_ok.pop(memo, None)
            won = await r.get(key)
            if won != str(SCHEMA_VERSION):
                return await check_schema(r, keys, claim)
            _schema_ok[memo] = True
        return 0
    if not _VERSION.fullmatch(v) or int(v) < 1:
        shown = v if len(v) <= 40 else v[:40] + "…"
        raise SchemaError(keys.namespace, f"namespace {keys.namespace!r} has an unreadable Redis schema version: "
                          f"key {key} holds {shown!r}, not a version number (e.g. {SCHEMA_VERSION}); "
                          "this client will not touch the namespace until it is fixed", v)
    n = int(v)
    if n > SCHEMA_VERSION:
        raise SchemaError(keys.namespace, f"namespace {keys.namespace!r} has Redis schema version {v!r}, newer than "
                          f"this client's {SCHEMA_VERSION}: upgrade haderos_resilience", v)
    if n < SCHEMA_VERSION:
        raise SchemaError(keys.namespace, f"namespace {keys.namespace!r} has Redis schema version {n}, older than "
                          f"this client's {SCHEMA_VERSION}: run any haderctl command against it once to upgrade "
                          "it in place, then retry", v)
    _schema_ok[memo] = True
    return n


# --- identity ---------------------------------------------------------------

def who() -> Dict[str, Any]:
    """This process as haderctl's events record one: host, pid, user."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry, no USER
        user = os.environ.get("USER", "")
    return {"host": socket.gethostname(), "pid": os.getpid(), "user": user}


def who_json(**extra: Any) -> str:
    """who() (plus extra fields) as the scripts' ARGV[7] JSON."""
    return go_json({**who(), **extra})


# --- Go's JSON and durations ----------------------------------------------

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def go_json(v: Any) -> str:
    """v as Go's json.Marshal writes it: compact, UTF-8 unescaped, but <, >,
    &, U+2028 and U+2029 escaped (those characters only ever appear inside
    JSON strings), floats as go_float writes them. Object keys keep their
    order. Every JSON value the client stores goes through here, so what it
    writes is byte for byte what haderctl writes."""
    if isinstance(v, dict):
        return "{" + ",".join(go_json(str(k)) + ":" + go_json(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    if isinstance(v, float):
        return go_float(v)
    s = json.dumps(v, ensure_ascii=False, allow_nan=False)
    return _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES[m.group(0)], s)


def go_float(x: float) -> str:
    """x as Go's encoding/json writes a float64: the shortest digits that
    read back as x (Python's repr finds the same ones), in 'f' form for
    1e-6 <= |x| < 1e21 (and 0), else in exponent form with a two-digit
    positive exponent and no leading zero in a negative one (1e+21, 1e-7,
    1.5e-10). NaN and infinities are refused, as json.Marshal refuses them."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{x} cannot be stored as JSON")
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    a = abs(x)
    d = decimal.Decimal(repr(a)).normalize()
    if a == 0 or 1e-6 <= a < 1e21:
        return sign + format(d, "f")
    _, digits, exp = d.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    e = exp + len(digits) - 1
    return sign + mantissa + ("e+%02d" % e if e >= 0 else "e-%d" % -e)


def seconds_ns(seconds: float) -> int:
    """Seconds (a float, as the seed's API takes them) as whole
    nanoseconds, a Go time.Duration's unit in the stored JSON."""
    return int(round(float(seconds) * 1_000_000_000))


_UNITS = [("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3), ("µs", 10**3),
          ("μs", 10**3), ("ns", 1)]
_DUR_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(s: str) -> float:
    """Seconds in a duration written as haderctl reads one: a number of
    seconds ("90", "0.5") or a Go duration ("2m", "1h30m", "250ms")."""
    t = str(s).strip()
    try:
        return float(t)
    except ValueError:
        pass
    body, sign = t, 1.0
    if body[:1] in ("+", "-"):
        sign, body = (-1.0 if body[0] == "-" else 1.0), body[1:]
    pos, total, units = 0, 0.0, dict(_UNITS)
    while pos < len(body):
        m = _DUR_PART.match(body, pos)
        if not m or m.group(1) in ("", "."):
            raise ValueError(f"{s!r} is not a duration (e.g. 30s, 2m, or a number of seconds)")
        total += float(m.group(1)) * units[m.group(2)] / 1e9
        pos = m.end()
    if not body:
        raise ValueError(f"{s!r} is not a duration (e.g. 30s, 2m, or a number of seconds)")
    return sign * total


def go_duration(ns: int) -> str:
    """A duration in nanoseconds as Go's time.Duration.String writes it
    ("2m0s", "1.5s", "250ms", "0s")."""
    ns = int(ns)
    if ns == 0:
        return "0s"
    neg, u = ns < 0, abs(ns)
    if u < 10**9:
        for unit, size in (("ns", 1), ("µs", 10**3), ("ms", 10**6)):
            if u < size * 1000:
                out = _frac(u, size) + unit
                break
    else:
        h, rem = divmod(u, 3600 * 10**9)
        m, rem = divmod(rem, 60 * 10**9)
        out = _frac(rem, 10**9) + "s"
        if h:
            out = f"{h}h{m}m" + out
        elif m:
            out = f"{m}m" + out
    return "-" + out if neg else out


def _frac(v: int, size: int) -> str:
    whole, part = divmod(v, size)
    if not part:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{part:0{digits}d}".rstrip("0")


async def redis_time_ms(r: Any) -> Tuple[int, int]:
    """Redis' clock: (Unix ms, the microseconds of that second)."""
    sec, usec = await r.time()
    return int(sec) * 1000 + int(usec) // 1000, int(usec)


def rfc3339nano(sec: int, usec: int) -> str:
    """Go's time.RFC3339Nano of a Redis TIME, in UTC (trailing zeros of the
    fraction dropped)."""
    import datetime as _dt
    t = _dt.datetime.fromtimestamp(int(sec), _dt.timezone.utc)
    frac = f"{int(usec):06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"


def millis_timestamp(ms: int) -> str:
    """The seed's monitoring timestamp (milliseconds, UTC), as
    snapshot.Timestamp writes it."""
    import datetime as _dt
    t = _dt.datetime.fromtimestamp(ms // 1000, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"
