"""Can this program start local worker processes?

Local workers (dask's LocalCluster, torch's spawn) start by re-importing the main module.
A script without an ``if __name__ == "__main__":`` guard then runs again inside every worker,
tries to start workers itself and fails ("An attempt has been made to start a new process
before the current process has finished its bootstrapping phase"). Most users' scripts have
no guard, so the library checks first and works in this process instead, saying so.
A program read from standard input (``python - < script.py``) cannot be re-read by the
workers at all. Notebooks, ``python -c`` and guarded scripts or modules are safe.
"""

from __future__ import annotations

import ast
import os
import sys
from functools import lru_cache

__all__ = ["worker_processes_unsafe"]


def worker_processes_unsafe() -> str | None:
    """None when local worker processes can start; else the reason they cannot (one sentence)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return None  # interactive, a notebook or -c: workers do not re-run the main module
    if not os.path.isfile(path):
        return f"the main program ({path}) is not a file that worker processes could re-read (run it as a script)"
    return _unguarded(str(path))


@lru_cache(maxsize=8)
def _unguarded(path: str) -> str | None:
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, ValueError):
        return None
    if any(_is_main_guard(node) for node in tree.body):
        return None
    return (
        f'the main script {path} has no `if __name__ == "__main__":` guard, so worker processes would '
        "re-run it (put the calls under such a guard to use them)"
    )


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    texts = {s.value for s in sides if isinstance(s, ast.Constant)}
    return "__name__" in names and "__main__" in texts
