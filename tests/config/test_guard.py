"""Secrets and keys the schema lacks are refused with one line, before Hydra writes anything; the shipped configs and
the ways of extending them on purpose (Dict-typed nodes, hydra.*) still pass."""

from __future__ import annotations

import pytest
from helpers import CONF, alignbench
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from alignbench.config.guard import config_problems, override_problems
from alignbench.config.schema import register_configs
from alignbench.config.secrets import secret_name, value_problems

GROUPS = ["model", "dataset", "method", "adapter", "quant", "logger", "eval", "judge", "sweep", "hydra/launcher"]
OPTIONS = {g: [p.stem for p in sorted((CONF / g).glob("*.yaml"))] for g in GROUPS}
METHOD_KEYS = (
    "adam_beta1, adam_beta2, batch_size, beta, disable_dropout, grad_accum, label_smoothing, learning_rate, lora, "
    "loss_type, loss_weights, max_grad_norm, max_length, max_steps, name, optimizer, precompute_ref_batch_size, "
    "precompute_ref_log_probs, scheduler, trainer, warmup_steps, weight_decay"
)
WRITES = "would write a secret to .hydra/, record.json and W&B; keys come from the environment only: export"


def composed(*overrides: list[str]) -> list:
    """Each config as Hydra hands it to the callback: with its `hydra` section."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return [hydra_compose("config", overrides=each, return_hydra_config=True) for each in overrides]


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "API-KEY", "hf_token", "HF_TOKEN", "WANDB_API_KEY", "password", "client_secret", "auth",
     "Authorization", "aws_access_key", "credentials", "judge.harm.api_key", "model.token", "x.hfToken.y"],
)  # fmt: skip
def test_credential_names_are_secret_anywhere_in_the_path(name):
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["api_key_env", "judge.harm.api_key_env", "max_new_tokens", "max_tokens", "tokenizer", "authors", "run_key",
     "hub_id", "key", "HOME", "ALIGNBENCH_CACHE", "SLURM_ACCOUNT"],
)  # fmt: skip
def test_settings_that_mention_credentials_are_not_secret(name):
    assert not secret_name(name)


WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"  # the format W&B issues: 40 hex characters


@pytest.mark.parametrize(
    "path, value, secret",
    [
        ("logger.entity", WANDB_KEY, True),
        ("logger.project", f"local-{WANDB_KEY}", True),  # a self-hosted server's key
        ("hydra.launcher.setup", f"wandb login {WANDB_KEY}", True),
        ("model.revision", WANDB_KEY, False),  # a pinned commit has the same shape, on purpose
        ("eval.mmlu.commit", WANDB_KEY, False),
        ("logger.project", WANDB_KEY[:39], False),
        ("logger.project", WANDB_KEY + "0" * 24, False),  # a sha256 digest is longer
    ],
)  # fmt: skip
def test_a_wandb_key_is_recognised_by_its_format(path, value, secret):
    problems = list(value_problems(path, value))
    assert bool(problems) == secret, problems
    assert all(WANDB_KEY not in problem for problem in problems)  # the value is never repeated


def test_every_shipped_option_passes_the_checks():
    """No false alarm on alignbench's own configs, Hydra's section included (launchers, sweeps, callbacks)."""
    assert sum(map(len, OPTIONS.values())) >= 50
    # Every option of every group at least once, one option of each group per config (composing is ~0.2 s).
    rounds = max(map(len, OPTIONS.values()))
    choices = [[f"{g}={options[i % len(options)]}" for g, options in OPTIONS.items()] for i in range(rounds)]
    for chosen, cfg in zip(choices, composed(*choices), strict=True):
        assert config_problems(cfg) == [], chosen


def test_a_sweep_value_is_checked_one_by_one():
    assert override_problems(["seed=1,2", "judge.harm.base_url=http://ok/v1,http://u:CANARY@h/v1"]) == [
        "judge.harm.base_url has credentials in its URL (user:password@): they would be written to .hydra/, "
        "record.json and W&B; give the URL without them and export the key as OPENAI_API_KEY (or the variable "
        "judge.harm.api_key_env names)"
    ]
    assert override_problems(["hydra.launcher.setup=['export HF_TOKEN=CANARY']"]) == [
        "hydra.launcher.setup sets the secret variable HF_TOKEN: it would be written to .hydra/ and the job script; "
        "export it in the shell that launches alignbench instead (jobs inherit the environment)"
    ]
    assert override_problems(["+judge.extra={api_key: CANARY}"]) == [
        f"judge.extra.api_key {WRITES} OPENAI_API_KEY (or the variable judge.extra.api_key_env names)"
    ]


def test_dict_typed_nodes_and_hydra_settings_still_take_new_keys():
    """How a group allows extra keys on purpose: a Dict field (model.lora_targets); and Hydra's section is Hydra's."""
    (cfg,) = composed(["+model.lora_targets.attention=[q_proj]", "+hydra.job.env_set.MY_FLAG=1", "hydra.verbose=true"])
    assert config_problems(cfg) == []
    assert list(cfg.model.lora_targets.attention) == ["q_proj"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("+judge.harm.api_key=CANARY", f"+judge.harm.api_key {WRITES} OPENAI_API_KEY (or the variable "
         "judge.harm.api_key_env names)"),
        ("+model.token=CANARY", f"+model.token {WRITES} HF_TOKEN (or run `huggingface-cli login`)"),
        ("++logger.api_key=CANARY", f"++logger.api_key {WRITES} WANDB_API_KEY (or run `wandb login`)"),
        ("judge.harm.base_url=http://u:CANARY@127.0.0.1:9/v1", "judge.harm.base_url has credentials in its URL "
         "(user:password@): they would be written to .hydra/, record.json and W&B; give the URL without them and "
         "export the key as OPENAI_API_KEY (or the variable judge.harm.api_key_env names)"),
        ("+notes=${oc.env:OPENAI_API_KEY}", "notes reads the secret variable OPENAI_API_KEY with oc.env: its value "
         "would be written to .hydra/, record.json and W&B; alignbench reads keys from the environment itself, "
         "leave it out of the config"),
        ("hydra.job.env_copy=[HF_TOKEN]", "hydra.job.env_copy copies the secret variable HF_TOKEN into "
         ".hydra/hydra.yaml; leave it out: the job inherits the environment anyway"),
        (f"logger.entity={WANDB_KEY}", "logger.entity holds what looks like an API key or token: it would be "
         "written to .hydra/, record.json and W&B; export it as WANDB_API_KEY (or run `wandb login`) instead"),
        ("judge.harm.api_key_env=sk-CANARYabcdefghijklmnopqrstuvwxyz", "judge.harm.api_key_env names the "
         "environment variable that holds the key (e.g. OPENAI_API_KEY), not the key itself: export the key and set "
         "judge.harm.api_key_env to the variable's name"),
        ("+method.lerning_rate=5", "method.lerning_rate is not a key of method (did you mean method.learning_rate?); "
         f"valid keys: {METHOD_KEYS}"),
        ("+model._target_=os.system", "model._target_ is not a key: alignbench does not instantiate classes from its "
         "groups: each group's code is picked by name from a registry (method.trainer, adapter.kind, "
         "judge.harm.kind, logger.name)"),
        ("+model.trust_remote_code=true", "model.trust_remote_code is not a key: alignbench loads only architectures "
         "that transformers ships and never runs code from a model repository (a pinned revision would not make "
         "that code reviewed)"),
        ("+notes=tried lr 5e-5", "notes is not a top-level key; valid keys: adapter, cpu_threads, dataset, dry_run, "
         "eval, judge, logger, method, model, paths, quant, seed, stages, sweep, train"),
    ],
)  # fmt: skip
def test_refused_with_one_line_and_nothing_written(tmp_path, override, message):
    done = alignbench(override, f"hydra.run.dir={tmp_path}/run", env={"OPENAI_API_KEY": "CANARY-env"})
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"alignbench: {message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [[], ["dry_run=true"]])
def test_a_sweep_is_refused_before_its_directory_exists(tmp_path, extra):
    for override, refused in [
        ("+method.lerning_rate=1,2", "method.lerning_rate is not a key of method"),  # each job's config, refused
        ("+model.token=a,b", "+model.token would write a secret"),  # the command line, refused before Hydra
    ]:
        done = alignbench("-m", "seed=1,2", override, *extra, f"hydra.sweep.dir={tmp_path}/sweep")
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"alignbench: {refused}")
    assert list(tmp_path.iterdir()) == []


def test_secrets_reaching_the_config_another_way_are_refused_at_compose_time(tmp_path):
    """A config file of the user's (--config-dir) and an interpolation whose resolved value carries credentials:
    the command line looks clean, the composed config does not."""
    (tmp_path / "conf" / "judge").mkdir(parents=True)
    (tmp_path / "conf" / "judge" / "leaky.yaml").write_text(
        "defaults:\n  - offline\n  - _self_\nname: leaky\nharm:\n  base_url: http://u:CANARY@h/v1\n"
    )
    run = f"hydra.run.dir={tmp_path}/run"
    done = alignbench("--config-dir", str(tmp_path / "conf"), "judge=leaky", run)
    assert done.returncode == 1 and done.stderr.startswith("alignbench: judge.harm.base_url has credentials in its URL")
    assert len(done.stderr.splitlines()) == 1 and "CANARY" not in done.stderr
    done = alignbench("judge.harm.base_url=${oc.env:JUDGE_URL}", run, env={"JUDGE_URL": "http://u:CANARY@h/v1"})
    assert done.returncode == 1 and done.stderr.startswith("alignbench: judge.harm.base_url has credentials in its URL")
    assert "CANARY" not in done.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "conf"]
