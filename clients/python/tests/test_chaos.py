"""Chaos from Python and from haderctl act on the same experiments."""

import asyncio
import json
import subprocess
import sys

import pytest

from haderos_resilience import ChaosSystem, chaos_system
from haderos_resilience.chaos import ChaosRefusedError

from test_health import PACKAGE_ROOT, readme_example, upstream  # noqa: F401 - a fixture

# haderctl's data plane applies experiments only where chaos may act
ALLOWED = {"HADERCTL_ENV": "test"}


@pytest.fixture
def chaos(client):
    """The module's chaos_system in the test environment."""
    chaos_system.environment = "test"
    yield chaos_system
    chaos_system.environment = None


def haderctl_json(haderctl, *args):
    return json.loads(haderctl(*args, "-o", "json", env=ALLOWED).stdout)


def audit_of(haderctl):
    """haderctl chaos audit: one JSON line per entry, oldest first."""
    out = haderctl("chaos", "audit", env=ALLOWED).stdout
    return [json.loads(line) for line in out.splitlines()]


def check(haderctl, name):
    """haderctl health check NAME through the engine's transport (where
    chaos acts): (exit code, the result)."""
    out = haderctl("health", "check", name, "-o", "json", check=False, env=ALLOWED)
    return out.returncode, json.loads(out.stdout)[0]


def test_a_failure_injected_from_python_is_felt_by_haderctl_and_stopped_by_stop_all(chaos, haderctl, upstream):
    haderctl("health", "register", "aramex", "--url", upstream.url)
    assert check(haderctl, "aramex")[0] == 0  # healthy before
    assert upstream.requests == 1

    async def inject():
        await chaos.enable_chaos()
        monkey = chaos.get_chaos_monkey("aramex")
        return await monkey.inject_failure(failure_rate=1.0, duration_seconds=120, status=503, reason="game day")

    started = asyncio.run(inject())
    assert started["kind"] == "error" and started["services"] == ["aramex"] and started["status"] == 503

    code, result = check(haderctl, "aramex")
    assert code == 1 and result["http_code"] == 503 and result["error"] == "HTTP 503"
    assert upstream.requests == 1  # the fault answered: the service was not called

    status = haderctl_json(haderctl, "chaos", "status")
    assert status["enabled"] is True
    assert status["active_experiments"] == [started]  # the same document, every field

    stop = haderctl_json(haderctl, "chaos", "stop-all")
    assert stop["stopped"] == [started["id"]] and stop["halted"] is True
    assert asyncio.run(chaos.list_active()) == []
    assert check(haderctl, "aramex")[0] == 0  # the fault is gone
    assert upstream.requests == 2


# probabilities whose JSON Python's json module writes otherwise (1.0,
# 1e-05) than Go's encoding/json (1, 0.00001)
@pytest.mark.parametrize("probability,percent", [(0.3, "30"), (1.0, "100"), (0.00001, "0.001"), (1e-6, "0.0001")])
def test_a_delay_injected_from_python_is_the_one_haderctl_would_write(chaos, haderctl, sync_redis, namespace,
                                                                      probability, percent):
    async def inject():
        await chaos.enable_chaos()
        return await chaos.get_chaos_monkey("shopify").inject_network_delay(
            delay_ms=1000, duration_seconds=300, jitter_ms=250, probability=probability)

    ours = asyncio.run(inject())
    theirs = haderctl_json(haderctl, "chaos", "inject", "latency", "--service", "shopify", "--delay", "1s",
                           "--jitter", "250ms", "--probability", percent, "--duration", "5m")
    assert theirs["probability"] == probability
    raw_ours = sync_redis.get(f"{namespace}:{{chaos}}:exp:{ours['id']}")
    raw_theirs = sync_redis.get(f"{namespace}:{{chaos}}:exp:{theirs['id']}")
    strip = lambda raw, e: raw.replace(e["id"], "ID").replace(str(e["start_ms"]), "S").replace(str(e["end_ms"]), "E")
    assert strip(raw_ours, ours) == strip(raw_theirs, theirs)  # byte for byte
    listed = haderctl_json(haderctl, "chaos", "list")
    assert sorted(e["id"] for e in listed) == sorted([ours["id"], theirs["id"]])


