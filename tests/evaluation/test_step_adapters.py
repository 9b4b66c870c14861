"""Adapters saved while training (eval.at_steps) are published with a manifest and verified before they are
evaluated: a flipped byte is named, never evaluated (no training: a stand-in model saves the files)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from alignbench.evaluation.suite import DamagedStepAdapter, evaluate_steps
from alignbench.runs import adapter, files
from alignbench.training.callbacks import SaveAdapterAt


class Saves:
    """What SaveAdapterAt asks of a model and a tokenizer: save_pretrained into a folder."""

    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data

    def save_pretrained(self, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)  # as transformers and PEFT do
        (Path(folder) / self.name).write_bytes(self.data)


class NoLoading:
    def load_adapter(self, *args, **kwargs):
        pytest.fail("a damaged step adapter must not be loaded")


def save_step(run_dir, step: int) -> None:
    model = Saves("adapter_model.safetensors", bytes(range(256)) * 4)
    callback = SaveAdapterAt([step], run_dir, Saves("adapter_config.json", b"{}"))
    callback.on_step_end(None, SimpleNamespace(global_step=step), None, model=model)


def test_a_flipped_byte_in_a_step_adapter_is_caught_before_it_is_evaluated(tmp_path, compose):
    save_step(tmp_path, 5)
    folder = tmp_path / "steps" / "5"
    assert files.read_manifest(folder)["step"] == 5 and adapter.step_problem(tmp_path, 5) is None
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == ["5"]  # nothing half-written beside it
    weights = folder / "adapter_model.safetensors"
    expected = files.sha256_of(weights)
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF  # same size, one byte flipped
    weights.write_bytes(bytes(data))

    cfg = OmegaConf.to_object(compose(["eval.at_steps=[5]", "eval.benchmarks=[]"]))
    with pytest.raises(DamagedStepAdapter) as raised:
        evaluate_steps(NoLoading(), None, [], cfg, tmp_path)
    assert str(raised.value) == (
        f"the adapter saved at step 5 cannot be evaluated: {weights} has sha256 {files.sha256_of(weights)[:16]}… "
        f"where its manifest says {expected[:16]}… (delete {tmp_path / 'adapter'} to train the run again)"
    )


def test_a_step_adapter_saved_before_manifests_counts_when_its_files_are_there(tmp_path):
    folder = tmp_path / "steps" / "5"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    assert adapter.step_problem(tmp_path, 5) == f"{folder / 'adapter_model.safetensors'} is missing"
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    assert adapter.step_problem(tmp_path, 5) is None
