"""What tests import (conftest.py holds the fixtures): where the repository and its configs are, and the CLI as a
user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def alignbench(*args: str, env: dict | None = None, timeout: int = 600, module: str = "alignbench"):
    """`python -m alignbench ARGS` from the repository root, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
