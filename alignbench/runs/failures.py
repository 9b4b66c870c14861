"""Why a run failed, in a small vocabulary, and whether that spends one of its retries (sweep.max_failures).

A failure that is not the run's fault (a model or dataset that cannot be had here, a full disk) is recorded as
failed with its reason but does not count: relaunching once the environment is fixed runs it again, however often
it happened. Pure Python: the grid sweeper groups its summary by these reasons without importing torch."""

from __future__ import annotations

import errno
import sys
from enum import StrEnum


class Reason(StrEnum):
    config = "config"  # the user's config cannot run (ConfigError)
    data = "data"  # the user's data cannot be used (DataError)
    nonfinite = "nonfinite"  # training diverged (a NaN or infinite loss, gradient norm or weight)
    unavailable = "unavailable"  # a model, dataset, file or key cannot be had here (offline, gated, hub down)
    disk_full = "disk_full"  # ENOSPC / EDQUOT while writing
    interrupted = "interrupted"  # Ctrl-C, SIGTERM, preemption
    error = "error"  # anything else: a crash, most likely a bug (the traceback is in the run's alignbench.log)


# The environment's fault, not the run's: recorded, never counted against its retries.
NOT_THE_RUNS_FAULT = (Reason.unavailable, Reason.disk_full, Reason.interrupted)
# What the user can fix from the message alone: no traceback is printed for these.
EXPLAINED = (Reason.config, Reason.data, Reason.nonfinite, Reason.unavailable, Reason.disk_full)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def reason_of(err: BaseException) -> Reason:
    """The reason for `err`: an exception class may say it (`reason = "..."`, e.g. ConfigError, Unavailable,
    NonFiniteTraining); a full disk, the hub's "cannot be had" errors and libraries' errors that name a config
    mistake are recognised anywhere in the chain of causes (a library often wraps them)."""
    if not isinstance(err, Exception):
        return Reason.interrupted
    seen = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        declared = getattr(cause, "reason", None)  # other libraries' errors may have a `reason` of their own
        if isinstance(declared, str) and declared in Reason.__members__:
            return Reason(declared)
        if isinstance(cause, OSError) and cause.errno in DISK_FULL:
            return Reason.disk_full
        if isinstance(cause, _hub_unavailable()):
            return Reason.unavailable
        if isinstance(cause, _config_mistakes()):
            return Reason.config
        cause = cause.__cause__ or cause.__context__
    return Reason.error


def counts_against_retries(reason: Reason | str | None) -> bool:
    return reason not in NOT_THE_RUNS_FAULT


def describe(err: BaseException) -> str:
    """What a record and the summary say about `err`: its type and message, with the errno's name for OS errors
    (a full disk reads `OSError ENOSPC: No space left on device: '<file>'`)."""
    if isinstance(err, OSError) and err.errno is not None and err.errno in errno.errorcode:
        where = f": {err.filename!r}" if err.filename else ""
        return f"{type(err).__name__} {errno.errorcode[err.errno]}: {err.strerror}{where}"
    return f"{type(err).__name__}: {err}"


def _config_mistakes() -> tuple[type, ...]:
    """Libraries' errors that only a config value can cause and whose message names it: PEFT's "Target modules
    {'x'} not found in the base model" (adapter.target_modules). Looked up only where the library is loaded already:
    importing PEFT costs seconds (torch), and what was never imported has raised nothing."""
    errors = sys.modules.get("peft.utils.error")
    return (errors.NoMatchingPeftModuleError,) if errors is not None else ()


def _hub_unavailable() -> tuple[type, ...]:
    """The hub client's errors that mean "not reachable or not allowed here", not "you named it wrong" (a wrong id
    is refused before the run starts, by the hub check in config.rules)."""
    found: list[type] = [ConnectionError, TimeoutError]
    try:
        from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, OfflineModeIsEnabled

        found += [GatedRepoError, LocalEntryNotFoundError, OfflineModeIsEnabled]
    except ImportError:  # the planner's environment may lack it; nothing of it can have been raised then
        pass
    try:
        import httpx

        found += [httpx.TransportError]
    except ImportError:
        pass
    try:
        import requests

        found += [requests.ConnectionError, requests.Timeout]
    except ImportError:
        pass
    return tuple(found)
