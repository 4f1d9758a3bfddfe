"""docs/examples/third_client.py, the client written from
docs/redis-schema.md alone, keeps working: run against the test's Redis,
every state it writes is the one haderctl reads back."""

import json
import subprocess
import sys

from conftest import REPO


def test_the_third_client_from_the_schema_document_agrees_with_haderctl(redis_url, namespace, haderctl):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url, "HADERCTL_NAMESPACE": namespace,
           "HADERCTL_ENV": "development", "PYTHONDONTWRITEBYTECODE": "1"}
    p = subprocess.run([sys.executable, str(REPO / "docs" / "examples" / "third_client.py"), "payments"],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"third_client.py exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"

    st = haderctl.json("breaker", "status", "payments")["circuit_breakers"]["payments"]
    assert st["state"] == "open" and st["failure_count"] == 3, st
    assert haderctl("breaker", "exec", "payments", "--", "true", check=False).returncode == 75

    q = haderctl.json("queue", "status", "payments")["queues"]["payments"]
    assert q["pending_total"] == 1, q

    h = json.loads(haderctl("health", "status", "payments", "-o", "json").stdout)["services"]["payments"]
    assert h["healthy"] is True, h

    active = haderctl.json("chaos", "status")["active_experiments"]
    assert [e["services"] for e in active] == [["payments"]], active
    haderctl("chaos", "stop-all", "--reason", "test over")
    assert haderctl.json("chaos", "status")["active_experiments"] == []
