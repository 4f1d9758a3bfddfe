"""The fallback queue shared with haderctl: an operation queued here is
the byte-identical entry ``haderctl queue push`` writes, counted by
``haderctl queue status`` and replayed by ``haderctl queue drain``.

    queue_failed_operation ── check (names, id, JSON, size) ── entry:
        "<rank×1e13 + now ms> 0 <max attempts> <service>\\n<meta JSON>\\n<data>"
        ── queue/lua/enqueue.lua ──▶ <ns>:queue:{q}:ops + :ready
    get_system_status ── one pipelined read on Redis' clock ──▶
        {"queues": {...}, "overall": {...}, "timestamp": ...}
"""

from __future__ import annotations

import enum
import json
import logging
import random
import time
from typing import Any, Dict, List, Mapping, Optional, Union

from . import _core

log = logging.getLogger("haderos_resilience.queue")

BAND = 10**13  # a ready score is priority rank × BAND + first-failed Unix ms
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_MAX_DATA_BYTES = 1 << 20
DEFAULT_RETENTION_MS = 24 * 3600 * 1000


class Priority(str, enum.Enum):
    """Ready operations are replayed critical first, low last."""
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITIES = [p.value for p in Priority]


class RawJSON(bytes):
    """Data that is JSON text already, stored byte for byte (as ``haderctl
    queue push --data`` stores what it is given, trimmed)."""


def _plain(s: str) -> bool:
    # the same inside JSON quotes as Go's encoding/json writes it
    return all(0x20 <= ord(c) < 0x7F and c not in '"\\<>&' for c in s)


def meta_line(operation: str, error: str = "", request: Optional[Dict[str, Any]] = None) -> str:
    """The entry's JSON line, as haderctl's appendMeta writes it."""
    if request is None and _plain(operation) and _plain(error):
        return '{"operation":"' + operation + ('","error":"' + error if error else "") + '"}'
    m: Dict[str, Any] = {"operation": operation}
    if error:
        m["error"] = error
    if request is not None:
        m["request"] = request
    return _core.go_json(m)


def entry(score: int, max_attempts: int, service: str, meta: str, data: str) -> str:
    """An operation's entry in the ops hash (queue.Operation.entry)."""
    return f"{score} 0 {max_attempts} {service}\n{meta}\n{data}"


def valid_id(op_id: str) -> str:
    if not isinstance(op_id, str) or not 1 <= len(op_id) <= 200:
        raise ValueError(f"invalid operation id {op_id!r}: use 1-200 characters")
    if any(c <= " " or c >= "\x7f" or c in "{}" for c in op_id):
        raise ValueError(f"invalid operation id {op_id!r}: use printable ASCII without spaces or braces")
    return op_id


def _data_json(data: Any) -> str:
    if isinstance(data, (bytes, bytearray)):
        text = bytes(data).strip().decode("utf-8")
        try:
            json.loads(text)
        except ValueError:
            raise ValueError("data is not valid JSON") from None
        return text or "null"
    try:
        return _core.go_json(data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"data cannot be stored as JSON: {e}") from None


