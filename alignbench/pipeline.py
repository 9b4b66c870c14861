"""One job, top to bottom: keys -> validate -> claim the run directory (skip what is done) -> data -> tokenizer and
base model -> train the adapter -> evaluate it (preference pairs, benchmarks, the base) -> record.json, mirrored
to the tracker."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from alignbench.config.rules import ConfigError, check_device
from alignbench.config.schema import Config, MergeMethodConfig, MethodConfig, Precision, Stage, UntrainedMethodConfig
from alignbench.data.fit import fit_data
from alignbench.data.load import load_preference_data
from alignbench.modeling.models import load_base_model, load_tokenizer, model_location, release_base_model
from alignbench.runs import adapter
from alignbench.runs.console import print_summary, quiet_libraries, run_name, stage_line
from alignbench.runs.inputs import input_problems, with_inputs
from alignbench.runs.keys import eval_key, keyed_config, resolve, run_key
from alignbench.runs.provenance import without_secrets
from alignbench.runs.record import RunRecord, Status, now, timed
from alignbench.runs.recovery import previous_record
from alignbench.runs.stages import ChainStage, ensure_stage, with_stage
from alignbench.runs.state import claim
from alignbench.runs.study import input_studies, study_coordinates
from alignbench.runs.tracking import TrackedRun, axis_tags, start_tracker, sweep_axes, wandb_run_id
from alignbench.training.checkpoints import discard, pick
from alignbench.training.preemption import Preempted
from alignbench.training.train import Resume, train_adapter, train_pairs_wanted

log = logging.getLogger(__name__)


@dataclass
class JobInfo:
    """What Hydra knows about the job beyond its config."""

    choices: dict[str, str]  # config group -> option, e.g. model -> mistral
    overrides: list[str] = field(default_factory=list)  # the job's own overrides, e.g. seed=3
    sweep: str | None = None  # the sweep's name when the run directory is keyed by run_key (a grid cell)


def run(config: DictConfig, run_dir: Path, job: JobInfo) -> RunRecord | None:
    """Train and evaluate one configuration, unless its run directory is done or another process holds it.

    A run trained before (same run_key, adapter saved) whose evaluation is missing, failed or configured
    differently (another eval_key) is only re-evaluated: adding a benchmark never retrains.
    """
    resolved = resolve(config)
    cfg: Config = OmegaConf.to_object(config)
    inputs = with_inputs(resolved)  # the runs a merge is made of: part of its run key
    stage = with_stage(config, resolved)  # the SFT run an sft_dpo run starts from: part of its run key
    keys = run_key(resolved), eval_key(resolved)
    study = study_coordinates(resolved, input_studies(found.record.to_json() for found in inputs if found.record))
    # Checked before the run directory is claimed: a config that cannot run here touches nothing.
    precision = check_device(cfg, input_problems(inputs) + library_problems(cfg))
    with claim(run_dir) as claimed:
        if not claimed:
            log.info("alignbench: another process is running %s; skipped", run_dir)
            return None
        previous = previous_record(run_dir, keys[0])  # an unreadable record is set aside; a complete adapter kept
        trained_before = previous is not None and previous.run_key == keys[0] and previous.trained_at is not None
        damage = previous.adapter_problem(run_dir) if trained_before else None  # a file missing or changed since
        trained = trained_before and damage is None
        if Stage.train not in cfg.stages and not trained:
            raise ConfigError(
                f"stages=[{','.join(cfg.stages)}] needs a trained run in {run_dir}; "
                f"{damage or f'it has no adapter for run_key {keys[0]}'} (run with stages=[train,evaluate] first)"
            )
        if damage:
            log.warning("alignbench: warning: %s; the adapter is trained again", damage)
        train = Stage.train in cfg.stages and not trained
        evaluate = Stage.evaluate in cfg.stages and not (trained and previous.is_done(*keys))
        if not (train or evaluate):
            if previous != RunRecord.read(run_dir):  # rebuilt from its complete adapter (runs.recovery): kept now
                previous.write(run_dir)
            discard(run_dir)  # a kill between publishing the adapter and discarding the checkpoints left them
            log.info("alignbench: %s is already complete (run_key %s); skipped", run_dir, keys[0])
            return previous
        # A killed, preempted or requeued attempt left checkpoints: training continues from the newest complete one.
        resume = _resume_point(run_dir, keys[0], resolved) if train else None
        record = RunRecord.start(keys, evaluate, previous, run_dir, resolved, keep_training=not train)
        record.choices, record.overrides, record.sweep = job.choices, job.overrides, job.sweep
        record.precision = precision.value
        record.study = study
        _record_resume(record, resume, previous, run_dir)
        record.write(run_dir)
        try:
            _execute(cfg, record, run_dir, job, train, evaluate, precision, resume, stage)
        except Preempted as stop:
            stop.forward()  # the record says interrupted; submitit's handler requeues the job and exits here
            raise
        return record


def _resume_point(run_dir: Path, key: str, resolved: dict) -> Resume:
    """What checkpoints of this run carry, and the one to continue from (a ConfigError if the run directory holds
    another configuration's; torn or corrupt ones are set aside on the way)."""
    resume = Resume(key, without_secrets(keyed_config(resolved)))
    resume.picked = pick(run_dir, key, resume.keyed)
    resume.checkpoint = resume.picked.path
    return resume


def _record_resume(record: RunRecord, resume: Resume | None, previous: RunRecord | None, run_dir: Path) -> None:
    """resumed_from for this attempt, and the run's history of resumes and set-aside checkpoints."""
    history = (previous.resumes if previous and previous.run_key == record.run_key else None) or []
    picked = resume.picked if resume else None
    if picked and (picked.path or picked.set_aside):
        record.resumed_from = str(picked.path.relative_to(run_dir)) if picked.path else None
        entry = {"attempt": record.attempt, "checkpoint": record.resumed_from, "step": picked.step}
        history = [*history, entry | ({"set_aside": picked.set_aside} if picked.set_aside else {})]
        if picked.path:
            print(f"alignbench: resuming {run_dir} from {record.resumed_from} (step {picked.step})", flush=True)
    record.resumes = history or None


def _execute(
    cfg: Config,
    record: RunRecord,
    run_dir: Path,
    job: JobInfo,
    train: bool,
    evaluate: bool,
    precision: Precision,
    resume: Resume | None,
    stage: ChainStage | None = None,
) -> None:
    """The record is written when the run starts (status running) and again however it ends."""
    metrics, timings = record.metrics, record.timings
    tracker = policy = None
    try:
        if train and stage is not None:  # before this run's tracker and base: the stage is a run of its own
            with timed(timings, "parent_s"):
                record.parent = ensure_stage(stage, run_dir, job.sweep, _run_stage)
            record.write(run_dir)
        record.torch_threads = torch.get_num_threads()
        quiet_libraries()
        tracker = start_tracker(
            cfg.logger,
            run_dir,
            TrackedRun(
                name=run_name(job.choices, cfg.seed),
                config={"run_key": record.run_key, "eval_key": record.eval_key, **record.config},
                tags=axis_tags(job.overrides, sweep_axes(run_dir) if job.sweep else None),
                group=cfg.sweep.name,  # a single run's too (`adhoc` unless named), so every run filters by group
                job_type=cfg.method.name,
                run_id=wandb_run_id(job.sweep, record.run_key, run_dir),
            ),
        )
        say(f"load data {cfg.dataset.name} ({cfg.dataset.preference.value})")
        with timed(timings, "data_s"):
            data = load_preference_data(cfg.dataset, train_pairs_wanted(cfg), cfg.dataset.selection_seed)
            record.data_source, record.data_issues = data.source, data.issues
            record.model_path = location = model_location(cfg.model, cfg.paths.cache_dir)
            tokenizer = load_tokenizer(cfg.model, location)
            try:  # the truncation policy, before the model loads: too many drops fail here, before training
                fit_data(data, tokenizer, cfg.method.max_length, cfg.dataset.max_bad_fraction)
            finally:
                metrics.update({f"data/{k}": v for k, v in data.stats.items()})

        say(f"load model {cfg.model.name}" + (f" ({cfg.quant.name})" if cfg.quant.bits else ""))
        with timed(timings, "load_model_s"):
            model, record.base_reused = load_base_model(cfg.model, cfg.quant, location)

        if train:
            say(training_line(cfg, len(data.train)))
            with timed(timings, "train_s"):
                trained = train_adapter(
                    cfg,
                    model,
                    tokenizer,
                    data.train,
                    run_dir,
                    precision,
                    tracker,
                    pin_memory=torch.cuda.is_available(),
                    parent=record.parent,
                    resume=resume,
                )
            policy = trained.policy  # the base with the adapter in it, from here on
            metrics.update(trained.metrics)
            record.cache_hits, record.trained_at = trained.cache_hits, now()
            # The adapter was saved under a staging name; published whole with its manifest, then recorded.
            record.adapter_path = str(adapter.commit(run_dir, record.run_key, record.kept_by_evaluation()))
            record.adapter_files = adapter.listed(run_dir)  # verifies the adapter even if its manifest is lost
            discard(run_dir)  # the published adapter is what the run keeps; its checkpoints go only now
            record.write(run_dir)  # a later evaluation failure keeps the training
        else:
            from peft import PeftModel

            # The run directory may have moved since training: the adapter is where the run directory is now.
            record.adapter_path = str(run_dir / adapter.ADAPTER)
            policy = PeftModel.from_pretrained(model, record.adapter_path)

        if evaluate:
            from alignbench.evaluation.suite import evaluate_benchmarks, evaluate_preferences, evaluate_steps

            policy.eval()
            say(f"evaluate preference pairs ({len(data.test)} held out)")
            with timed(timings, "evaluate_s"):
                metrics.update(evaluate_preferences(policy, tokenizer, data.test, cfg, run_dir))
            with timed(timings, "benchmarks_s"):
                benchmark_metrics, record.benchmarks = evaluate_benchmarks(policy, tokenizer, cfg, run_dir)
            metrics.update(benchmark_metrics)
            with timed(timings, "steps_s"):  # the adapters saved while training (eval.at_steps)
                step_metrics, errors = evaluate_steps(policy, tokenizer, data.test, cfg, run_dir)
            metrics.update(step_metrics)
            record.benchmarks["errors"].update(errors)
        record.status = Status.completed
    except BaseException as err:
        # Its reason decides whether a retry is spent: Ctrl-C, SIGTERM, a model that cannot be had or a full disk
        # are not the run's fault (runs.failures).
        record.fail(err)
        err.alignbench_summary = True  # the summary below says it; the entry point prints it once, not again
        raise
    finally:
        release_base_model(policy)  # the next run in this process may reuse the base: no adapter left in it
        record.finished_at = now()
        try:
            record.write_last(run_dir)  # a full disk: a failed record naming the cause, in place of the old one
        except OSError as err:
            err.alignbench_summary = True
            raise
        finally:
            if tracker is not None:
                tracker.finish(record)
            print_summary(record, tracker.note if tracker else None)


def say(what: str) -> None:
    """A stage's line on the console (and in the run's alignbench.log): what the run does now."""
    log.info(stage_line(what))


def training_line(cfg: Config, pairs: int) -> str:
    """What training does, e.g. "train dpo 150 steps (lora r=8) on tiny_llama, 249 pairs"."""
    method = cfg.method
    if isinstance(method, UntrainedMethodConfig):
        if isinstance(method, MergeMethodConfig):
            what = f"merge {len(method.merge.inputs)} adapters ({method.merge.combination})"
        else:
            what = "a fresh adapter (the unaligned base: nothing trained)"
        return f"{method.name}: {what} on {cfg.model.name}"
    stage = next((v for v in vars(method).values() if isinstance(v, MethodConfig)), None)
    after = f", after its {stage.name} stage" if stage is not None else ""
    return (
        f"train {method.name} {method.max_steps} steps ({cfg.adapter.name} r={cfg.adapter.r}) on {cfg.model.name}, "
        f"{pairs} pairs{after}"
    )


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
        from alignbench.evaluation.benchmarks import BENCHMARKS

        unknown = [name for name in cfg.eval.benchmarks if name not in BENCHMARKS]
        if unknown:
            problems.append(f"eval.benchmarks: no benchmark {unknown}; valid: {', '.join(sorted(BENCHMARKS))}")
        # (an untrained method refuses eval.at_steps itself, naming the method: training.methods.common)
        late = [step for step in cfg.eval.at_steps if step > cfg.method.max_steps] if _trains(cfg.method) else []
        if late:
            problems.append(
                f"eval.at_steps={list(cfg.eval.at_steps)}: training stops at method.max_steps={cfg.method.max_steps}, "
                f"so no adapter is saved at step {', '.join(map(str, late))}"
            )
    return problems


def _trains(method) -> bool:
    return isinstance(method, MethodConfig) and not isinstance(method, UntrainedMethodConfig)


def _run_stage(stage: ChainStage, stage_dir: Path) -> RunRecord | None:
    """Train an earlier stage as the plain run it is (train only), in its own run directory and under its lock."""
    groups = ("model", "dataset", "method", "adapter", "quant", "logger", "eval", "judge")  # as __main__ records them
    return run(stage.config, stage_dir, JobInfo(choices={group: stage.config[group].name for group in groups}))
