"""A model option brings its evaluation, judges and CPU budget (config.routing) exactly as the 20 router YAMLs did;
`--help` and completion offer the groups a user chooses and their options only."""

from __future__ import annotations

import pytest
from helpers import CONF
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.plugins.completion_plugin import DefaultCompletionPlugin
from omegaconf import OmegaConf

from alignbench.config.routing import is_tiny
from alignbench.runs.keys import eval_key, resolve, run_key

MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
# What conf/eval/by_model, conf/judge/by_model and conf/preset/tiny_*.yaml chose, and the run and eval keys of each
# model's default run then: a changed run key would orphan every finished run. (The eval keys moved with the
# protocol of issue 22, MMLU 0-shot, AlpacaEval 4096 tokens, raw CoU, RealToxicityPrompts pinned: runs
# re-evaluate, none retrains.)
BEFORE = {
    "llama": ("paper", "openai", "0e375a0511eddff1", "9f149ec17ccaff77"),
    "mistral": ("paper", "openai", "3f1f885a1dc2f2b2", "9f149ec17ccaff77"),
    "mistral_instruct": ("paper", "openai", "0c7728b9ee474e29", "9f149ec17ccaff77"),
    "vicuna": ("paper", "openai", "405ec244db014218", "9f149ec17ccaff77"),
    "tiny_llama": ("sample", "offline", "0f53c286ed7d7eb7", "e86b25a332103ce6"),
    "tiny_mistral": ("sample", "offline", "b10a223f38c0207f", "e86b25a332103ce6"),
    "tiny_mistral_instruct": ("sample", "offline", "56070efced6d6ef6", "e86b25a332103ce6"),
    "tiny_vicuna": ("sample", "offline", "ddfe8864ef48fcbc", "e86b25a332103ce6"),
}
CPU_BUDGET = OmegaConf.load(CONF / "preset" / "cpu.yaml")


def plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


def has_cpu_budget(cfg) -> bool:
    budget = {section: dict(CPU_BUDGET[section]) for section in ("dataset", "train", "eval")}
    return all(cfg[section][key] == value for section, keys in budget.items() for key, value in keys.items())


@pytest.mark.parametrize("model", MODELS)
def test_every_model_brings_what_its_routers_chose_with_the_same_run_key(compose, model):
    cfg = compose([f"model={model}"])
    tiny = cfg.model.tiny is not None
    evaluation, judge = ("sample", "offline") if tiny else ("paper", "openai")
    assert (cfg.eval.name, cfg.judge.name) == (evaluation, judge)
    assert has_cpu_budget(cfg) == tiny and (cfg.method.max_steps < 700) == tiny  # preset/cpu.yaml, tiny models only
    # Routed or chosen on the command line, the same config.
    assert plain(cfg) == plain(compose([f"model={model}", f"eval={evaluation}", f"judge={judge}"]))
    if model in BEFORE:  # a new model file follows the convention above without being listed anywhere
        assert (evaluation, judge, run_key(resolve(cfg)), eval_key(resolve(cfg))) == BEFORE[model]


@pytest.mark.parametrize("model", ["tiny_vicuna", "mistral"])
@pytest.mark.parametrize("chosen", [["eval=paper"], ["eval=sample"], ["judge=offline"], ["judge=openai", "eval=paper"]])
def test_the_command_line_still_chooses_evaluation_and_judges_over_the_model(compose, model, chosen):
    evaluation, judge, _, _ = BEFORE[model]
    cfg = compose([f"model={model}", *chosen])
    picked = dict(o.split("=") for o in chosen)
    assert (cfg.eval.name, cfg.judge.name) == (picked.get("eval", evaluation), picked.get("judge", judge))
    assert has_cpu_budget(cfg) == (evaluation == "sample")  # the budget still follows the model
    routed = compose([f"model={model}", f"eval={cfg.eval.name}", f"judge={cfg.judge.name}"])
    assert plain(cfg) == plain(routed)


def test_a_chained_tiny_run_keeps_the_budget_on_both_stages(compose):
    cfg = compose(["model=tiny_vicuna", "method=sft_dpo", "eval=paper"])
    assert cfg.eval.name == "paper" and cfg.method.max_steps == cfg.method.sft.max_steps < 700


def test_a_new_model_file_is_tiny_when_it_or_the_model_it_extends_says_so(tmp_path):
    (tmp_path / "hub.yaml").write_text("defaults:\n  - /model_schema@_here_\n  - _self_\nname: hub\n")
    (tmp_path / "tiny_hub.yaml").write_text("defaults:\n  - hub\n  - _self_\nname: tiny_hub\ntiny:\n  arch: llama\n")
    (tmp_path / "small_chat.yaml").write_text("defaults:\n  - tiny_hub\n  - _self_\nname: small_chat\n")
    (tmp_path / "untiny.yaml").write_text("defaults:\n  - tiny_hub\n  - _self_\nname: untiny\ntiny: null\n")
    found = {name: is_tiny(name, tmp_path) for name in ("hub", "tiny_hub", "small_chat", "untiny", "missing")}
    assert found == {"hub": False, "tiny_hub": True, "small_chat": True, "untiny": False, "missing": False}


def test_a_misspelt_model_fails_naming_it_and_the_options(compose):
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException) as err:
        compose(["model=mistrall"])
    assert "model/mistrall" in str(err.value) and err.value.options == MODELS


@pytest.fixture
def hydra_loader(compose):  # compose: the schemas and resolvers are registered
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield GlobalHydra.instance().config_loader()


def offered(loader, line: str) -> set[str]:
    """What `alignbench -sc query=bash` offers for a command line (Hydra's completion, in this process)."""
    return set(DefaultCompletionPlugin(loader)._query(config_name="config", line=line))


USER_GROUPS = ["model", "dataset", "method", "adapter", "quant", "logger", "eval", "judge", "sweep"]


def test_completion_offers_real_options_only(hydra_loader):
    methods = {f"method={p.stem}" for p in (CONF / "method").glob("*.yaml")}
    assert offered(hydra_loader, "method=") == methods
    assert offered(hydra_loader, "eval=") == {"eval=paper", "eval=sample"}
    assert offered(hydra_loader, "judge=") == {f"judge={p.stem}" for p in (CONF / "judge").glob("*.yaml")}
    first = offered(hydra_loader, "")
    assert {f"{group}=" for group in USER_GROUPS} <= first
    assert not [word for word in first if "schema" in word or "by_model" in word], first
    assert offered(hydra_loader, "s") == {"seed=", "stages.", "sweep.", "sweep="}


def test_help_lists_the_groups_a_user_chooses(hydra_loader):
    template = hydra_compose("config", return_hydra_config=True).hydra.help.template
    listed = template.split("== Configuration groups (group=option) ==\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(":")[0] for line in listed] == USER_GROUPS
    assert "eval: paper, sample" in listed and "model: " + ", ".join(MODELS) in listed
    assert "schema" not in template and "by_model" not in template and "preset:" not in template
