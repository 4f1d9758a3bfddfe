"""The scripts Python runs are haderctl's: the same files, the same text
under the prelude rule, so the same SHA-1 in Redis' script cache."""

from __future__ import annotations

import hashlib

import pytest

from conftest import run

from haderos_resilience import _core

ENGINE = _core.lua_dir()


def rule_text(relpath: str) -> bytes:
    """The prelude rule read straight from the files, independently of
    _core: a header line "--- prelude: NAME" means NAME's bytes first."""
    own = (ENGINE / relpath).read_bytes()
    header = []
    for line in own.decode().split("\n"):
        if not line.startswith("---"):
            break
        header.append(line)
    named = [ln.split(":", 1)[1].strip() for ln in header if ln.startswith("--- prelude:")]
    if not named:
        return own
    return (ENGINE / relpath).parent.joinpath(named[0]).read_bytes() + own


SCRIPTS = _core.all_scripts()


def test_every_part_has_its_scripts():
    parts = {p.split("/lua/")[0] for p in SCRIPTS}
    assert parts >= {"breaker", "chaos", "health", "queue", "store", "gateway/writes"}
    assert "breaker/lua/acquire.lua" in SCRIPTS
    assert not any(p.endswith("/prelude.lua") for p in SCRIPTS)


@pytest.mark.parametrize("relpath", SCRIPTS)
def test_each_script_loads_and_redis_reports_the_rule_texts_sha(relpath, sync_redis):
    text = rule_text(relpath)
    s = _core.script(relpath)
    assert s.text == text
    assert sync_redis.script_load(text.decode()) == hashlib.sha1(text).hexdigest() == s.sha


def test_a_script_with_a_prelude_runs_as_prelude_then_its_own_bytes():
    s = _core.script("breaker/lua/record.lua")
    prelude = (ENGINE / "breaker/lua/prelude.lua").read_bytes()
    own = (ENGINE / "breaker/lua/record.lua").read_bytes()
    assert s.text == prelude + own
    assert _core.prelude_of(own) == "prelude.lua"
    assert _core.prelude_of((ENGINE / "queue/lua/enqueue.lua").read_bytes()) is None


def test_haderctl_runs_the_very_text_python_hashes(client, haderctl, sync_redis):
    # after a flush only what haderctl itself loads is in the script
    # cache; Python's SHA-1s of the same files must be among it
    sync_redis.script_flush()
    haderctl("breaker", "record", "aramex", "failure")
    haderctl("queue", "push", "aramex", "--operation", "create_shipment", "--service", "aramex")
    for relpath in ("breaker/lua/record.lua", "queue/lua/enqueue.lua"):
        assert sync_redis.script_exists(_core.script(relpath).sha) == [True], relpath


def test_a_flushed_script_cache_is_loaded_again(client, sync_redis):
    import asyncio
    sync_redis.script_flush()
    got = run(_core.script("store/lua/mark_schema.lua")(_core.get_redis(), ["none:schema"], [2, 3]))
    assert got == 0
    assert sync_redis.script_exists(_core.script("store/lua/mark_schema.lua").sha) == [True]


def test_the_scripts_are_found_through_HADEROS_LUA_DIR(monkeypatch, tmp_path):
    import shutil
    shutil.copytree(ENGINE / "queue" / "lua", tmp_path / "queue" / "lua")
    monkeypatch.setenv("HADEROS_LUA_DIR", str(tmp_path))
    assert _core.lua_dir() == tmp_path
    assert _core.script_text("queue/lua/enqueue.lua") == (ENGINE / "queue/lua/enqueue.lua").read_bytes()
    monkeypatch.setenv("HADEROS_LUA_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):
        _core.script_text("queue/lua/enqueue.lua")