class LocalQueueFallback:
    """The seed's queue of failed operations, in the Redis haderctl drains.

    queue: the queue every operation goes into; None (the default) puts
    each into the queue named after its service_name, where the gateway's
    writes through /<service>/ land and ``haderctl queue drain SERVICE``
    replays them. max_attempts, max_data_bytes and retention are haderctl's
    queue.* settings (defaults 10, 1 MiB, 24 h)."""

    def __init__(self, queue: Optional[str] = None, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 max_data_bytes: int = DEFAULT_MAX_DATA_BYTES, retention_seconds: float = 24 * 3600):
        self.queue = _core.valid_name("queue", queue) if queue is not None else None
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number of at least 1, not {max_attempts!r}")
        self.max_attempts = max_attempts
        self.max_data_bytes = max_data_bytes
        self.retention_ms = int(retention_seconds * 1000)
        self._registered: Dict[Any, bool] = {}

    def __repr__(self) -> str:
        return f"LocalQueueFallback(queue={self.queue!r})"

    def build(self, operation: str, data: Any, service_name: str, error: Any = "",
              priority: Union[str, Priority] = Priority.NORMAL, id: Optional[str] = None,
              max_attempts: Optional[int] = None, method: Optional[str] = None, path: Optional[str] = None,
              headers: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        """Check an operation as ``haderctl queue push`` does and return its
        parts: queue, id, score rank, max_attempts, service, meta, data.
        Raises ValueError naming what is wrong; touches no Redis."""
        service = _core.valid_name("service", service_name)
        q = self.queue or service
        _core.valid_name("queue", q)
        if not isinstance(operation, str) or not operation:
            raise ValueError("an operation name is required (operation=)")
        op_id = valid_id(id) if id is not None else f"op-{random.getrandbits(64):016x}"
        data_text = _data_json(data)
        if len(data_text.encode()) > self.max_data_bytes:
            raise ValueError(f"operation {op_id}: data is {len(data_text.encode())} bytes, over the "
                             f"{self.max_data_bytes}-byte limit (queue.max_data_bytes)")
        p = priority.value if isinstance(priority, Priority) else str(priority or "normal").lower()
        if p not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}: use critical, high, normal or low")
        attempts = self.max_attempts if max_attempts is None else max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"operation {op_id}: max attempts must be at least 1")
        request = None
        if method is not None or path is not None or headers:
            if not path:
                raise ValueError(f"operation {op_id}: a request needs a path or URL (path=)")
            m = (method or "POST").upper()
            if not m.isascii() or not m.isalpha():
                raise ValueError(f"operation {op_id}: invalid HTTP method {m!r}")
            request = {"method": m, "url": path}
            if headers:
                request["headers"] = {str(k).strip(): str(v).strip() for k, v in sorted(headers.items())}
        err = _core.redact(error) if error else ""
        return {"queue": q, "id": op_id, "rank": PRIORITIES.index(p), "max_attempts": attempts,
                "service": service, "meta": meta_line(operation, err, request), "data": data_text}

    async def queue_failed_operation(self, operation: str, data: Any, service_name: str, error: Any = "",
                                     priority: Union[str, Priority] = Priority.NORMAL, id: Optional[str] = None,
                                     max_attempts: Optional[int] = None, method: Optional[str] = None,
                                     path: Optional[str] = None,
                                     headers: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        """Queue a failed operation for replay; returns {"id", "queue",
        "status": "enqueued" | "duplicate"} (and "state" of a duplicate:
        an id already pending, dead, or completed within the retention is
        not queued again). data is any JSON value (RawJSON for JSON text);
        method/path/headers store the HTTP request a plain ``haderctl queue
        drain`` replays (without them only ``--exec`` can replay it); the
        error text is stored with any URL password masked."""
        parts = self.build(operation, data, service_name, error, priority, id, max_attempts, method, path, headers)
        r = _core.get_redis()
        keys = _core.Keys()
        q = parts["queue"]
        await _core.check_schema(r, keys)
        memo = (_core.client_key(r), keys.namespace, q)
        if not self._registered.get(memo):
            await r.sadd(keys.queues(), q)
            self._registered[memo] = True
        now = _now_ms()
        score = parts["rank"] * BAND + now
        e = entry(score, parts["max_attempts"], parts["service"], parts["meta"], parts["data"])
        ekeys = [keys.queue(q), keys.queue_ready(q), keys.queue_ops(q), keys.queue_delayed(q),
                 keys.queue_leased(q), keys.queue_dead(q)]
        try:
            res = await _core.script("queue/lua/enqueue.lua")(r, ekeys, [now, self.retention_ms, parts["id"], score, e])
        except _core.REDIS_DOWN as err:
            raise _core.unavailable(err) from None
        out = {"id": parts["id"], "queue": q, "status": "enqueued"}
        if str(res[0]).startswith("dup:"):
            out.update(status="duplicate", state=str(res[0])[4:])
        return out

    async def get_system_status(self) -> Dict[str, Any]:
        """Every queue's numbers and their sum, as ``haderctl queue status
        -o json`` prints them: {"queues": {name: stats}, "overall": stats,
        "timestamp": RFC 3339 on Redis' clock}. Writes nothing."""
        r = _core.get_redis()
        keys = _core.Keys()
        await _core.check_schema(r, keys, claim=False)
        names = sorted(await r.smembers(keys.queues()))
        async with r.pipeline(transaction=False) as p:
            p.time()
            for q in names:
                _queue_reads(p, keys, q)
            replies = await p.execute(raise_on_error=False)
        if isinstance(replies[0], Exception):
            raise replies[0]
        sec, usec = replies[0]
        now = int(sec) * 1000 + int(usec) // 1000
        per = 4 + 2 * len(PRIORITIES)
        stats = [_decode(q, replies[1 + i * per:1 + (i + 1) * per], now) for i, q in enumerate(names)]
        return {"queues": {s["queue"]: s for s in stats}, "overall": overall(stats),
                "timestamp": _core.rfc3339nano(sec, usec)}


def _now_ms() -> int:
    # the pushing client's clock, as haderctl's push uses its own
    return time.time_ns() // 1_000_000


def _queue_reads(p: Any, keys: _core.Keys, q: str) -> None:
    p.hgetall(keys.queue(q))
    p.zcard(keys.queue_delayed(q))
    p.zcard(keys.queue_leased(q))
    p.zcard(keys.queue_dead(q))
    for rank in range(len(PRIORITIES)):
        lo, hi = str(rank * BAND), "(" + str((rank + 1) * BAND)
        p.zcount(keys.queue_ready(q), lo, hi)
        p.zrangebyscore(keys.queue_ready(q), lo, hi, start=0, num=1, withscores=True)


def _stats(q: str) -> Dict[str, Any]:
    return {"queue": q, "paused": False, "pending": {p: 0 for p in sorted(PRIORITIES)}, "pending_total": 0,
            "delayed": 0, "in_flight": 0, "dead": 0, "enqueued": 0, "completed": 0, "failed": 0, "retried": 0,
            "deferred": 0, "duplicates": 0, "dead_trimmed": 0, "average_retry_time_seconds": 0,
            "retry_success_rate": 0, "oldest_pending_age_seconds": 0, "throughput_per_second": 0}


def _decode(q: str, rep: List[Any], now: int) -> Dict[str, Any]:
    """One queue's numbers, as queue.statsRead.decode computes them."""
    problem = ""
    for x in rep:
        if isinstance(x, Exception):
            if not str(x).startswith("WRONGTYPE"):
                raise x
            problem = problem or "a key of the queue holds another type than the engine keeps there (WRONGTYPE)"
    val = [None if isinstance(x, Exception) else x for x in rep]
    h: Dict[str, str] = val[0] or {}

    def n(f: str) -> int:
        try:
            return int(h.get(f, 0))
        except ValueError:
            return 0

    s = _stats(q)
    s.update(paused=h.get("paused", "") != "", delayed=val[1] or 0, in_flight=val[2] or 0, dead=val[3] or 0,
             completed=n("completed"), failed=n("died"), retried=n("retried"), deferred=n("deferred"),
             duplicates=n("duplicates"), dead_trimmed=n("dead_trimmed"))
    oldest = 0
    for rank, pr in enumerate(PRIORITIES):
        s["pending"][pr] = val[4 + 2 * rank] or 0
        s["pending_total"] += s["pending"][pr]
        first = val[5 + 2 * rank] or []
        if first:
            created = int(first[0][1]) - rank * BAND
            if oldest == 0 or created < oldest:
                oldest = created
    s["enqueued"] = (s["pending_total"] + s["delayed"] + s["in_flight"] + s["dead"] + s["completed"]
                     + n("purged") + s["dead_trimmed"])
    if oldest > 0:
        s["oldest_pending_age_seconds"] = max(now - oldest, 0) / 1000
    if s["completed"] > 0:
        s["average_retry_time_seconds"] = n("retry_ms_total") / s["completed"] / 1000
    if s["completed"] + s["failed"] > 0:
        s["retry_success_rate"] = s["completed"] / (s["completed"] + s["failed"])
    # throughput: the 10 s buckets of the last minute, the current one
    # counted for the part of it that has passed
    cur, done = now // 10000, 0
    for slot in range(8):
        try:
            b = int(h.get(f"tp_b{slot}", ""))
        except ValueError:
            continue
        if cur - 6 < b <= cur:
            done += n(f"tp_n{slot}")
    s["throughput_per_second"] = done / ((50000 + now % 10000) / 1000)
    if problem:
        s["problem"] = problem
    return s


def overall(stats: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The queues' numbers summed into the seed's "overall" entry."""
    o = _stats("overall")
    retry_ms = 0.0
    for s in stats:
        for p, v in s["pending"].items():
            o["pending"][p] += v
        for f in ("pending_total", "delayed", "in_flight", "dead", "enqueued", "completed", "failed", "retried",
                  "deferred", "duplicates", "dead_trimmed", "throughput_per_second"):
            o[f] += s[f]
        retry_ms += s["average_retry_time_seconds"] * s["completed"]
        o["oldest_pending_age_seconds"] = max(o["oldest_pending_age_seconds"], s["oldest_pending_age_seconds"])
    if o["completed"] > 0:
        o["average_retry_time_seconds"] = retry_ms / o["completed"]
    if o["completed"] + o["failed"] > 0:
        o["retry_success_rate"] = o["completed"] / (o["completed"] + o["failed"])
    return o
