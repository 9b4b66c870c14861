"""Entry point: `python -m alignbench [overrides]` composes conf/ and runs one train-then-evaluate job.

python -m alignbench                                   # tiny model, bundled data, CPU, ~1 minute
python -m alignbench method=sft dataset=hh_rlhf dataset.preference=helpful
python -m alignbench -m model=mistral,vicuna method=sft,dpo
python -m alignbench -m sweep=paper dry_run=true       # plan the study's 320 runs, see what is done
"""

import logging
import math
import os
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from alignbench.config.guard import check_command_line, config_problems
from alignbench.config.schema import register_configs
from alignbench.runs.dirs import RunDir
from alignbench.runs.failures import EXPLAINED, Reason, describe, reason_of

log = logging.getLogger("alignbench")
# Not under `alignbench`: Hydra's job logging writes it to the run's alignbench.log only (conf/hydra/job_logging).
tracebacks = logging.getLogger("alignbench_traceback")
GROUPS = ("model", "dataset", "method", "adapter", "quant", "logger", "eval", "judge")
# Set by the user, Hydra's own switch also brings back every traceback on the console. main() sets it for Hydra
# (so that Hydra raises instead of printing), after reading what the user asked for.
DEBUG = "HYDRA_FULL_ERROR"
_debug_asked = os.environ.get(DEBUG, "").lower() in ("1", "true", "yes")
# `-v` / `--verbose` before or among the overrides: libraries' progress bars on the console (runs.console.VERBOSE,
# set in the environment, so every job of a sweep, in this process or a launcher's, sees it). Not a Hydra flag: main()
# takes it off the command line before Hydra reads it.
VERBOSE_FLAGS = ("-v", "--verbose")
# A single run's directory once its job started: an interrupted single run is continued there (hydra.run.dir), not
# by relaunching a multirun.
_single_run: dict[str, Path] = {}


