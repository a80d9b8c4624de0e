"""``python -m bench <name> [args]``: run one benchmark (each explains itself with --help).

Benchmarks are modules of this package with a ``main(argv)`` function (sync,
or async for the ones that say so); new ones are picked up by name.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(names))
        print("e.g.  python -m bench dashboard --quick   |   python -m bench dashboard --help")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; choose one of {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    entry = getattr(module, "main", None)
    if entry is None:
        print(f"bench.{name} has no main(); run it with python -m bench.{name}", file=sys.stderr)
        return 2
    result = entry(rest) if inspect.signature(entry).parameters else entry()
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
