"""`python -m bench`: run every benchmark module in bench/, one after the other, each in its own process.

Each module is started as `python -m bench.<name>` with its defaults, so one benchmark's threads, servers or
Redis state cannot skew the next. Arguments after `--` are passed to every module; `--only NAME` (repeatable)
picks some. Exits non-zero when any benchmark did.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmark_modules() -> list[str]:
    """Module names in bench/ other than this runner, in alphabetical order."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(HERE)])
        if not info.name.startswith("_") and not info.ispkg
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run all benchmarks in bench/.")
    parser.add_argument("--only", action="append", default=[], help="run only this module (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --: arguments for every module")
    args = parser.parse_args(argv)
    modules = benchmark_modules()
    if args.list:
        print("\n".join(modules))
        return 0
    unknown = set(args.only) - set(modules)
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))} (have: {', '.join(modules)})")
    chosen = [name for name in modules if not args.only or name in args.only]
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    failed: list[str] = []
    for name in chosen:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        status = subprocess.call([sys.executable, "-m", f"bench.{name}", *extra])
        print(f"=== bench.{name}: exit {status} after {time.monotonic() - started:.1f} s ===", flush=True)
        if status != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
