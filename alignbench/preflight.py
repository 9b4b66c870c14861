"""What must hold before a run claims its folder and only the code that would use a value can see: a name without an
implementation (a trainer, a benchmark), an optimizer transformers lacks, a step training never reaches. Found before
anything loads, so a run does not load, train and then fail on them."""

from __future__ import annotations

from alignbench.config.benchmarks import SPECS
from alignbench.config.schema import Config, MergeMethodConfig, MethodConfig, Stage, UntrainedMethodConfig


def library_problems(cfg: Config) -> list[str]:
    """Config mistakes that only the code which would use the value can see (a name without an implementation, an
    optimizer transformers lacks, a step training never reaches): found before the run directory is claimed, so a
    run does not load, train and then fail on them."""
    from transformers.training_args import OptimizerNames

    from alignbench.training.methods import METHODS

    problems = []
    if cfg.method.trainer not in METHODS:
        problems.append(f"method.trainer={cfg.method.trainer}: no such trainer; valid: {', '.join(sorted(METHODS))}")
    stages = [("method", cfg.method)] + [(f"method.{k}", v) for k, v in vars(cfg.method).items() if _trains(v)]
    valid = [o.value for o in OptimizerNames]
    for where, method in stages:
        if _trains(method) and method.optimizer not in valid:
            problems.append(
                f"{where}.optimizer={method.optimizer}: not an optimizer of transformers' Trainer (e.g. adamw_torch)"
            )
    if isinstance(cfg.method, MergeMethodConfig) and not cfg.method.merge.inputs:
        problems.append(
            "method=merge needs the runs it merges: set method.merge.inputs (and sweep.inputs_dir), "
            "or choose a merge_* option"
        )
    if Stage.evaluate in cfg.stages:
        unknown = [name for name in cfg.eval.benchmarks if name not in SPECS]
        if unknown:
            problems.append(f"eval.benchmarks: no benchmark {unknown}; valid: {', '.join(sorted(SPECS))}")
        # (an untrained method refuses eval.at_steps itself, naming the method: training.methods.common)
        problems += _late_steps("eval.at_steps", cfg.eval.at_steps, cfg.method)
    return problems + _late_steps("train.keep_steps", cfg.train.keep_steps, cfg.method)


def _late_steps(key: str, steps: list[int], method) -> list[str]:
    """A step past method.max_steps, where no adapter is ever saved (an untrained method refuses steps itself)."""
    late = [step for step in steps if step > method.max_steps] if _trains(method) else []
    if not late:
        return []
    return [
        f"{key}={list(steps)}: training stops at method.max_steps={method.max_steps}, "
        f"so no adapter is saved at step {', '.join(map(str, late))}"
    ]


def _trains(method) -> bool:
    return isinstance(method, MethodConfig) and not isinstance(method, UntrainedMethodConfig)