def test_an_experiment_from_haderctl_is_stopped_from_python(chaos, haderctl):
    haderctl("chaos", "enable", env=ALLOWED)
    started = haderctl_json(haderctl, "chaos", "inject", "abort", "--service", "smsa", "--duration", "1m")
    assert asyncio.run(chaos.list_active()) == [started]
    result = asyncio.run(chaos.stop(started["id"], reason="seen enough"))
    assert result["stopped"] == [started["id"]]
    assert haderctl_json(haderctl, "chaos", "list") == []
    stopped = [a for a in audit_of(haderctl) if a["event"] == "stopped"]
    assert stopped and stopped[-1]["experiment"] == started["id"] and stopped[-1]["detail"] == "seen enough"


def test_python_stop_all_latches_the_halt_haderctl_obeys(chaos, haderctl):
    async def start_and_stop():
        await chaos.enable_chaos()
        e = await chaos.get_chaos_monkey("all").inject_timeout(duration_seconds=60)
        return e, await chaos.stop_all(reason="customers affected")

    started, stop = asyncio.run(start_and_stop())
    assert started["services"] == ["*"]
    assert stop == {"stopped": [started["id"]], "halted": True, "warnings": []}
    status = haderctl_json(haderctl, "chaos", "status")
    assert status["halted"] is True and status["halt_reason"] == "customers affected"
    ours = asyncio.run(chaos.get_state())
    for field in ("enabled", "enabled_by", "halted", "halted_by", "halt_reason", "environment", "environment_allowed"):
        assert ours[field] == status[field], field
    refused = haderctl("chaos", "inject", "abort", "--service", "x", "--duration", "1m", check=False, env=ALLOWED)
    assert refused.returncode == 4 and "halted by stop-all (customers affected)" in refused.stderr
    with pytest.raises(ChaosRefusedError, match="halted by stop-all"):
        asyncio.run(chaos.get_chaos_monkey("x").inject_abort(duration_seconds=60))
    asyncio.run(chaos.resume())
    haderctl("chaos", "inject", "abort", "--service", "x", "--duration", "1m", env=ALLOWED)


def test_production_is_refused(client, haderctl):
    prod = ChaosSystem(environment="production")
    with pytest.raises(ChaosRefusedError, match="the environment is production"):
        asyncio.run(prod.enable_chaos())
    assert haderctl_json(haderctl, "chaos", "status")["enabled"] is False
    with pytest.raises(ChaosRefusedError, match="the environment is not set"):
        asyncio.run(ChaosSystem(environment="").enable_chaos())
    with pytest.raises(ChaosRefusedError, match="not in the allow-list"):
        asyncio.run(ChaosSystem(environment="qa").enable_chaos())

    # enabled from a test environment, injection from production is still refused
    haderctl("chaos", "enable", env=ALLOWED)
    with pytest.raises(ChaosRefusedError, match="production"):
        asyncio.run(prod.get_chaos_monkey("shopify").inject_failure(failure_rate=0.5, duration_seconds=60))
    with pytest.raises(ChaosRefusedError, match="production"):
        asyncio.run(ChaosSystem(environment="test").enable_chaos(environment="production"))
    assert haderctl_json(haderctl, "chaos", "list") == []
    refusals = [a for a in audit_of(haderctl) if a["event"] == "refused" and "production" in a["detail"]]
    assert len(refusals) == 3  # every refusal is audited, as haderctl's


