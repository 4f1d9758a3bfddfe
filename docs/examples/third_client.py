#!/usr/bin/python3
"""A third haderctl client, written from docs/redis-schema.md alone.

Written by following docs/redis-schema.md and the .lua files it points to
(internal/engine/*/lua/*.lua), without reading haderctl's Go source or the
Python client in clients/python. Plain /usr/bin/python3 with redis-py's
synchronous client (Debian's python3-redis). It does, in order:

  1. check (and later claim) the schema version;
  2. check a breaker, report three untracked failures, see it refused;
  3. push a failed operation to the queue named after the service;
  4. register a service and record one health check of it;
  5. enable chaos and start a latency experiment on the service;
  6. read breaker state, queue stats, health and experiments back.

Run it from the repository against a redis-server that haderctl also
uses (the .lua files are read from this checkout; HADERCTL_REPO names
another one):

  REDIS_URL=redis://127.0.0.1:PORT HADERCTL_NAMESPACE=demo \
      HADERCTL_ENV=development /usr/bin/python3 docs/examples/third_client.py [SERVICE]

then look at the same state with haderctl, as docs/redis-schema.md's
"A third client" shows. It exits 1 with a one-line message when the
namespace is refused, chaos is refused, or a script errors.
"""

import getpass
import hashlib
import http.server
import json
import os
import secrets
import socket
import sys
import threading
import time
import urllib.request

import redis

SCHEMA = 3  # "Schema version: 3", stated once at the top of the document
# the repository root: this file sits in docs/examples/, or HADERCTL_REPO names it
REPO = os.environ.get("HADERCTL_REPO") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Refused(Exception):
    pass


# --- The scripts: the prelude rule --------------------------------------


class Script:
    """A .lua file of the repository, run as the prelude rule says."""

    def __init__(self, path):
        with open(os.path.join(REPO, path), "rb") as f:
            body = f.read()
        text = body
        for line in body.split(b"\n"):
            if not line.startswith(b"---"):
                break
            if line.startswith(b"--- prelude: "):
                prelude = line[len(b"--- prelude: "):].strip().decode()
                with open(os.path.join(REPO, os.path.dirname(path), prelude), "rb") as f:
                    text = f.read() + body
        self.text = text
        self.sha = hashlib.sha1(text).hexdigest()

    def __call__(self, r, keys, args):
        try:
            return r.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return r.eval(self.text, len(keys), *keys, *args)


def script(part, name):
    return Script("internal/engine/%s/lua/%s.lua" % (part, name))


ACQUIRE, RECORD = script("breaker", "acquire"), script("breaker", "record")
ENQUEUE_ONE, ENQUEUE = script("queue", "enqueue_one"), script("queue", "enqueue")
SLOT, HEALTH_RECORD = script("health", "slot"), script("health", "record")
SWITCH, START = script("chaos", "switch"), script("chaos", "start")


def s(v):
    return v.decode() if isinstance(v, bytes) else v


