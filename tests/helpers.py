"""What tests import (conftest.py holds the fixtures): where the repository and its configs are, and the CLI as a
user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def tmpfs(parent: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` under parent: writes past it fail with a real ENOSPC. Mounting needs root (CAP_SYS_ADMIN);
    elsewhere the test skips, saying why."""
    import pytest

    mount = parent / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or done.returncode}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
