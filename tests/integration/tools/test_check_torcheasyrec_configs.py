"""scripts/check_torcheasyrec_configs.py on a folder of TorchEasyRec-shaped configs."""

import shutil
import subprocess
import sys

import pytest

from tests.cli import REPO

pytestmark = pytest.mark.slow

SCRIPT = REPO / "scripts" / "check_torcheasyrec_configs.py"


def test_table_reports_each_stage(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    shutil.copy(REPO / "tests/configs/teasyrec/ple_taobao_small.config", folder)
    (folder / "broken.config").write_text("model_config { no_such_model {} }\n")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder), "--steps", "4",
         "--work_dir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # one config does not parse
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in done.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| config")
    }
    model, parsed, validated, trained, auc, _ = rows["ple_taobao_small"]
    assert (model, parsed, validated) == ("ple", "yes", "yes")
    assert trained == "yes (4 steps)" and "auc_ctr=" in auc and "auc_cvr=" in auc
    assert rows["broken"][1].startswith("no: unknown field")
    assert "2 configs: 1 parsed, 1 validated, 1 trained" in done.stdout
