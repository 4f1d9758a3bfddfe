"""The README's examples run as written: every ```python runnable block
is run as a script (the package on PYTHONPATH, the test's Redis and
namespace in the environment, as a service would be configured), and
what it did is then read back with haderctl."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import PACKAGE_ROOT

README = PACKAGE_ROOT / "README.md"
BLOCK = re.compile(r"^```python runnable\n(.*?)^```$", re.S | re.M)


def blocks():
    text = README.read_text()
    out = []
    for m in BLOCK.finditer(text):
        heading = [h for h in re.findall(r"^## (.+)$", text[:m.start()], re.M)][-1]
        out.append(pytest.param(m.group(1), id=f"{len(out) + 1}-{heading.lower().replace(' ', '-')}"))
    return out


def test_the_readme_has_runnable_examples_of_breaker_and_queue():
    found = [p.values[0] for p in blocks()]
    assert any("async with circuit_breaker(" in b for b in found)
    assert any("@circuit_breaker(" in b for b in found)
    assert any("queue_failed_operation(" in b for b in found)


@pytest.mark.parametrize("code", blocks())
def test_a_readme_example_runs_and_haderctl_agrees(code, haderctl, redis_url, namespace, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code)
    env = dict(haderctl.env, PYTHONPATH=str(PACKAGE_ROOT))
    p = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    if 'async with circuit_breaker("aramex")' in code:
        st = haderctl.json("breaker", "status", "aramex")["circuit_breakers"]["aramex"]
        assert st["state"] == "open" and st["failure_count"] == 3
        assert "using SMSA" in p.stdout
    if '@circuit_breaker("smsa")' in code:
        st = haderctl.json("breaker", "status", "smsa")["circuit_breakers"]["smsa"]
        assert st["state"] == "closed"
        assert "in transit" in p.stdout
    if "queue_failed_operation(" in code:
        st = haderctl.json("queue", "status", "aramex")["queues"]["aramex"]
        assert st["pending"]["normal"] == 1
        assert "1 pending" in p.stdout
