"""Entry point: `python -m alignbench [overrides]` composes conf/ and runs one train-then-evaluate job.

    python -m alignbench                                   # tiny model, bundled data, CPU, ~1 minute
    python -m alignbench method=sft dataset=hh_rlhf dataset.preference=helpful
    python -m alignbench -m model=mistral,vicuna method=sft,dpo
"""

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from alignbench.schema import register_configs

log = logging.getLogger("alignbench")
GROUPS = ("model", "dataset", "method", "adapter", "quant", "logger")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> dict | None:
    from alignbench.data import DataError  # heavy imports only once a job really runs
    from alignbench.pipeline import run
    from alignbench.validate import ConfigError

    hydra_cfg = HydraConfig.get()
    choices = {group: hydra_cfg.runtime.choices[group] for group in GROUPS}
    try:
        return run(cfg, Path(hydra_cfg.runtime.output_dir), choices)
    except Exception as err:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            raise
        # Hydra's sweeper would stop at a re-raised error and skip the sweep summary: the record says why.
        # A traceback helps only for errors that are not the user's input.
        log.error("run failed; see its record.json", exc_info=not isinstance(err, (ConfigError, DataError)))
        return None


def main() -> None:
    register_configs()
    _job()


if __name__ == "__main__":
    main()
