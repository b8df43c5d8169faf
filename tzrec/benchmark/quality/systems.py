"""The systems the quality benchmark trains: tzrec, the reference, FuxiCTR.

Each runs in a child process (its own threads, its own memory, FuxiCTR in
its own virtualenv) and returns its evaluations, one per epoch, as
``[{"auc": ..., "logloss": ...}]`` plus the seconds it took.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tzrec.benchmark.quality.fields import Rows
from tzrec.run_dir.eval_log import eval_log_path

FUXICTR = "fuxictr==2.3.10"
_RUNNER = Path(__file__).with_name("fuxictr_runner.py")


@dataclasses.dataclass
class Result:
    """One system's run on one dataset with one seed."""

    dataset: str
    system: str
    seed: int
    evals: list[dict]
    seconds: float

    @property
    def best(self) -> dict:
        """The evaluation with the highest AUC (what each system would export)."""
        return max(self.evals, key=lambda e: e["auc"])

    def row(self) -> dict:
        """A flat JSON row: best and last AUC/logloss."""
        best, last = self.best, self.evals[-1]
        return {
            "dataset": self.dataset,
            "system": self.system,
            "seed": self.seed,
            "best_auc": best["auc"],
            "best_logloss": best["logloss"],
            "last_auc": last["auc"],
            "last_logloss": last["logloss"],
            "evals": len(self.evals),
            "seconds": round(self.seconds, 1),
        }


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def run_tzrec(
    config_path: str,
    model_dir: str,
    seed: int,
    edits: dict | None = None,
    threads: int = 1,
    log_path: str | None = None,
) -> tuple[list[dict], float]:
    """``python -m tzrec.train_eval`` on the config; its eval log, and seconds."""
    edit = {"train_config.seed": seed, **(edits or {})}
    cmd = [
        sys.executable,
        "-m",
        "tzrec.train_eval",
        "--pipeline_config_path",
        config_path,
        "--model_dir",
        model_dir,
        "--edit_config_json",
        json.dumps(edit),
    ]
    start = time.perf_counter()
    with open(log_path or os.devnull, "w") as log:
        subprocess.run(
            cmd,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_child_env(threads),
        )
    seconds = time.perf_counter() - start
    evals = []
    with open(eval_log_path(model_dir)) as f:
        for line in f:
            if line.strip():
                e = json.loads(line)
                evals.append(
                    {
                        "step": e["global_step"],
                        "auc": e["auc"],
                        "logloss": e["loss_binary_cross_entropy"],
                    }
                )
    return evals, seconds


def fuxictr_python(venv: str) -> str:
    """The venv's python, with FuxiCTR installed from the package index once."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    probe = [python, "-c", "import fuxictr, torch; print(fuxictr.__version__)"]
    found = subprocess.run(probe, capture_output=True, text=True)
    if found.returncode != 0 or found.stdout.strip() != FUXICTR.split("==")[1]:
        import torch

        torch_pin = f"torch=={torch.__version__.split('+')[0]}"
        install = [python, "-m", "pip", "install", "-q", torch_pin, FUXICTR]
        subprocess.run(install, check=True)
    return python


def write_fields(train: Rows, evaluation: Rows, path: str) -> list[dict]:
    """The id fields of both splits as one npz; returns the fields' specs."""
    arrays = {"train_label": train.labels, "eval_label": evaluation.labels}
    specs = []
    for i, (ft, fe) in enumerate(zip(train.fields, evaluation.fields, strict=True)):
        arrays[f"train_{i}"] = ft.ids
        arrays[f"eval_{i}"] = fe.ids
        specs.append(
            {
                "name": ft.name,
                "vocab": ft.vocab,
                "multi": ft.multi,
                "pooling": ft.pooling,
            }
        )
    np.savez(path, **arrays)
    return specs


def run_fuxictr(
    python: str,
    data_path: str,
    fields: list[dict],
    seed: int,
    batch_size: int,
    epochs: int,
    work_dir: str,
    threads: int = 1,
) -> tuple[list[dict], float]:
    """FuxiCTR's DeepFM (fuxictr_runner.py in its venv); evaluations, seconds."""
    os.makedirs(work_dir, exist_ok=True)
    spec = {
        "data": data_path,
        "seed": seed,
        "batch_size": batch_size,
        "epochs": epochs,
        "fields": fields,
        "threads": threads,
        "output": os.path.join(work_dir, f"fuxictr_seed{seed}.json"),
    }
    spec_path = os.path.join(work_dir, f"fuxictr_seed{seed}.spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    log = os.path.join(work_dir, f"fuxictr_seed{seed}.log")
    with open(log, "w") as out:
        subprocess.run(
            [python, str(_RUNNER), spec_path],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_child_env(threads),
        )
    with open(spec["output"]) as f:
        result = json.load(f)
    evals = [{"auc": e["AUC"], "logloss": e["logloss"]} for e in result["evals"]]
    return evals, result["seconds"]
