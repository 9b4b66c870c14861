"""Rules that span config groups: a combination the libraries would reject, or silently run as something else, is
refused before anything loads, with one line saying why."""

from __future__ import annotations

import pytest
from helpers import CONF
from omegaconf import OmegaConf

from alignbench.config.rules import ConfigError, validate

DPO_FAMILY = sorted(p.stem for p in (CONF / "method").glob("*.yaml") if p.stem != "sft")
ADAPTERS = sorted(p.stem for p in (CONF / "adapter").glob("*.yaml"))


def check(compose, overrides: list[str], cuda: bool = False) -> None:
    validate(OmegaConf.to_object(compose(overrides)), cuda=cuda, bf16=cuda)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["adapter.init=pissa", "quant=nf4"], "adapter.init=pissa rewrites the base weights"),
        (["adapter.init=pissa_niter_4"], "adapter.init=pissa_niter_4 rewrites the base weights"),
        (["adapter=dora", "adapter.init=olora"], "adapter.init=olora rewrites the base weights"),
        (["adapter.init=eva"], "adapter.init=eva: alignbench takes kaiming or gaussian"),
        (["adapter=dora", "quant=int8"], "adapter.use_dora=true on quant=int8 fails at the second step on CPU"),
        (["method.label_smoothing=0.1"], r"label_smoothing=0.1 would be ignored by loss_type \['sigmoid'\]"),
        (["method=robust", "method.label_smoothing=0.5"], r"robust DPO's label-flip rate: it must be in \[0, 0.5\)"),
        (["method=rpo", "method.loss_weights=[1.0]"], r"1 weights for loss_type \['sigmoid', 'sft'\]"),
        (["dataset.mixture_harmless=most"], "dataset.mixture_harmless=most is a share between 0 and 1, or natural"),
        (["dataset.mixture_harmless=1.5"], "dataset.mixture_harmless=1.5 is a share between 0 and 1, or natural"),
    ],
)
def test_unsupported_combinations_are_refused_with_the_reason(compose, overrides, message):
    with pytest.raises(ConfigError, match=message):
        check(compose, overrides)


@pytest.mark.parametrize(
    ("adapter", "quant"), [(a, q) for a in ADAPTERS for q in ("none", "nf4", "int8") if (a, q) != ("dora", "int8")]
)
def test_every_other_adapter_preset_passes_on_every_quantization(compose, adapter, quant):
    check(compose, [f"adapter={adapter}", f"quant={quant}"])


def test_dora_on_int8_passes_on_a_gpu(compose):
    check(compose, ["adapter=dora", "quant=int8"], cuda=True)


@pytest.mark.parametrize("method", DPO_FAMILY)
def test_every_dpo_family_preset_passes(compose, method):
    check(compose, [f"method={method}"])
