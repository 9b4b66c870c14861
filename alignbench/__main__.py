"""Entry point: `python -m alignbench [overrides]` composes conf/ and runs one train-then-evaluate job.

python -m alignbench                                   # tiny model, bundled data, CPU, ~1 minute
python -m alignbench method=sft dataset=hh_rlhf dataset.preference=helpful
python -m alignbench -m model=mistral,vicuna method=sft,dpo
python -m alignbench -m sweep=paper dry_run=true       # plan the study's 320 runs, see what is done
"""

import logging
import math
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from alignbench.config.guard import check_command_line, config_problems
from alignbench.config.schema import register_configs

log = logging.getLogger("alignbench")
GROUPS = ("model", "dataset", "method", "adapter", "quant", "logger", "eval", "judge")


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> dict | float | None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    run_dir = Path(hydra_cfg.runtime.output_dir)
    problems = config_problems(cfg)  # jobs of sweepers other than the grid's: checked before anything runs
    if problems:
        from alignbench.config.rules import ConfigError

        raise ConfigError("; ".join(problems))
    if cfg.dry_run:  # a sweep's dry run never launches jobs (see the grid sweeper); this is a single run's
        from alignbench.runs.keys import resolve, run_key

        print(f"dry run: run_key {run_key(resolve(cfg))} -> {run_dir}")
        return None

    from alignbench.config.hub import Unavailable
    from alignbench.config.rules import ConfigError
    from alignbench.data.load import DataError
    from alignbench.pipeline import JobInfo, run  # heavy imports only once a job really runs

    job = JobInfo(
        # Each group's option by its own name (eval follows the model through eval/by_model/<model>: its name says
        # which suite it is).
        choices={group: cfg[group].name for group in GROUPS},
        overrides=list(hydra_cfg.overrides.task),  # secrets never get this far (check_command_line)
        # Only a multirun keys its run directories by run_key; a single run gets a fresh, timestamped one.
        sweep=cfg.sweep.name if multirun else None,
    )
    try:
        record = run(cfg, run_dir, job)
        result = record.to_json() if record else None  # plain data: launchers pickle what a job returns
    except Exception as err:
        if not multirun:
            raise
        # One failed job must not stop the sweep; its record (when it got that far) says why, and the sweep's
        # summary repeats what is returned here. A traceback helps only for errors that are not the user's input.
        log.error("run failed: %s", err, exc_info=not isinstance(err, (ConfigError, DataError, Unavailable)))
        result = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    if cfg.sweep.objective:  # an optimising sweeper (optuna) reads one number; a failed trial is NaN
        return float((result or {}).get("metrics", {}).get(cfg.sweep.objective, math.nan))
    return result


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    # Before Hydra parses the command line: a secret in an override would be in .hydra/ as soon as a job starts.
    check_command_line(sys.argv[1:])
    register_configs()
    # A scheduler's or a user's SIGTERM ends the run like Ctrl-C: its record says "interrupted" (not a failure,
    # so no retry is spent) and its W&B run is closed. SIGKILL cannot be caught; its record stays "running",
    # which the next launch treats as not started, since nobody holds the run's lock any more.
    signal.signal(signal.SIGTERM, _stop)
    try:
        _job()
    except KeyboardInterrupt:
        # The interrupted run's record says so and counts no failure; done runs are kept.
        print("\ninterrupted; relaunching the same multirun continues it without redoing finished runs")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
