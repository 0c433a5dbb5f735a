"""Run every benchmark in bench/ in turn: `python -m bench` (or `make bench`)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    """Import each bench module and call its main(); the first failure stops the run."""
    folder = Path(__file__).parent
    for module_info in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{module_info.name}")
        run = getattr(module, "main", None)
        if run is None:
            continue
        print(f"== bench.{module_info.name} ==", flush=True)
        code = run()
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
