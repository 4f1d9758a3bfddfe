"""An installed package runs the scripts it was shipped with: bundle_lua.py
copies them beside the package, pip installs them (pyproject's
package-data), and the package finds them with no repository around it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import PACKAGE_ROOT, REPO

ENGINE = REPO / "internal" / "engine"

# run in the installed copy: where the scripts come from, then a breaker
# acquire (the first script a guarded call runs) and a failure report
INSTALLED_USE = textwrap.dedent("""
    import asyncio, sys
    import haderos_resilience
    from haderos_resilience import _core, circuit_breaker
    print("package", haderos_resilience.__file__)
    print("lua", _core.lua_dir())
    haderos_resilience.configure(redis_url=sys.argv[1], namespace=sys.argv[2])
    async def main():
        try:
            b = circuit_breaker("installed")
            for _ in range(3):
                try:
                    async with b:
                        raise ConnectionError("down")
                except ConnectionError:
                    pass
        finally:
            await _core.close()
    asyncio.run(main())
""")


def engine_scripts():
    return sorted(p.relative_to(ENGINE).as_posix() for p in ENGINE.glob("**/lua/*.lua"))


def test_the_bundler_copies_every_script_with_the_engines_layout(tmp_path):
    sys.path.insert(0, str(PACKAGE_ROOT))
    try:
        import bundle_lua
    finally:
        sys.path.remove(str(PACKAGE_ROOT))
    dest = tmp_path / "lua"
    (dest / "stale" / "lua").mkdir(parents=True)
    (dest / "stale" / "lua" / "gone.lua").write_text("return 1")
    copied = bundle_lua.bundle(ENGINE, dest)
    assert copied == engine_scripts()
    assert "gateway/writes/lua/settle.lua" in copied and "breaker/lua/prelude.lua" in copied
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.lua"))
    assert got == copied, "a script the engine no longer has survived the bundle"
    for rel in copied:
        assert (dest / rel).read_bytes() == (ENGINE / rel).read_bytes(), rel


def test_an_installed_package_runs_its_bundled_scripts(tmp_path, redis_url, namespace, haderctl):
    # a copy of the package outside the repository: no go.mod above it
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_ROOT, src, ignore=shutil.ignore_patterns("tests", "lua", "__pycache__", "build",
                                                                     "*.egg-info"))
    for d in [src, *src.parents]:
        assert not (d / "go.mod").exists(), f"{d} has a go.mod: the copy would find the repository's scripts"
    subprocess.run([sys.executable, str(src / "bundle_lua.py"), "--engine", str(ENGINE)], check=True,
                   capture_output=True, text=True)
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k not in ("HADEROS_LUA_DIR", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                          "--no-build-isolation", "--target", str(site), str(src)],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    installed = site / "haderos_resilience" / "lua"
    shipped = sorted(p.relative_to(installed).as_posix() for p in installed.rglob("*.lua"))
    assert shipped == engine_scripts(), "pip did not install every bundled script (package-data globs)"

    env["PYTHONPATH"] = str(site)
    p = subprocess.run([sys.executable, "-c", INSTALLED_USE, redis_url, namespace], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = dict(line.split(" ", 1) for line in p.stdout.splitlines())
    assert lines["package"].startswith(str(site)), lines
    assert lines["lua"] == str(installed), lines
    st = haderctl.json("breaker", "status", "installed")["circuit_breakers"]["installed"]
    assert st["state"] == "open" and st["failure_count"] == 3, st


def test_a_checkout_reads_its_own_scripts_before_a_stale_bundle(tmp_path):
    # a checkout (go.mod, internal/engine) whose package has a bundle
    # left beside it: the checkout's files win
    checkout = tmp_path / "repo"
    checkout.mkdir()
    (checkout / "go.mod").write_text("module example\n")
    shutil.copytree(ENGINE, checkout / "internal" / "engine", ignore=shutil.ignore_patterns("*.go", "testdata"))
    pkg = checkout / "clients" / "python"
    shutil.copytree(PACKAGE_ROOT / "haderos_resilience", pkg / "haderos_resilience",
                    ignore=shutil.ignore_patterns("lua", "__pycache__"))
    stale = pkg / "haderos_resilience" / "lua" / "breaker" / "lua"
    stale.mkdir(parents=True)
    (stale / "acquire.lua").write_text("return 'STALE-BUNDLE'\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HADEROS_LUA_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(pkg), PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([sys.executable, "-c", "from haderos_resilience import _core; print(_core.lua_dir()); "
                        "print(_core.script('breaker/lua/acquire.lua').text.count(b'STALE-BUNDLE'))"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    where, stale_bytes = p.stdout.splitlines()
    assert where == str(checkout / "internal" / "engine")
    assert stale_bytes == "0"
