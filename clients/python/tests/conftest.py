"""Fixtures shared by the Python client's tests: a real redis-server, the
real haderctl binary, a namespace of its own per test.

    redis_url   a redis-server started on a random loopback port for the
                session (or $HADERCTL_TEST_REDIS_URL)
    haderctl_bin  the binary: $HADERCTL_BIN, else `go build` once
    namespace   unique per test
    haderctl    run(*args, check=True, input=None, env=None) ->
                CompletedProcess, pointed at redis_url + namespace by
                environment only (no password on argv), isolated HOME and
                config dir
    client      the package configured for redis_url + namespace
    poll        poll(fn, what, timeout=10): call fn until it returns a
                true value or the deadline passes (never a bare sleep);
                async_wait_for is the same inside an event loop
    held_redis  a TCP proxy to redis_url that can hold Redis' replies
                (hold(), release(); .sent counts what clients sent), the
                package configured to go through it
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent
REPO = PACKAGE_ROOT.parent.parent
sys.path.insert(0, str(PACKAGE_ROOT))

import redis  # noqa: E402

import haderos_resilience  # noqa: E402
from haderos_resilience import _core  # noqa: E402


def run(coro):
    """asyncio.run(coro), closing the package's client of that event loop
    before the loop ends (its connections belong to the loop)."""
    async def main():
        try:
            return await coro
        finally:
            await _core.close()
    return asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, what: str, timeout: float = 10.0, interval: float = 0.02):
    """fn() until it returns a true value; AssertionError naming what was
    awaited when timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            got = fn()
            if got:
                return got
            last = got
        except Exception as e:  # noqa: BLE001 - polled again until the deadline
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


async def async_wait_for(fn, what: str, timeout: float = 10.0, interval: float = 0.02):
    """wait_for inside an event loop: fn() (awaited when it returns a
    coroutine) until it is true; AssertionError naming what otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class HoldingProxy:
    """A loopback TCP proxy to a Redis that forwards what clients send at
    once and Redis' replies only while not held: a test keeps a command
    waiting for its reply as long as it needs."""

    def __init__(self, target: str) -> None:
        u = urllib.parse.urlsplit(target)
        self._to = (u.hostname, u.port or 6379)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        netloc = (u.netloc.rsplit("@", 1)[0] + "@" if "@" in u.netloc else "") + f"127.0.0.1:{port}"
        self.url = urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, ""))
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self.sent = 0  # chunks clients sent (a command, or a pipeline of them)
        self._socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self._listener.accept()
            except OSError:
                return
            up = socket.create_connection(self._to)
            with self._lock:
                self._socks += [c, up]
            threading.Thread(target=self._pump, args=(c, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, c, False), daemon=True).start()

    def _pump(self, src, dst, from_client: bool) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            if from_client:
                with self._lock:
                    self.sent += 1
            else:
                self._flowing.wait()
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def hold(self) -> None:
        self._flowing.clear()

    async def hold_next_command(self, what: str, timeout: float = 10.0) -> None:
        """Hold Redis' replies and wait until a client has sent its next
        command (what names it): that command then waits for its reply."""
        self.hold()
        sent = self.sent
        await async_wait_for(lambda: self.sent > sent, what, timeout)

    @staticmethod
    async def let_the_loop_run(rounds: int = 20) -> None:
        """Yield to the event loop, so what was just set in motion (a
        stop, a cancellation) reaches the tasks it concerns."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    @staticmethod
    async def assert_in_step(r) -> None:
        """Each command on r gets its own reply, not one left unread."""
        for i in range(5):
            assert await r.echo(f"in step {i}") == f"in step {i}"

    def release(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self.release()
        self._listener.close()
        with self._lock:
            for s in self._socks:
                s.close()


def start_redis(tmp: Path, *extra: str, port: int = 0):
    """A redis-server on a loopback port (random unless given); (process, port)."""
    exe = shutil.which("redis-server")
    if not exe:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    wait_for(up, f"redis-server on port {port}")
    return proc, port


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    given = os.environ.get("HADERCTL_TEST_REDIS_URL")
    if given:
        yield given
        return
    proc, port = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def haderctl_bin(tmp_path_factory):
    given = os.environ.get("HADERCTL_BIN")
    if given:
        return given
    out = tmp_path_factory.mktemp("bin") / "haderctl"
    subprocess.run(["go", "build", "-o", str(out), "./cmd/haderctl"], cwd=REPO, check=True)
    return str(out)


@pytest.fixture
def namespace():
    return "pyt-" + uuid.uuid4().hex[:12]


@pytest.fixture
def sync_redis(redis_url):
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    yield r
    r.close()


class Haderctl:
    """The real binary, run against the test's Redis and namespace."""

    def __init__(self, binary: str, env: dict, cwd: Path):
        self.binary, self.env, self.cwd = binary, env, cwd

    def __call__(self, *args: str, check: bool = True, input=None, env=None, timeout: float = 60):
        full = dict(self.env, **(env or {}))
        p = subprocess.run([self.binary, *args], env=full, cwd=self.cwd, input=input, capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"haderctl {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\n"
                                 f"stderr: {p.stderr}")
        return p

    def json(self, *args: str, **kw):
        import json
        return json.loads(self(*args, "-o", "json", **kw).stdout)


@pytest.fixture
def haderctl(haderctl_bin, redis_url, namespace, tmp_path):
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / ".config"), "REDIS_URL": redis_url, "HADERCTL_NAMESPACE": namespace,
           "NO_COLOR": "1"}
    return Haderctl(haderctl_bin, env, tmp_path)


@pytest.fixture
def client(redis_url, namespace):
    """The package pointed at the test's Redis and namespace; reset after."""
    haderos_resilience.configure(redis_url=redis_url, namespace=namespace)
    yield haderos_resilience
    haderos_resilience.configure(redis_url=redis_url, namespace="hader")


@pytest.fixture
def poll():
    return wait_for


@pytest.fixture
def held_redis(redis_url, namespace):
    proxy = HoldingProxy(redis_url)
    haderos_resilience.configure(redis_url=proxy.url, namespace=namespace)
    yield proxy
    proxy.close()
    haderos_resilience.configure(redis_url=redis_url, namespace="hader")
