"""Tracker settings that cannot work: one line, exit 2, the run untouched."""

from __future__ import annotations

from tests.integration.hardening.helpers import check_edited_config


def test_unknown_wandb_mode(tiny_data, run_copy, tmp_path):
    check_edited_config(
        "  seed: 3\n",
        '  seed: 3\n  trackers { wandb { mode: "ofline" } }\n',
        [
            'unknown wandb mode "ofline" (train_config.trackers.wandb.mode)',
            "use one of offline, online, disabled",
        ],
        tiny_data,
        run_copy,
        tmp_path,
    )