def test_limits_and_bad_input(chaos, haderctl):
    asyncio.run(chaos.enable_chaos())
    monkey = chaos.get_chaos_monkey("shopify")
    with pytest.raises(ChaosRefusedError, match="duration 1h0m0s exceeds the 15m0s limit"):
        asyncio.run(monkey.inject_abort(duration_seconds=3600))
    with pytest.raises(ValueError, match="probability must be above 0"):
        asyncio.run(monkey.inject_failure(failure_rate=1.5, duration_seconds=60))
    with pytest.raises(ValueError, match="latency needs delay_ms > 0"):
        asyncio.run(monkey.inject_network_delay(delay_ms=0, duration_seconds=60))
    with pytest.raises(ValueError, match="error needs a status between 400 and 599"):
        asyncio.run(monkey.inject_failure(duration_seconds=60, status=200))
    with pytest.raises(ValueError, match="invalid service name"):
        chaos.get_chaos_monkey("{bad}")
    with pytest.raises(ChaosRefusedError, match="2.0 cores exceeds the 1.0-core cap"):
        asyncio.run(chaos.start({"kind": "cpu", "services": ["shopify"], "cores": 2.0, "duration": 60 * 10**9}))
    with pytest.raises(ValueError, match="a target service is required"):
        asyncio.run(chaos.start({"kind": "abort", "services": [], "duration": 60 * 10**9}))
    assert haderctl_json(haderctl, "chaos", "list") == []


def test_a_game_day_runs_haderctls_scenario(chaos, haderctl, upstream, monkeypatch):
    monkeypatch.setenv("HADERCTL_BIN", haderctl.binary)
    haderctl("health", "register", "shopify", "--url", upstream.url, "--interval", "1s")
    assert check(haderctl, "shopify")[0] == 0  # the steady state the game day checks first
    dry = haderctl_json(haderctl, "chaos", "run", "network_storm", "--services", "shopify", "--time-scale",
                        "0.01", "--dry-run")

    async def play():
        await chaos.enable_chaos()
        return await chaos.run_game_days_scenario("network_storm", time_scale=0.01, services=["shopify"])

    journal = asyncio.run(play())
    assert journal["scenario"] == "network_storm" and journal["verdict"] == "passed"
    assert [s["kind"] for s in journal["steps"]] == [s["experiment"]["kind"] for s in dry["steps"]]
    assert asyncio.run(chaos.list_active()) == []  # the game day stopped what it started
    started = {a["experiment"] for a in audit_of(haderctl) if a["event"] == "started"}
    assert started == {s["id"] for s in journal["steps"]}


def test_the_readme_example_runs(haderctl):
    env = dict(haderctl.env, HADERCTL_BIN=haderctl.binary, PYTHONPATH=str(PACKAGE_ROOT))
    out = subprocess.run([sys.executable, "-c", readme_example("chaos")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "['error', 'latency']"
    assert lines[1].startswith("stopped ['ch-") and lines[1].endswith("halted True")
    assert lines[2] == "game day: passed"
    assert haderctl_json(haderctl, "chaos", "list") == []


def test_a_game_day_is_refused_while_chaos_is_off(chaos, haderctl, monkeypatch):
    monkeypatch.setenv("HADERCTL_BIN", haderctl.binary)
    with pytest.raises(ChaosRefusedError, match="chaos is disabled"):
        asyncio.run(chaos.run_game_days_scenario("network_storm", time_scale=0.01))
    with pytest.raises(ValueError, match="unknown scenario|no scenario"):
        asyncio.run(chaos.run_game_days_scenario("sneeze", time_scale=0.01))
    assert haderctl.json("chaos", "list", env=ALLOWED) == []


def test_an_unreachable_redis_is_one_error_without_the_password(client):
    from conftest import free_port
    from haderos_resilience import RedisUnavailableError, configure, health_checker

    configure(redis_url=f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0")
    for call in (chaos_system.list_active, lambda: health_checker.is_service_healthy("shopify")):
        with pytest.raises(RedisUnavailableError) as err:
            asyncio.run(call())
        assert "s3cret-pw" not in str(err.value) and "Redis unavailable" in str(err.value)
