"""Typed schemas for every config group: an unknown key or a wrong type fails when Hydra composes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


# Bounds of a number field, checked when a config is composed (config.guard.range_problems): a bad override is one
# line before anything is written, never a failure after the data and the model loaded.
def at_least(minimum: float, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"min": minimum})


def above(bound: float, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"above": bound})


def share(default: Any = MISSING) -> Any:
    """A fraction or probability: 0 <= value <= 1."""
    return field(default=default, metadata={"min": 0, "max": 1})


# Closed vocabularies: a typo fails when Hydra composes, naming the allowed values. A member's name is its value,
# because records keep the name (runs.keys.resolve: enum_to_str) and YAML and overrides spell it. Names looked up in
# a registry of code (method.trainer, adapter.kind, judge kinds, ...) stay `str`: the registry is their vocabulary.
class Preference(StrEnum):
    harmless = "harmless"
    helpful = "helpful"
    mixed = "mixed"  # both, from one source (dataset.mixture_harmless sets the share)


NATURAL = "natural"  # dataset.mixture_harmless: draw the preferences in their pools' own proportions


class Selection(StrEnum):
    fixed = "fixed"  # every seed of a configuration trains on the same pairs (dataset.selection_seed), in its order
    per_seed = "per_seed"  # each seed samples its own pairs: seed spread then includes the data sampling


class DType(StrEnum):
    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class Precision(StrEnum):
    auto = "auto"  # bf16 on GPUs that have it, fp16 on older GPUs, fp32 on CPU
    bf16 = "bf16"
    fp16 = "fp16"
    fp32 = "fp32"


class TinyArch(StrEnum):
    llama = "llama"
    mistral = "mistral"


class TinyHead(StrEnum):
    causal_lm = "causal_lm"
    score = "score"  # a one-logit sequence classifier: a stand-in scorer or judge


class ModelKind(StrEnum):
    pretrained = "pretrained"
    instruct = "instruct"


class LoraBias(StrEnum):  # PEFT's: which biases train along with the adapter
    none = "none"
    all = "all"
    lora_only = "lora_only"


class QuantType(StrEnum):  # bitsandbytes' 4-bit data types
    nf4 = "nf4"
    fp4 = "fp4"


class TrackerMode(StrEnum):
    auto = "auto"  # online with credentials, else offline (WANDB_MODE, when set, decides)
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class HubSource:
    """A repository on the hub at a pinned revision: what the weights or data are."""

    hub_id: Optional[str] = None
    revision: Optional[str] = None  # a commit, tag or branch; null: main


@dataclass
class Source(HubSource):
    """Where a model, data set or benchmark comes from: the hub, or a local `path` instead."""

    path: Optional[str] = None


@dataclass
class TinySpec:
    """A random-init architecture built locally, so the whole stack runs without a model hub."""

    arch: TinyArch = TinyArch.llama
    hidden_size: int = at_least(1, 64)
    num_layers: int = at_least(1, 2)
    num_heads: int = at_least(1, 4)
    num_kv_heads: int = at_least(1, 2)
    intermediate_size: int = at_least(1, 256)
    vocab_size: int = at_least(1, 1024)
    max_position_embeddings: int = at_least(1, 512)
    seed: int = 0
    head: TinyHead = TinyHead.causal_lm


@dataclass
class ModelConfig(Source):
    """hub_id and revision say what the weights are (part of the run key); `path`, where to load them from instead
    of the hub, is not part of the run key."""

    name: str = MISSING
    tiny: Optional[TinySpec] = None
    kind: ModelKind = MISSING
    dtype: DType = DType.bfloat16
    # sdpa: PyTorch's fused attention, everywhere; flash_attention_2 on GPUs with the flash-attn package installed.
    attn_implementation: str = "sdpa"
    chat_template: str = MISSING
    lora_targets: Dict[str, List[str]] = field(default_factory=dict)


@dataclass
class DatasetConfig(Source):
    """`path`: local raw files (file or folder) instead of the hub."""

    name: str = MISSING  # selects the raw-row parser
    hub_id: str = MISSING
    data_dir: Optional[str] = None
    preference: Preference = Preference.harmless
    labels_both_preferences: bool = True  # each row carries both labels, so preference=mixed can draw from one source
    # preference=mixed: the harmless share of train and test pairs (the paper's ratio is [N]), a number or `natural`:
    # the two pools' own proportions (BeaverTails: 13.6% harmless), the plain reading of "combine both sets".
    mixture_harmless: Any = share(0.5)
    sample: bool = False  # the bundled miniature instead of the hub (a dataset.path, when set, wins)
    train_samples: Optional[int] = at_least(1, None)  # null: exactly what training consumes (max_steps x batch_size)
    # Which pairs a run sees (a seeded shuffle of the pool). fixed: chosen by selection_seed alone, so the seeds of
    # a configuration train on the same pairs in their own order and share tokenization and reference log-probs.
    # per_seed (the paper sweeps): chosen by (selection_seed, seed), so intervals over seeds cover the sampling too.
    selection: Selection = Selection.fixed
    selection_seed: int = 0
    eval_samples: int = at_least(1, 200)
    max_bad_fraction: float = share(0.05)


@dataclass
class LoraPreset:
    r: int = at_least(1)
    alpha: int = above(0)
    dropout: float = share()
    targets: str = MISSING  # a key of model.lora_targets


@dataclass
class MethodConfig:
    name: str = MISSING  # the option's label (directory names, tags, tables)
    trainer: str = MISSING  # which code trains it (training.methods.METHODS): an IPO preset is `trainer: dpo`
    learning_rate: float = above(0)
    batch_size: int = at_least(1)
    grad_accum: int = at_least(1, 1)
    max_grad_norm: float = above(0)
    weight_decay: float = at_least(0)
    optimizer: str = MISSING
    scheduler: str = MISSING
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    warmup_steps: int = at_least(0, 0)
    max_steps: int = at_least(1)
    max_length: int = at_least(1)
    lora: LoraPreset = field(default_factory=LoraPreset)


class SftLoss(StrEnum):
    completion = "completion"  # the reply tokens only (TRL's completion_only_loss)
    sequence = "sequence"  # prompt and reply, as TRL's SFTTrainer trained before prompt-completion datasets


@dataclass
class SFTMethodConfig(MethodConfig):
    # How SFT trains (docs/protocol.md argues conf/method/sft.yaml's paper-matching choice). The defaults here are
    # what alignbench did before these were keys, so a run that sets them keeps its run key (runs.keys.ADDED).
    sft_loss: SftLoss = SftLoss.completion
    packing: bool = False  # several examples per max_length sequence (TRL's packing)
    # Train the end-of-sequence token. TRL's SFTTrainer of early 2024 with pad = eos masked every eos as padding,
    # so its models never learnt to stop: false reproduces that.
    train_eos: bool = True


@dataclass
class DPOMethodConfig(MethodConfig):
    beta: float = above(0, 0.1)
    loss_type: List[str] = field(default_factory=lambda: ["sigmoid"])
    precompute_ref_log_probs: bool = True  # once before training (and cached across runs), not every step
    precompute_ref_batch_size: Optional[int] = at_least(1, 64)  # no gradients, so far larger batches than training fit
    # TRL 1.16 sets every dropout (LoRA's included) to 0 unless told otherwise; Table 6 trains DPO with LoRA dropout
    # 0.05, so it stays on. The record's train/lora_dropout says what was in force.
    disable_dropout: bool = False
    # The chance that a preference label is flipped, for the losses that model label noise (TRL 1.16 reads it in
    # robust, exo_pair, aot and aot_unpaired only; rules.py refuses it where it would be silently ignored).
    label_smoothing: float = share(0.0)
    # One weight per loss_type entry (e.g. RPO's [sigmoid, sft]); null weighs each loss 1.0, as TRL does.
    loss_weights: Optional[List[float]] = None


class ChainStart(StrEnum):
    merged = "merged"  # a fresh adapter of the DPO preset on the SFT model (SFT adapter merged in memory)
    continued = "continued"  # DPO goes on training the SFT adapter (its shape: lora is the SFT preset's)


@dataclass
class SFTDPOMethodConfig(DPOMethodConfig):
    """SFT then DPO (method=sft_dpo): the top level is the DPO stage (the dpo preset), `sft` the SFT stage's own
    method section, exactly what a plain method=sft run would have (runs.chain derives that run from it). `start`
    says how DPO starts from the SFT model (training.methods.sft_dpo)."""

    sft: SFTMethodConfig = field(default_factory=SFTMethodConfig)
    start: ChainStart = ChainStart.merged


@dataclass
class MergeInput:
    """Which completed run a merge takes: its run directory, its run key, or the axis values its record must have
    (group choices like `method: sft`, config paths like `dataset.preference: harmless`), found in `sweep_dir`."""

    run_dir: Optional[str] = None
    run_key: Optional[str] = None
    choices: Dict[str, str] = field(default_factory=dict)


class MergeSpace(StrEnum):
    weights = "weights"  # mergekit's methods on the adapted models' full weights (the paper's operator)
    adapter = "adapter"  # PEFT's operators on the adapters' deltas (LoRA-native)


@dataclass
class MergeConfig:
    """How a merge is made (training.merging). In the weights space the parameters are mergekit's, with its
    defaults: weight and density per input, normalize per method (linear, ties: true; dare_*: false)."""

    inputs: List[MergeInput] = field(default_factory=list)
    sweep_dir: Optional[str] = None  # where `choices` are looked up, e.g. multirun/paper
    space: MergeSpace = MergeSpace.weights
    # training.merging.COMBINATIONS: linear | slerp | ties | dare_ties | dare_linear (| task_arithmetic: weights)
    combination: str = "linear"
    # One per input. null: 1/n for linear, and in the adapter space; 1.0 (each task vector whole, as mergekit's
    # examples add them) for the weights space's task arithmetic, TIES and DARE.
    weights: Optional[List[float]] = None
    density: float = share(0.5)  # ties / dare: the share of each delta kept
    t: float = share(0.5)  # slerp: the share of the second input
    normalize: Optional[bool] = None  # weights space: divide by the weights' sum; null: mergekit's default
    seed: int = 0  # dare: its random drops
    # The merged adapter's rank per weight, at most; null: exact (each weight's numerical rank). A cap keeps the
    # largest singular directions; the record's merge/kept_energy says what share of the delta survived.
    svd_rank: Optional[int] = at_least(1, None)


@dataclass
class UntrainedMethodConfig(MethodConfig):
    """A method that trains nothing: the training fields are unused (max_length still sets how held-out pairs are
    scored), and max_steps 0 means no training pairs are drawn (training.train.train_pairs_wanted)."""

    learning_rate: float = 0.0
    batch_size: int = 1
    max_grad_norm: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "none"
    scheduler: str = "none"
    max_steps: int = 0


@dataclass
class MergeMethodConfig(UntrainedMethodConfig):
    """A run whose adapter is merged from other completed runs of the same base."""

    merge: MergeConfig = field(default_factory=MergeConfig)


@dataclass
class BaseMethodConfig(UntrainedMethodConfig):
    """The unaligned base as a run (method=base): its adapter is a fresh LoRA, B = 0, i.e. the identity."""


@dataclass
class AdapterConfig:
    name: str = MISSING  # the option's label
    kind: str = "lora"  # which code builds the PEFT config (modeling.adapters.ADAPTERS)
    r: int = at_least(1)
    alpha: int = above(0)
    dropout: float = share()
    target_modules: List[str] = MISSING
    bias: LoraBias = LoraBias.none
    use_dora: bool = False  # weight-decomposed LoRA (DoRA): magnitude and direction trained apart
    use_rslora: bool = False  # rank-stabilised scaling alpha / sqrt(r) instead of alpha / r
    # PEFT's init_lora_weights: kaiming (PEFT's default: Kaiming-uniform A) or gaussian (A ~ N(0, 1/r)), B = 0 in
    # both. rules.py refuses the inits that rewrite the base, which the DPO reference and its shared cache rely on.
    init: str = "kaiming"


@dataclass
class QuantConfig:
    name: str = MISSING
    bits: Optional[int] = None  # null (full precision) | 4 | 8
    quant_type: QuantType = QuantType.nf4
    compute_dtype: DType = DType.bfloat16
    double_quant: bool = False


@dataclass
class LoggerConfig:
    name: str = MISSING  # wandb | none
    project: str = "alignbench"
    entity: Optional[str] = None
    mode: TrackerMode = TrackerMode.auto
    tags: List[str] = field(default_factory=list)
    log_adapter: bool = False  # upload each run's adapter as a W&B artifact (type model); run_dir/adapter has it anyway
    # Seconds wandb.init may wait for the server before the run goes on without W&B. W&B's own 90 s would be paid
    # by every job of a sweep while the server is down.
    init_timeout: float = at_least(0, 30.0)
    # Seconds run.finish may wait for uploads; past that W&B marks the run crashed and the job ends (record.json is
    # complete). A server lost mid-run would otherwise hold the job for good. 0: wait as long as it takes.
    finish_timeout: float = at_least(0, 300.0)


@dataclass
class TrainConfig:
    precision: Precision = Precision.auto
    gradient_checkpointing: bool = False  # on only when memory needs it: it costs ~3x step time on small models
    logging_steps: int = at_least(1, 10)
    shared_caches: bool = (
        True  # tokenized data and DPO reference log-probs cached across runs (alignbench.training.caches)
    )
    # A resumable checkpoint (adapter, optimizer, scheduler, RNG) every this many optimizer steps; null: four per
    # run (max_steps // 4); 0: none (a SIGTERM/SIGUSR2 still checkpoints before the run stops). Not in the run key.
    save_steps: Optional[int] = at_least(0, None)
    # Adapters saved at these steps and kept in the run directory (steps/<step>), besides eval.at_steps': for a
    # later sweep that evaluates them (sweep=paper keeps 100 ... 600 for paper_quantity). Not in the run key.
    keep_steps: List[int] = field(default_factory=list)


@dataclass
class LmEvalBenchmark(HubSource):
    """A benchmark that lm-eval runs: one of its built-in tasks, or a bundled miniature from `include_path`.
    hub_id: the dataset the built-in task reads, checked before lm-eval retries for minutes."""

    tasks: List[str] = field(default_factory=list)  # what lm-eval runs (tasks or groups)
    result: str = MISSING  # the task or group whose metric is reported
    metric: str = MISSING  # lm-eval's "<metric>,<filter>" key, e.g. "acc,none"
    num_fewshot: Optional[int] = at_least(0, None)
    limit: Optional[int] = at_least(1, None)  # items per task; null: all
    batch_size: int = at_least(1, 8)
    apply_chat_template: bool = False
    include_path: Optional[str] = (
        None  # a folder of task YAMLs (pkg://alignbench/evaluation/tasks: bundled); null: built-ins
    )


@dataclass
class ScorerConfig(Source):
    """A sequence-classification model: from a local folder, the hub, or built locally (tiny, for CPU runs)."""

    name: str = MISSING
    tiny: Optional[TinySpec] = None


@dataclass
class UpstreamFile:
    """A file of another project at a pinned commit: fetched into the cache on first use, checked by sha256."""

    repo: str = MISSING  # owner/name on GitHub
    commit: str = MISSING  # the full 40-hex commit
    file: str = MISSING  # its path in the repository
    sha256: str = MISSING


@dataclass
class GenerationBenchmark(Source):
    """Fields of every benchmark that generates: where its items come from (`path`: a local file in the upstream
    schema) and how it decodes (greedy)."""

    hub_file: Optional[str] = None  # the file of the hub dataset that holds the items in the upstream schema
    where: str = ""  # where to get the data when it has no hub copy
    sample: bool = False  # the bundled miniature
    limit: Optional[int] = at_least(1, None)  # the first N items; null: all
    max_new_tokens: int = at_least(1)
    batch_size: int = at_least(1, 8)
    apply_chat_template: bool = True


@dataclass
class ToxicityBenchmark(GenerationBenchmark):
    num_prompts: int = at_least(1, 1000)  # the most toxic prompts by prompt.toxicity
    score_with_prompt: bool = False  # score the continuation alone (false) or (prompt, continuation)
    scorer: ScorerConfig = field(default_factory=ScorerConfig)


@dataclass
class RedInstructBenchmark(GenerationBenchmark):
    questions: Optional[UpstreamFile] = None  # DangerousQA, pinned upstream (`path` or `sample` choose otherwise)
    template: Optional[UpstreamFile] = None  # the Chain-of-Utterance prompt, pinned upstream
    template_file: Optional[str] = None  # a local template instead; pkg://alignbench/... is inside the package
    placeholder: str = MISSING  # the template's question slot
    # Upstream (generate_responses.py) cuts the "(Internal thought: ...)" part of a reply before it is judged.
    remove_thoughts: bool = True


@dataclass
class AlpacaEvalBenchmark(GenerationBenchmark):
    # 2: AlpacaEval 2.0, references = GPT-4 Turbo outputs (the paper's "win rate against GPT-4"), annotator
    # weighted_alpaca_eval_gpt4_turbo, length-controlled win rate too; 1: AlpacaEval 1.0 (text-davinci-003
    # references, alpaca_eval_gpt4 annotator). The file, references and annotator follow (evaluation.benchmarks.alpaca).
    version: int = 2


class Stage(StrEnum):
    train = "train"
    evaluate = "evaluate"


@dataclass
class EvalConfig:
    name: str = "sample"
    batch_size: int = at_least(1, 16)  # held-out preference scoring
    generations: int = at_least(0, 4)  # sample completions written to generations.jsonl
    max_new_tokens: int = at_least(1, 48)
    benchmarks: List[str] = field(default_factory=list)  # which of the sections below run, in this order
    baseline: bool = True  # also score the un-adapted base (cached per model, quant, eval and judge config)
    # Also evaluate the adapter as it was at these training steps (metrics eval@<step>/...), e.g. the paper's data
    # quantity curves. They are saved while training, so unlike the rest of `eval` they are part of the run key.
    at_steps: List[int] = field(default_factory=list)
    mmlu: LmEvalBenchmark = field(default_factory=LmEvalBenchmark)
    bbh: LmEvalBenchmark = field(default_factory=LmEvalBenchmark)
    real_toxicity: ToxicityBenchmark = field(default_factory=ToxicityBenchmark)
    red_instruct: RedInstructBenchmark = field(default_factory=RedInstructBenchmark)
    alpaca_eval: AlpacaEvalBenchmark = field(default_factory=AlpacaEvalBenchmark)


@dataclass
class JudgeSpec(Source):
    """One judge: `kind` picks the code (judges.HARM_JUDGES / PAIRWISE_JUDGES), the rest is what that kind reads;
    hub_id, revision, path and tiny: local HF judges (classifier, reward model)."""

    kind: str = MISSING
    name: str = "judge"  # a short label; also the cache folder of a tiny judge
    model: Optional[str] = None  # chat judges: the endpoint's model name, e.g. gpt-4
    base_url: Optional[str] = None  # chat judges: an OpenAI-compatible endpoint
    api_key_env: str = "OPENAI_API_KEY"  # the environment variable that holds the key (never the key itself)
    annotators_config: Optional[str] = None  # alpaca_eval judges: the package's annotator; null: the version's own
    prompt: Optional[UpstreamFile] = None  # red_instruct judges: upstream's judge script, whose prompt is used
    retries: int = at_least(1, 5)  # red_instruct judges: asks per answer while the reply holds not exactly one verdict
    max_tokens: int = at_least(1, 16)
    timeout_s: int = at_least(1, 60)
    tiny: Optional[TinySpec] = None
    harmful_label: str = "1"  # classifier judges: the harmful class's label or index
    batch_size: int = at_least(1, 16)


@dataclass
class JudgeConfig:
    name: str = MISSING
    harm: JudgeSpec = field(default_factory=JudgeSpec)  # Red-Instruct: is the answer harmful?
    pairwise: JudgeSpec = field(default_factory=JudgeSpec)  # AlpacaEval: does the output beat the reference?


@dataclass
class PathsConfig:
    cache_dir: str = MISSING


@dataclass
class SweepConfig:
    """How a multirun is kept: where, under what name, how often a failing run is retried."""

    name: str = "adhoc"  # multirun/<name>/<run_key>; also the W&B group
    max_failures: int = at_least(1, 3)  # a run that failed this often is reported, not retried, on relaunch
    objective: Optional[str] = None  # a metric key returned to optimising sweepers (optuna)
    inputs_dir: Optional[str] = None  # where merges find their input runs, e.g. multirun/paper (method.merge)
    # How long a chained run (method=sft_dpo) waits for another process that is training the SFT stage it needs,
    # before it fails (and a relaunch tries again): long enough for a 7B SFT run.
    stage_wait_s: float = at_least(0, 12 * 3600)


@dataclass
class Config:
    model: ModelConfig = MISSING
    dataset: DatasetConfig = MISSING
    method: MethodConfig = MISSING
    adapter: AdapterConfig = MISSING
    quant: QuantConfig = MISSING
    logger: LoggerConfig = MISSING
    eval: EvalConfig = MISSING
    judge: JudgeConfig = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    seed: int = 0
    # What this job does to its run directory: train then evaluate, or (re-)evaluate its saved adapter only.
    stages: List[Stage] = field(default_factory=lambda: [Stage.train, Stage.evaluate])
    dry_run: bool = False  # plan the jobs (run_key, status) without importing torch or loading anything
    # torch intra-op threads; null: torch's default (all cores, or the launcher's cap)
    cpu_threads: Optional[int] = at_least(1, None)


def register_configs() -> None:
    """Store the schemas so that conf/ files extend them, and the resolvers conf/config.yaml uses (called before Hydra
    composes). Schemas are top-level configs (`/<group>_schema`, used `@_here_`), in no group: `--help` and completion
    list groups only, so they offer real options only."""
    from alignbench.config.routing import register_resolvers

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="schema", node=Config)
    for group, node in [
        ("model", ModelConfig),
        ("dataset", DatasetConfig),
        ("adapter", AdapterConfig),
        ("quant", QuantConfig),
        ("logger", LoggerConfig),
        ("eval", EvalConfig),
        ("judge", JudgeConfig),
        ("sft", SFTMethodConfig),
        ("dpo", DPOMethodConfig),
        ("merge", MergeMethodConfig),
        ("base", BaseMethodConfig),
        ("sft_dpo", SFTDPOMethodConfig),
    ]:
        cs.store(name=f"{group}_schema", node=node)
