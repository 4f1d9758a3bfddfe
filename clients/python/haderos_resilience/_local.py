"""The in-memory breaker a process falls back to while Redis is
unreachable (redis_unavailable: allow), as haderctl's engine keeps one
(internal/engine/breaker/local.go): the scripts' rules for one process
only. min_reporters does not apply (one process is the only reporter).
Its state is dropped once Redis answers again: Redis is the truth."""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Optional, Tuple

# how long after Redis was found unreachable calls go straight to the
# in-memory breaker before Redis is tried again (the Go engine's 1 s
# re-read)
RETRY_AFTER = 1.0


class LocalBreaker:
    def __init__(self, failure_threshold: int, success_threshold: int, recovery_timeout: float, max_probes: int,
                 probe_lease: float, now: Callable[[], float] = time.monotonic):
        self.failure_threshold, self.success_threshold = failure_threshold, success_threshold
        self.recovery_timeout, self.max_probes, self.probe_lease = recovery_timeout, max_probes, probe_lease
        self.now = now
        self.state = "closed"
        self.generation = self.failures = self.successes = self.probes = 0
        self.opened_at = 0.0
        # the fallback report, once Redis answers again: since when (Unix
        # ms, the process' wall clock) and how many calls this breaker
        # answered (admitted or refused), as the Go engine's localBreaker
        self.since_ms = int(time.time() * 1000)
        self.calls = 0
        self._mu = threading.Lock()

    def allow(self) -> Tuple[int, bool, Optional[Tuple[str, float]]]:
        """(generation, probe, None) when admitted, (0, False, (state,
        retry after seconds)) when refused: acquire.lua's rules."""
        with self._mu:
            self.calls += 1
            if self.state == "closed":
                return self.generation, False, None
            if self.state == "open":
                wait = self.opened_at + self.recovery_timeout - self.now()
                if wait > 0:
                    return 0, False, ("open", wait)
                self._move("half_open")
            if self.probes + self.successes >= max(self.max_probes, self.success_threshold):
                return 0, False, ("half_open", self.probe_lease)
            self.probes += 1
            return self.generation, True, None

    def record(self, generation: int, probe: bool, success: bool) -> None:
        """record.lua's rules for an admitted call; a stale one is dropped."""
        with self._mu:
            if generation != self.generation:
                return
            if probe and self.probes > 0:
                self.probes -= 1
            if not success:
                self.failures += 1
                self.successes = 0
                if (self.state == "closed" and self.failures >= self.failure_threshold) or self.state == "half_open":
                    self._move("open")
                return
            if self.state == "open":
                return
            self.failures = 0
            if self.state == "half_open":
                self.successes += 1
                if self.successes >= self.success_threshold:
                    self._move("closed")

    def release(self, generation: int, probe: bool) -> None:
        with self._mu:
            if probe and generation == self.generation and self.probes > 0:
                self.probes -= 1

    def _move(self, to: str) -> None:
        self.state = to
        self.generation += 1
        self.probes = self.successes = 0
        if to == "open":
            self.opened_at = self.now()
        elif to == "closed":
            self.failures = 0


class Outage:
    """Whether Redis is being treated as unreachable from this process, and
    the in-memory breakers used meanwhile, per (namespace, name)."""

    def __init__(self, now: Callable[[], float] = time.monotonic):
        self.now = now
        self.down_until = 0.0
        self.breakers: Dict[Tuple[str, str], LocalBreaker] = {}
        self._mu = threading.Lock()

    def reset(self) -> None:
        with self._mu:
            self.down_until = 0.0
            self.breakers.clear()

    def is_down(self) -> bool:
        return self.now() < self.down_until

    def mark_down(self) -> bool:
        """Note Redis unreachable; whether it was not already."""
        with self._mu:
            was_up = not self.breakers and not self.is_down()
            self.down_until = self.now() + RETRY_AFTER
            return was_up

    def breaker(self, key: Tuple[str, str], make: Callable[[], LocalBreaker]) -> LocalBreaker:
        with self._mu:
            b = self.breakers.get(key)
            if b is None:
                b = self.breakers[key] = make()
            return b

    def clear(self, key: Tuple[str, str]) -> Optional[LocalBreaker]:
        """Redis answered for key: drop its in-memory state; the breaker it
        had, if any (to report the fallback)."""
        with self._mu:
            self.down_until = 0.0
            return self.breakers.pop(key, None)


outage = Outage()
