"""What tests import (conftest.py holds the fixtures): where the repository and its configs are, and the CLI as a
user runs it."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def records(folder: Path) -> dict[str, dict]:
    """The records of a sweep folder's runs, by run folder name (a grid sweep's: the run key), in name order."""
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*/record.json"))}


def alignbench(*args: str, env: dict | None = None, timeout: int = 600, module: str = "alignbench"):
    """`python -m alignbench ARGS` from the repository root, as a user types it, run to its end."""
    with launch(*args, env=env, module=module) as child:
        child.wait(timeout)
        return subprocess.CompletedProcess([sys.executable, "-m", module, *args], child.returncode, *child.output())


@contextmanager
def launch(*args: str, **how) -> Iterator[Launched]:
    """start(ARGS) for the duration: killed if still running at the end."""
    child = start(*args, **how)
    try:
        yield child
    finally:
        child.close()


def start(
    *args: str,
    env: dict | None = None,
    module: str = "alignbench",
    code: str = "",
    session: bool = False,
    log: Path | None = None,
) -> Launched:
    """`python -m module ARGS` in a process of its own, forked from a server that has imported the stack once (the
    installed command itself is launched by tests/cli/test_packaging.py). `code` runs first (e.g. to arm a fault);
    `session`: its own session, so a signal to its group reaches it alone; `log`: stdout and stderr both go there."""
    folder = Path(tempfile.mkdtemp(prefix="alignbench-cli-"))
    streams = (log, log) if log else (folder / "stdout", folder / "stderr")
    environment = {**os.environ, **(env or {})}
    process = _servers().Process(
        target=_run_module, args=(module, list(args), environment, [str(p) for p in streams], code, session)
    )
    process.start()
    return Launched(process, folder, streams)


class Launched:
    """A launched command, with the part of subprocess.Popen's interface tests use."""

    def __init__(self, process, folder: Path, streams: tuple[Path, Path]) -> None:
        self.process, self.folder, self.streams = process, folder, streams

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise subprocess.TimeoutExpired(str(self.process), timeout)
        return self.process.exitcode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) so far."""
        return tuple(path.read_text(errors="replace") if path.exists() else "" for path in self.streams)

    def close(self) -> None:
        if self.poll() is None:
            self.process.kill()
        self.process.join()
        shutil.rmtree(self.folder, ignore_errors=True)


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


def _run_module(
    module: str, args: list[str], env: dict[str, str], streams: list[str], code: str, session: bool
) -> None:
    """In the forked child: the environment, folder, argv and standard streams of `python -m module args`."""
    import atexit
    import runpy
    import weakref

    if session:
        os.setsid()
    # The server's exit functions and finalizers (e.g. W&B's media folder, shared by every child) are not this child's
    # to run: only what the command itself registers runs when it ends.
    atexit._clear()
    for inherited in list(weakref.finalize._registry):
        inherited.atexit = False
    atexit.register(weakref.finalize._exitfunc)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(REPO)
    sys.stdout.flush(), sys.stderr.flush()
    for path, fd in zip(streams, (1, 2), strict=True):  # appended: stdout and stderr may share one file
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), fd)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
    sys.argv = [module, *args]
    status = 0
    try:
        exec(code, {"__name__": "__prelude__"})
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        atexit._run_exitfuncs()  # what the interpreter runs at exit: W&B, logging
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(status)


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
