"""Run Python as if some optional packages were not installed: ``python blocked_python.py -m module args...``
or ``python blocked_python.py -c code``, with ``BLOCKED_MODULES`` a comma-separated list of module names.

An import of a blocked module (or of anything inside it) raises ``ModuleNotFoundError`` with ``name`` set, as
the import system does for a package that is absent: the finder is consulted before every other one.
"""

from __future__ import annotations

import importlib.abc
import os
import runpy
import sys

BLOCKED = tuple(name for name in os.environ.get("BLOCKED_MODULES", "").split(",") if name)


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        for name in BLOCKED:
            if fullname == name or fullname.startswith(name + "."):
                raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


for loaded in [m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED)]:
    del sys.modules[loaded]
sys.meta_path.insert(0, _Absent())

if __name__ == "__main__":
    if sys.argv[1] == "-m":
        sys.argv = [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    elif sys.argv[1] == "-c":
        code = sys.argv[2]
        sys.argv = ["-c", *sys.argv[3:]]
        exec(compile(code, "<blocked>", "exec"), {"__name__": "__main__"})  # noqa: S102 (python -c)
