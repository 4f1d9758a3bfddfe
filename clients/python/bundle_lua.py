"""Copy haderctl's Lua scripts beside the package, for an installed use.

An installed haderos_resilience is not inside the repository, so it cannot
find internal/engine; it reads haderos_resilience/lua/ instead, laid out
as internal/engine is (breaker/lua/acquire.lua, gateway/writes/lua/...).
Run this before `pip install ./clients/python`; pyproject.toml's
package-data globs ship what it copies.

    /usr/bin/python3 clients/python/bundle_lua.py [--engine DIR] [--dest DIR]

The destination is emptied first, so a script removed or renamed in the
engine does not survive in the bundle. Standard library only.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
DEFAULT_ENGINE = HERE.parent.parent / "internal" / "engine"
DEFAULT_DEST = HERE / "haderos_resilience" / "lua"


def bundle(engine: Path, dest: Path) -> List[str]:
    """Copy every engine/**/lua/*.lua to dest with the same relative path;
    returns the relative paths copied, sorted."""
    if not engine.is_dir():
        raise FileNotFoundError(f"engine directory {engine} does not exist")
    sources = sorted(p for p in engine.glob("**/lua/*.lua") if p.is_file())
    if not sources:
        raise FileNotFoundError(f"no lua/*.lua files under {engine}")
    if dest.exists():
        shutil.rmtree(dest)
    copied = []
    for src in sources:
        rel = src.relative_to(engine)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        copied.append(rel.as_posix())
    return copied


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description="copy internal/engine/**/lua/*.lua into haderos_resilience/lua/")
    ap.add_argument("--engine", type=Path, default=DEFAULT_ENGINE, help="the engine directory (default: the repository's internal/engine)")
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where to copy (default: haderos_resilience/lua beside this file)")
    opts = ap.parse_args(argv)
    try:
        copied = bundle(opts.engine, opts.dest)
    except OSError as e:
        print(f"bundle_lua: {e}", file=sys.stderr)
        return 1
    print(f"bundle_lua: copied {len(copied)} scripts into {opts.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