# An absolute folder: run as the `alignbench` command, Hydra would otherwise look for a module `alignbench.conf`.
@hydra.main(config_path=str(Path(__file__).resolve().parent / "conf"), config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> dict | float | None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if not multirun:
        _single_run["dir"] = run_dir
    problems = config_problems(cfg)  # jobs of sweepers other than the grid's: checked before anything runs
    if problems:
        from alignbench.config.rules import ConfigError

        raise ConfigError("; ".join(problems))
    if cfg.dry_run:  # a sweep's dry run never launches jobs (see the grid sweeper); this is a single run's
        from alignbench.runs.identity import identify

        # The key the run would have: a chained run's covers its SFT stage, a merge's its inputs (runs.identity).
        print(f"dry run: run_key {identify(cfg).run_key} -> {run_dir}")
        return None

    from alignbench.pipeline import JobInfo, RunFailed, run  # heavy imports only once a job really runs

    job = JobInfo(
        # Each group's option by its own name (eval follows the model, config.routing: its name says which suite).
        choices={group: cfg[group].name for group in GROUPS},
        overrides=list(hydra_cfg.overrides.task),  # secrets never get this far (check_command_line)
        # Only a multirun keys its run directories by run_key; a single run gets a fresh, timestamped one.
        sweep=cfg.sweep.name if multirun else None,
    )
    try:
        record = run(cfg, run_dir, job)
        result = record.to_json() if record else None  # plain data: launchers pickle what a job returns
    except Exception as raised:
        summarised = isinstance(raised, RunFailed)  # the run's summary has said what failed
        err = raised.__cause__ if summarised and isinstance(raised.__cause__, Exception) else raised
        reason = reason_of(err)
        # The run's alignbench.log keeps what failed, with the traceback of a crash the message does not explain.
        trace = None if reason in EXPLAINED else err
        tracebacks.error("run failed (%s): %s", reason.value, one_line(err), exc_info=trace)
        if not multirun:
            if _debug_asked:
                raise
            _say(err, reason, run_dir, summarised)
            raise SystemExit(1) from None
        # One failed job must not stop the sweep; its record (when it got that far) and the sweep's summary say why.
        if not summarised:
            log.error("alignbench: %s: %s", run_dir, one_line(err))
        result = {"status": "failed", "error": describe(err), "reason": reason.value}
    if cfg.sweep.objective:  # an optimising sweeper (optuna) reads one number; a failed trial is NaN
        return float((result or {}).get("metrics", {}).get(cfg.sweep.objective, math.nan))
    return result


def _say(err: Exception, reason: Reason, run_dir: Path, summarised: bool) -> None:
    """A failed single run's message, once: the run's summary has said it if the run got that far; otherwise one
    line. A crash that is not explained by its message also says where its traceback is."""
    if not summarised:
        print(f"alignbench: {one_line(err)}", file=sys.stderr, flush=True)
    if reason not in EXPLAINED:
        print(
            f"alignbench: unexpected error; its traceback is in {RunDir(run_dir).log} ({DEBUG}=1 prints it here)",
            file=sys.stderr,
            flush=True,
        )


def one_line(err: BaseException) -> str:
    """What went wrong, where and how to fix it, on one line (a list of problems: one line each). Hydra's
    composition errors (an unknown option or key, a value of the wrong type, an override that does not parse) come
    over several lines with a search path and a hint about `+`; alignbench's own errors carry their message; any
    other error is named by its type."""
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    if isinstance(err, MissingConfigException) and err.options and err.missing_cfg_file:
        group, _, option = err.missing_cfg_file.rpartition("/")
        return f"{group}={option}: no such option in group '{group}'; choose one of: {', '.join(err.options)}"
    if not (getattr(err, "reason", None) or isinstance(err, HydraException | OmegaConfBaseException)):
        return describe(err)
    text = str(err).split("\nConfig search path:")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("To append")]
    cause = err.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        lines.append(str(cause).strip().splitlines()[0])  # OmegaConf's next lines repeat the key and its type
    if isinstance(cause, ConfigKeyError | ConfigAttributeError):
        lines.append("check its spelling (`python -m alignbench --cfg job` prints every key)")
    if isinstance(err, OverrideParseException):
        lines.insert(0, f"cannot parse the override {err.override!r}:")
    items = [line[2:] for line in lines[1:] if line.startswith("- ")]
    if items and len(items) == len(lines) - 1:  # ConfigError: "this run cannot start:" and one problem per line
        return f"{lines[0].rstrip(':')}: {items[0]}" if len(items) == 1 else "\n".join([lines[0], *lines[1:]])
    if not lines:
        return describe(err)
    head = " ".join(line if line.endswith((".", ":", ";")) else line + ";" for line in lines[:-1])
    return f"{head} {lines[-1]}" if head else lines[-1]


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupted_message(argv: list[str], run_dir: Path | None) -> str:
    """What an interrupted command says: a sweep continues where it stopped when relaunched (its run directories are
    keyed by run_key); a single run gets a new, timestamped directory each launch, so it continues only when pointed
    at the one it stopped in."""
    if run_dir is not None:
        return (
            f"interrupted; {run_dir} keeps what the run did: relaunch the same command with hydra.run.dir={run_dir} "
            "to continue it (training resumes from its last checkpoint)"
        )
    if any(arg in ("-m", "--multirun", "hydra.mode=MULTIRUN") for arg in argv):
        return "interrupted; relaunching the same multirun continues it without redoing finished runs"
    return "interrupted before the run started; relaunch the same command"


def take_verbose_flag(argv: list[str]) -> list[str]:
    """The command line without `-v` / `--verbose`; either one asks for libraries' progress bars (VERBOSE)."""
    from alignbench.runs.console import VERBOSE

    if any(arg in VERBOSE_FLAGS for arg in argv):
        os.environ[VERBOSE] = "1"
    return [arg for arg in argv if arg not in VERBOSE_FLAGS]


def main() -> None:
    sys.argv[1:] = take_verbose_flag(sys.argv[1:])
    # Before Hydra parses the command line: a secret in an override would be in .hydra/ as soon as a job starts.
    check_command_line(sys.argv[1:])
    register_configs()
    # A scheduler's or a user's SIGTERM (or SIGUSR2, SLURM's usual warning) ends the run like Ctrl-C: its record
    # says "interrupted" (not a failure, so no retry is spent) and its W&B run is closed. While training, the
    # signal first waits for a checkpoint at the next step (training.preemption), and the next launch resumes it.
    # SIGKILL cannot be caught; its record stays "running", which the next launch treats as not started (nobody
    # holds the run's lock any more), resuming from the newest complete checkpoint. Under SLURM, submitit's process
    # (not this function) runs the job, with its own SIGUSR2 handler that requeues it.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGUSR2, _stop)
    os.environ[DEBUG] = "1"  # Hydra then raises what it cannot compose, instead of printing it over several lines
    try:
        _job()
    except KeyboardInterrupt:
        # The interrupted run's record says so and counts no failure; done runs are kept.
        print("\n" + interrupted_message(sys.argv[1:], _single_run.get("dir")), flush=True)
        raise SystemExit(130) from None
    except Exception as err:  # the config does not compose, or the launcher failed: nothing ran
        if _debug_asked:
            raise
        print(f"alignbench: {one_line(err)}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
