"""The Problems collector every config check writes to."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tzrec import config as config_lib
from tzrec.config.problems import Problems, choices
from tzrec.utils.errors import ConfigError

DEEPFM = Path(__file__).resolve().parents[1] / "configs" / "deepfm_tzrec_style.config"


def test_collects_every_problem_with_where_and_fix() -> None:
    p = Problems()
    assert not p and len(p) == 0
    p.raise_if_any()  # nothing collected: no error
    p.add("train_config.num_steps", "must be > 0", "e.g. 1000")
    p.add_invalid("export_config.exporter_type", 'bad value "x"')
    p.extend([ConfigError("empty", "data_config.label_fields")])
    assert p and len(p) == 3
    assert [e.where for e in p.errors] == [
        "train_config.num_steps",
        "export_config.exporter_type",
        "data_config.label_fields",
    ]
    assert p.errors[0].fix == "e.g. 1000"
    assert p.invalid == {"export_config.exporter_type"}
    with pytest.raises(ConfigError) as info:
        p.raise_if_any()
    assert info.value.what == "3 problems in the config"
    assert info.value.problems == p.errors


def test_check_choice_suggests_the_closest_value() -> None:
    p = Problems()
    p.check_choice("train_config.mixed_precision", "BF16", ("", "BF16", "FP16"))
    assert not p
    p.check_choice("train_config.mixed_precision", "BF17", ("", "BF16", "FP16"))
    (e,) = p.errors
    assert e.what == 'bad value "BF17"'
    assert e.fix == 'did you mean "BF16"? use one of BF16, FP16'
    assert p.invalid == {"train_config.mixed_precision"}
    assert choices("zzz", ("best", "final")) == "use one of best, final"


def test_an_invalid_path_is_not_also_reported_as_not_supported() -> None:
    config = config_lib.load_pipeline_config(
        str(DEEPFM), {"train_config.mixed_precision": "FP16"}
    )
    with pytest.raises(ConfigError) as info:
        config_lib.validate(config)
    lines = [e.what for e in info.value.problems]
    assert lines == ["FP16 is not supported yet"]


def test_warnings_are_logged_only_for_an_accepted_config(caplog) -> None:
    edits = {"data_config.fg_threads": 4}
    config = config_lib.load_pipeline_config(str(DEEPFM), edits)
    with caplog.at_level(logging.WARNING, logger="tzrec"):
        config_lib.validate(config)
    assert any("fg_threads" in r.getMessage() for r in caplog.records)
    caplog.clear()
    config.data_config.batch_size = 0
    with caplog.at_level(logging.WARNING, logger="tzrec"), pytest.raises(ConfigError):
        config_lib.validate(config)
    assert not any("fg_threads" in r.getMessage() for r in caplog.records)
