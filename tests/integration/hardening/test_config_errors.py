"""Configs that do not parse: one clear line, exit 2, the protected run untouched.

Each case edits the tiny config's text (or a flag) and resumes the protected
run with it; the config is read and validated before anything heavy runs, so
nothing in model_dir may change at all, not even a log file.
"""

from __future__ import annotations

import pytest

from tests.cli import TINY_CONFIG, run_in_process
from tests.integration.hardening.helpers import (
    assert_intact,
    assert_one_error,
    check_edited_config,
    train_flags,
)

TEXT = TINY_CONFIG.read_text()
STEPS_LINE = TEXT.splitlines().index("  num_steps: 20") + 1

# id -> (text to replace, its replacement, needles of the error line)
CASES = {
    "syntax_error": (
        "num_steps: 20",
        "num_steps 20 {",
        ["syntax error", f"c.config:{STEPS_LINE}:"],
    ),
    "unknown_field": (
        "num_steps: 20",
        "num_stepz: 20",
        ['unknown field "num_stepz"', 'did you mean "num_steps"?'],
    ),
    "wrong_type": (
        "num_steps: 20",
        'num_steps: "many"',
        ["wrong type for num_steps", f"c.config:{STEPS_LINE}:"],
    ),
    "bad_enum": (
        "dataset_type: ParquetDataset",
        "dataset_type: Parquet",
        ["bad enum value Parquet for DatasetType", "use one of"],
    ),
    "negative_size": (
        "hidden_units: [16, 8]",
        "hidden_units: [16, -8]",
        ["wrong type for hidden_units", "Value out of range: -8"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config(case, tiny_data, run_copy, tmp_path):
    check_edited_config(*CASES[case], tiny_data, run_copy, tmp_path)


FLAG_CASES = {
    "config_file_missing": (
        ["--pipeline_config_path", "no/such.config"],
        ["cannot read pipeline config: No such file", "(no/such.config)"],
    ),
    "edit_config_json_syntax": (
        ["--edit_config_json", "{steps: 5"],
        ["bad JSON", "(edit_config_json)", 'write {"path": value'],
    ),
    "edit_config_json_unknown_path": (
        ["--edit_config_json", '{"train_config.num_stepz": 5}'],
        ["num_stepz", "edit_config_json", "num_steps"],
    ),
}


@pytest.mark.parametrize("case", list(FLAG_CASES))
def test_bad_config_flag(case, tiny_data, run_copy):
    extra, needles = FLAG_CASES[case]
    model_dir, before = run_copy
    flags = train_flags(tiny_data, model_dir, "--continue_train")
    if extra[0] == "--pipeline_config_path":
        flags[1] = extra[1]
        extra = []
    proc = run_in_process("tzrec.train_eval", *flags, *extra)
    assert_one_error(proc, *needles)
    assert_intact(before, model_dir)


def test_debug_shows_the_traceback(tiny_data, run_copy, tmp_path):
    config = tmp_path / "c.config"
    config.write_text(TEXT.replace("num_steps: 20", "num_stepz: 20"))
    model_dir, _ = run_copy
    flags = train_flags(
        tiny_data, model_dir, "--continue_train", "--debug", config=config
    )
    proc = run_in_process("tzrec.train_eval", *flags)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("error: unknown field")
