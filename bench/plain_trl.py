"""A plain TRL DPO + LoRA script, written the way users script one sbatch job per run: the baseline that
`make bench` races alignbench against. Same model, pairs, hyperparameters and TRL code; no alignbench.

    python bench/plain_trl.py --model DIR --pairs pairs.jsonl --template template.jinja --out OUT \
        --rank 8 --seed 0 --steps 40 [--precompute]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def train_one(
    model_dir: str,
    pairs: str,
    template: str,
    out: str,
    rank: int,
    seed: int,
    steps: int,
    precompute: bool = False,
    batch_size: int = 8,
    max_length: int = 160,
    learning_rate: float = 1e-3,
) -> dict:
    """One DPO run; returns its training runtime, steps and final loss. precompute=False is TRL's default: the
    reference forward runs at every step."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = Path(template).read_text()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="float32")
    model.config.use_cache = False
    rows = [json.loads(line) for line in Path(pairs).read_text().splitlines()]
    args = DPOConfig(
        output_dir=out,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        max_grad_norm=1.0,
        weight_decay=0.0,
        optim="adamw_torch",
        lr_scheduler_type="cosine",
        max_steps=steps,
        max_length=max_length,
        seed=seed,
        bf16=False,
        fp16=False,
        activation_checkpointing=False,
        logging_steps=10,
        report_to=["none"],
        save_strategy="no",
        dataloader_num_workers=0,
        beta=0.1,
        loss_type=["sigmoid"],
        precompute_ref_log_probs=precompute,
        precompute_ref_batch_size=64,
        dataloader_pin_memory=False,
        # TRL 1.16 zeroes every dropout unless told otherwise, the LoRA dropout this script asks for included: a
        # script that sets lora_dropout=0.05 (Table 6, as alignbench trains) means it. Left at TRL's default, plain
        # TRL trains without it and a step is ~30% cheaper on this model (measured: docs/performance.md).
        disable_dropout=False,
    )
    lora = LoraConfig(
        r=rank,
        lora_alpha=32,
        lora_dropout=0.05,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    start = time.perf_counter()
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer, peft_config=lora
    )
    result = trainer.train()
    trainer.save_model(out)
    return {
        "seconds": time.perf_counter() - start,
        "train_runtime": result.metrics["train_runtime"],
        "steps": result.global_step,
        "loss": result.training_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("model", "pairs", "template", "out"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("rank", "seed", "steps"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--precompute", action="store_true", help="precompute_ref_log_probs=True (TRL: False)")
    args = parser.parse_args()
    result = train_one(
        args.model, args.pairs, args.template, args.out, args.rank, args.seed, args.steps, args.precompute
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
