"""What tests import (conftest.py holds the fixtures): where the repository and its configs are, and the CLI as a
user runs it."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def alignbench(*args: str, env: dict | None = None, timeout: int = 600, module: str = "alignbench"):
    """`python -m alignbench ARGS` from the repository root, as a user types it, in a process of its own: forked
    from a server that has imported the stack once (tests/packaging.py launches the installed command itself)."""
    with tempfile.TemporaryDirectory() as folder:
        out, err = f"{folder}/stdout", f"{folder}/stderr"
        environment = {**os.environ, **(env or {})}
        child = _servers().Process(target=_run_module, args=(module, list(args), environment, out, err))
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired([module, *args], timeout)
        text = [Path(f).read_text(errors="replace") if Path(f).exists() else "" for f in (out, err)]
    return subprocess.CompletedProcess([sys.executable, "-m", module, *args], child.exitcode, *text)


# What every launch imports before its first line runs (about 10 s of a 2-core machine's time): imported once, in
# the fork server, so each launch starts from it as `python -m` would once its imports are done. Nothing here runs
# torch or starts a thread: forking after that is safe.
PRELOAD = ["hydra", "alignbench.pipeline", "alignbench.evaluation.suite", "alignbench.report", "wandb"]


@functools.cache
def _servers():
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["helpers", *PRELOAD])
    return context


def _run_module(module: str, args: list[str], env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: the environment, folder, argv and standard streams of `python -m module args`."""
    import atexit
    import runpy

    os.environ.clear()
    os.environ.update(env)
    os.chdir(REPO)
    sys.stdout.flush(), sys.stderr.flush()
    for path, fd in ((out, 1), (err, 2)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
    sys.argv = [module, *args]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()  # what the interpreter runs at exit: W&B, logging
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(code)


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