class Client:
    def __init__(self, url, ns):
        self.r = redis.Redis.from_url(url)
        self.ns = ns
        self.host, self.pid, self.user = socket.gethostname(), os.getpid(), getpass.getuser()
        self.reporter = "%s/%d/%s" % (self.host, self.pid, secrets.token_hex(4))
        self.claimed = set()  # names and queues this process has registered

    # --- Claim and check the schema version -------------------------------

    def check_schema(self):
        try:
            v = self.r.get(self.ns + ":schema")
        except redis.exceptions.ResponseError as e:  # WRONGTYPE
            raise Refused("%s:schema is unreadable: %s" % (self.ns, e))
        if v is None:
            return None
        v = s(v)
        if not v.isascii() or not v.isdigit() or int(v) < 1:
            raise Refused("%s:schema holds %r: unreadable, refusing the namespace" % (self.ns, v))
        if int(v) > SCHEMA:
            raise Refused("schema version %s is newer than this client's %d" % (v, SCHEMA))
        if int(v) != SCHEMA:
            # we do not implement the upgrade: refuse anything but 3
            raise Refused("schema version %s is older than %d: let haderctl upgrade it" % (v, SCHEMA))
        return int(v)

    # --- Check a breaker and make a call ---------------------------------

    def breaker_keys(self, name):
        k = "%s:breaker:{%s}" % (self.ns, name)
        return [k, k + ":probes", k + ":events", k + ":reporters"]

    def breaker_args(self, name):
        who = {"host": self.host, "pid": self.pid, "user": self.user, "reporter": self.reporter,
               "min_reporters": 1, "reporter_window_ms": 60000}
        return ["", 3, 2, 120000, 2, 30000, json.dumps(who), self.ns + ":breaker:transitions", 1000, name]

    def register_breaker(self, name):
        if ("breaker", name) in self.claimed:
            return
        p = self.r.pipeline(transaction=False)
        p.setnx(self.ns + ":schema", SCHEMA)
        p.sadd(self.ns + ":breakers", name)
        p.execute()
        self.claimed.add(("breaker", name))

    @staticmethod
    def breaker_reply(reply):
        f = [s(x) for x in reply]
        return {"verdict": f[0], "state": f[1], "generation": f[2], "failures": int(f[3]),
                "successes": int(f[4]), "wait_ms": int(f[5]), "now": int(f[8]),
                "events": json.loads(f[9]) if f[9] else []}

    def acquire(self, name):
        self.register_breaker(name)
        token = secrets.token_hex(12)
        return self.breaker_reply(ACQUIRE(self.r, self.breaker_keys(name),
                                          self.breaker_args(name) + [token])), token

    def record(self, name, outcome, generation="", token=""):
        self.register_breaker(name)
        return self.breaker_reply(RECORD(self.r, self.breaker_keys(name),
                                         self.breaker_args(name) + [outcome, generation, token]))

    # --- Push a failed operation ------------------------------------------

    def queue_failed_operation(self, operation, data, service_name, error, priority="normal"):
        q = service_name  # a caller that names no queue uses the service's
        rank = {"critical": 0, "high": 1, "normal": 2, "low": 3}[priority]
        op_id = "op-%016x" % secrets.randbits(64)
        now = int(time.time() * 1000)
        score = rank * 10**13 + now
        meta = {"operation": operation}
        if error:
            meta["error"] = error
        entry = "%d 0 %d %s\n%s\n%s" % (score, 10, service_name,
                                         json.dumps(meta, separators=(",", ":")),
                                         json.dumps(data))
        base = "%s:queue:{%s}" % (self.ns, q)
        if ("queue", q) not in self.claimed:
            p = self.r.pipeline(transaction=False)
            p.sadd(self.ns + ":queues", q)
            p.setnx(self.ns + ":schema", SCHEMA)
            p.execute()
            self.claimed.add(("queue", q))
        got = ENQUEUE_ONE(self.r, [base + ":ready", base + ":ops"], [op_id, score, entry])
        if got == 0:
            got = s(ENQUEUE(self.r, [base, base + ":ready", base + ":ops", base + ":delayed",
                                     base + ":leased", base + ":dead"],
                            [now, 86400000, op_id, score, entry])[0])
        return op_id, q, got

    # --- Register a service and record a health check --------------------

    def register_service(self, name, url, interval_s=30, timeout_s=10):
        check = {"name": name, "url": url, "method": "GET",
                 "interval": interval_s * 10**9, "timeout": timeout_s * 10**9,
                 "alert": {"failure_threshold": 3, "success_threshold": 2,
                           "remind_every": 3600 * 10**9},
                 "source": "registered"}
        p = self.r.pipeline(transaction=False)
        p.hset(self.ns + ":health:services", name, json.dumps(check))
        p.setnx(self.ns + ":schema", SCHEMA)
        p.execute()
        return check

    def check_once(self, check):
        name = check["name"]
        base = "%s:health:{%s}" % (self.ns, name)
        took, _ = SLOT(self.r, [base + ":slot"], [check["interval"] // 10**6, ""])
        if took != 1:
            return None  # another watcher has this interval
        started = time.monotonic()
        code, err = 0, ""
        try:
            with urllib.request.urlopen(check["url"], timeout=check["timeout"] / 1e9) as resp:
                code = resp.status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception as e:  # no answer: the error without its URL
            err = type(e).__name__
        latency_us = int((time.monotonic() - started) * 1e6)
        ok = 200 <= code <= 399
        if not ok and not err:
            err = "HTTP %d" % code
        a = check["alert"]
        remind = a["remind_every"] // 10**6 if a["remind_every"] >= 0 else -1
        reply = HEALTH_RECORD(self.r, [base, base + ":hours", base + ":recent", base + ":alerts"],
                              ["1" if ok else "0", code, latency_us, err,
                               a["failure_threshold"], a["success_threshold"], remind,
                               60, 720, "%s/%d" % (self.host, self.pid), name, ""])
        return {"ok": ok, "code": code, "action": s(reply[0]), "consecutive_failures": reply[1],
                "consecutive_successes": reply[2]}

    # --- Start an experiment -----------------------------------------------

    def chaos_keys(self):
        c = self.ns + ":{chaos}"
        return [c + ":state", c + ":active", c + ":starts", c + ":audit"]

    def who(self):
        return "%s@%s" % (self.user, self.host)

    def enable_chaos(self):
        self.guard_environment()
        return s(SWITCH(self.r, self.chaos_keys(),
                        [self.who(), self.ns + ":chaos:changed", "enabled", "1", "enabled"]))

    @staticmethod
    def guard_environment():
        # the caller's guard; without haderctl's config, the default list
        env = os.environ.get("HADERCTL_ENV", "").strip().lower()
        if env in ("production", "prod"):
            raise Refused("chaos refused: the environment is production")
        if env not in ("development", "test", "staging"):
            raise Refused("chaos refused: HADERCTL_ENV %r is not development, test or staging" % env)

    def inject_network_delay(self, service, delay_ms, duration_seconds, reason="third client"):
        self.guard_environment()
        if delay_ms <= 0 or not 0 < duration_seconds <= 15 * 60:
            raise Refused("delay must be > 0 and duration in (0, 15 min]")
        exp_id = "ch-" + secrets.token_hex(6)
        exp = {"id": exp_id, "kind": "latency", "services": [service], "probability": 1.0,
               "delay": delay_ms * 10**6, "jitter": 0, "duration": duration_seconds * 10**9,
               "by": self.who(), "reason": reason}
        reply = START(self.r, self.chaos_keys() + ["%s:{chaos}:exp:%s" % (self.ns, exp_id)],
                      [self.who(), self.ns + ":chaos:changed", json.dumps(exp),
                       duration_seconds * 1000, 5, 20, exp_id, 0])
        verdict, detail = s(reply[0]), s(reply[1])
        if verdict != "ok":
            raise Refused("chaos start refused: " + detail)
        return json.loads(detail)

    # --- Reading back ------------------------------------------------------

    def breaker_state(self, name):
        h = {s(k): s(v) for k, v in self.r.hgetall(self.breaker_keys(name)[0]).items()}
        if not h:
            return {"state": "closed", "failures": 0, "successes": 0}
        return {"state": h["state"], "failures": int(h.get("failures", 0)),
                "successes": int(h.get("successes", 0)), "generation": int(h.get("generation", 0)),
                "opened_at": int(h.get("opened_at", 0)),
                "recovery_timeout_ms": int(h.get("recovery_timeout_ms", 120000))}

    def queue_stats(self, q):
        base = "%s:queue:{%s}" % (self.ns, q)
        p = self.r.pipeline(transaction=False)
        p.time()
        p.hgetall(base)
        for r in range(4):
            p.zcount(base + ":ready", r * 10**13, (r + 1) * 10**13)
            p.zrangebyscore(base + ":ready", r * 10**13, (r + 1) * 10**13, withscores=True, start=0, num=1)
        p.zcard(base + ":delayed")
        p.zcard(base + ":leased")
        p.zcard(base + ":dead")
        out = p.execute()
        sec, usec = out[0]
        now = sec * 1000 + usec // 1000
        h = {s(k): s(v) for k, v in out[1].items()}
        n = lambda f: int(h.get(f, 0))
        pending, oldest = [], None
        for r in range(4):
            pending.append(out[2 + 2 * r])
            first = out[3 + 2 * r]
            if first:
                age = max(0, now - (int(first[0][1]) - r * 10**13)) / 1000
                oldest = age if oldest is None else max(oldest, age)
        delayed, leased, dead = out[10:13]
        completed = n("completed")
        cur = now // 10000
        done = sum(int(h.get("tp_n%d" % i, 0)) for i in range(8)
                   if cur - 6 < int(h.get("tp_b%d" % i, -10)) <= cur)
        return {"pending": sum(pending), "pending_by_priority": pending, "delayed": delayed,
                "in_flight": leased, "dead": dead, "completed": completed, "failed": n("died"),
                "enqueued": sum(pending) + delayed + leased + dead + completed + n("purged") + n("dead_trimmed"),
                "oldest_pending_s": oldest, "paused": bool(h.get("paused")),
                "throughput_per_s": done / ((50000 + now % 10000) / 1000)}

    def health(self, name):
        base = "%s:health:{%s}" % (self.ns, name)
        fields = ["status", "http_code", "latency_us", "error", "checked_at", "consecutive_failures",
                  "consecutive_successes", "alert_open", "alert_since"]
        p = self.r.pipeline(transaction=False)
        p.time()
        p.hmget(base, fields)
        p.hgetall(base + ":hours")
        p.lrange(base + ":recent", 0, 59)
        (sec, usec), vals, hours, recent = p.execute()
        now = sec * 1000 + usec // 1000
        st = dict(zip(fields, (s(v) for v in vals)))
        hours = {s(k): int(v) for k, v in hours.items()}
        hour = now // 3600000
        n = ok = 0
        for h in range(hour - 23, hour + 1):
            n += hours.get("%d:n" % h, 0)
            ok += hours.get("%d:ok" % h, 0)
        status = st["status"] or "unknown"
        return {"status": status, "healthy": status == "healthy", "http_code": st["http_code"],
                "uptime_24h": ok / n * 100 if n else None, "recent": len(recent)}

    def experiments(self):
        p = self.r.pipeline(transaction=False)
        p.time()
        p.zrange(self.ns + ":{chaos}:active", 0, -1, withscores=True)
        (sec, usec), index = p.execute()
        now = sec * 1000 + usec // 1000
        ids = [s(m) for m, score in index if score > now]
        if not ids:
            return []
        out = []
        for raw in self.r.mget(["%s:{chaos}:exp:%s" % (self.ns, i) for i in ids]):
            if raw is None:
                continue
            e = json.loads(raw)
            if e["end_ms"] > now:
                e["active"] = e["start_ms"] <= now
                out.append(e)
        return out


def serve_ok():
    class OK(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), OK)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    service = sys.argv[1] if len(sys.argv) > 1 else "payments"
    c = Client(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
               os.environ.get("HADERCTL_NAMESPACE", "hader"))
    print("schema:", c.check_schema())

    v, token = c.acquire(service)
    print("acquire:", v["verdict"], v["state"])
    for _ in range(3):
        v = c.record(service, "failure")
    print("after 3 failures:", v["state"], "failures", v["failures"])
    v, _ = c.acquire(service)
    print("acquire:", v["verdict"], "wait_ms", v["wait_ms"])
    if v["verdict"] != "reject":
        raise Refused("breaker was not refused after three failures")

    op_id, q, got = c.queue_failed_operation("create_order", {"order_id": 7}, service, "HTTP 503")
    print("queued:", op_id, "in", q, got)

    srv = serve_ok()
    check = c.register_service(service, "http://127.0.0.1:%d/health" % srv.server_port)
    print("health check:", c.check_once(check))

    print("chaos:", c.enable_chaos())
    exp = c.inject_network_delay(service, delay_ms=200, duration_seconds=300)
    print("experiment:", exp["id"], exp["kind"], exp["start_ms"], exp["end_ms"])

    print("breaker:", json.dumps(c.breaker_state(service)))
    print("queue:", json.dumps(c.queue_stats(q)))
    print("health:", json.dumps(c.health(service)))
    print("experiments:", json.dumps([{k: e[k] for k in ("id", "kind", "services", "active")}
                                      for e in c.experiments()]))
    srv.shutdown()


if __name__ == "__main__":
    try:
        main()
    except (Refused, redis.exceptions.RedisError) as e:
        print("third_client:", e, file=sys.stderr)
        sys.exit(1)
