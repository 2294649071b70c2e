"""dlnotes.train.config: fields, flags, config files, one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlnotes.train.command import config_from_args
from dlnotes.train.config import TrainConfig, build_parser

# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


def test_every_field_has_a_flag_and_help() -> None:
    parser = build_parser()
    flags = {s for a in parser._actions for s in a.option_strings}
    for name in TrainConfig.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in flags
    help_text = parser.format_help()
    assert "--no-channels-last" in help_text and "bf16" in help_text


def test_file_values_then_flags_override(tmp_path: Path) -> None:
    yml = tmp_path / "run.yaml"
    yml.write_text(
        "model: cifar_resnet32\nmodel_kwargs: {shortcut: B}\nlr: 0.2\n"
        "milestones: [91, 136]\nchannels-last: true\n",
        encoding="utf-8",
    )
    config, print_only = config_from_args(["--config", str(yml), "--lr", "0.05"])
    assert not print_only
    assert config.model == "cifar_resnet32" and config.model_kwargs == {"shortcut": "B"}
    assert config.lr == 0.05  # the flag wins over the file
    assert config.milestones == [91, 136] and config.channels_last
    assert config.epochs == TrainConfig().epochs  # untouched default
    toml = tmp_path / "run.toml"
    toml.write_text('amp = "bf16"\nbatch_size = 256\nnesterov = true\n', "utf-8")
    config, _ = config_from_args(["--config", str(toml), "--no-nesterov"])
    assert (config.amp, config.batch_size, config.nesterov) == ("bf16", 256, False)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"amp": "fp32"}, "amp must be one of none, bf16, fp16; got 'fp32'"),
        ({"schedule": "poly"}, "schedule must be one of step, cosine, constant"),
        ({"lr": "fast"}, "lr must be a number; got 'fast'"),
        ({"batch_size": 0}, "batch_size must be >= 1; got 0"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"milestones": [30, 10]}, "milestones must be increasing"),
        ({"learning_rate": 0.1}, "unknown config key 'learning_rate'"),
        ({"dataset": "mnist"}, "dataset must be one of digits, synthetic, cifar10"),
    ],
)
def test_bad_values_name_the_field(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig.from_dict(values)
