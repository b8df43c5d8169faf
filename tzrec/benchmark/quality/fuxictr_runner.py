"""FuxiCTR 2.3.10's DeepFM on the benchmark's id fields (runs in FuxiCTR's venv).

Why a separate script: FuxiCTR lives in its own virtualenv
(``data/fuxictr-venv``); this file imports only FuxiCTR, torch and numpy, and
the benchmark runs it there with ``python fuxictr_runner.py SPEC.json``.

The wheel ships FuxiCTR's layers and ``BaseModel`` (training loop, early
stopping, learning-rate decay on plateau, gradient clipping, checkpoints) but
not its model zoo, so DeepFM is composed here from those layers as FuxiCTR's
DeepFM defines it: one embedding table per field, a factorization machine
(first-order weights as 1-wide embeddings plus a bias, and the pairwise inner
products) added to an MLP over the concatenated embeddings. Hyperparameters
are FuxiCTR's documented ``DeepFM_default`` template (Adam 1e-3 on every
parameter, embedding dim 40, hidden units 300-300-300, no regularisation,
embeddings N(0, 1e-4), Xavier-normal linear layers), except batch size and
epochs, which the spec sets to the other systems' values. Multi-value fields
are FuxiCTR ``sequence`` features (id 0 pads) pooled as the spec says.

The spec JSON: ``{"data": npz path, "seed", "batch_size", "epochs",
"fields": [{"name", "vocab", "multi", "pooling"}], "output": json path}``; the
npz holds ``train_label``, ``eval_label``, ``train_<i>``, ``eval_<i>``. The
output JSON has one entry per evaluation (after each epoch) with ``auc`` and
``logloss``, and ``seconds``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import OrderedDict

import numpy as np
import torch
from fuxictr.features import FeatureMap
from fuxictr.pytorch.layers import FactorizationMachine, FeatureEmbedding, MLP_Block
from fuxictr.pytorch.models import BaseModel
from fuxictr.pytorch.torch_utils import seed_everything

DEFAULTS = {  # FuxiCTR's DeepFM_default template
    "learning_rate": 1e-3,
    "embedding_dim": 40,
    "hidden_units": [300, 300, 300],
    "optimizer": "adam",
    "loss": "binary_crossentropy",
    "metrics": ["logloss", "AUC"],
    "monitor": {"AUC": 1, "logloss": -1},
    "early_stop_patience": 2,
}


class DeepFM(BaseModel):
    """DeepFM from FuxiCTR's layers; records every evaluation."""

    def __init__(self, feature_map: FeatureMap, **kwargs) -> None:
        super().__init__(feature_map, model_id="DeepFM", **kwargs)
        dim = kwargs["embedding_dim"]
        self.embedding_layer = FeatureEmbedding(feature_map, dim)
        self.fm = FactorizationMachine(feature_map)
        self.mlp = MLP_Block(
            input_dim=feature_map.sum_emb_out_dim(),
            output_dim=1,
            hidden_units=kwargs["hidden_units"],
            hidden_activations="ReLU",
            output_activation=None,
        )
        self.compile(kwargs["optimizer"], kwargs["loss"], kwargs["learning_rate"])
        self.reset_parameters()
        self.model_to_device()
        self.history: list[dict] = []

    def forward(self, inputs: dict) -> dict:
        """``{"y_pred": probabilities [B, 1]}``."""
        x = self.get_inputs(inputs)
        emb = self.embedding_layer(x)
        logit = self.fm(x, emb) + self.mlp(emb.flatten(start_dim=1))
        return {"y_pred": self.output_activation(logit)}

    def evaluate(self, data_generator, metrics=None) -> dict:
        """FuxiCTR's evaluation, plus a full record (AUC and logloss) of each."""
        logs = super().evaluate(data_generator, metrics=["AUC", "logloss"])
        self.history.append({k: float(v) for k, v in logs.items()})
        return logs


class Batches:
    """Dict-of-tensor batches; reshuffled each epoch when ``shuffle``."""

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        batch_size: int,
        shuffle: bool,
        seed: int,
    ) -> None:
        self.columns = {k: torch.from_numpy(v) for k, v in columns.items()}
        self.rows = len(columns["label"])
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-self.rows // self.batch_size)

    def __iter__(self):
        order = (
            torch.from_numpy(self.rng.permutation(self.rows))
            if self.shuffle
            else torch.arange(self.rows)
        )
        for start in range(0, self.rows, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield {k: v[idx] for k, v in self.columns.items()}


def _feature_map(fields: list[dict], embedding_dim: int, root: str) -> FeatureMap:
    fmap = FeatureMap("quality", root)
    fmap.labels = ["label"]
    for f in fields:
        if f["multi"]:
            pool = "Average" if f["pooling"] == "mean" else "Sum"
            spec = {
                "type": "sequence",
                "vocab_size": f["vocab"] + 1,  # id 0 pads
                "padding_idx": 0,
                "feature_encoder": f"layers.Masked{pool}Pooling()",
            }
        else:
            spec = {"type": "categorical", "vocab_size": f["vocab"]}
        fmap.features[f["name"]] = {"source": "", **spec}
    fmap.features = OrderedDict(fmap.features)
    fmap.num_fields = fmap.get_num_fields()
    fmap.default_emb_dim = embedding_dim
    return fmap


def _columns(data, split: str, fields: list[dict]) -> dict[str, np.ndarray]:
    cols = {"label": data[f"{split}_label"].astype(np.float32)}
    for i, f in enumerate(fields):
        ids = data[f"{split}_{i}"]
        cols[f["name"]] = ids + 1 if f["multi"] else ids  # padding -1 -> 0
    return cols


def main(spec_path: str) -> int:
    """Trains and writes the evaluations to the spec's output path."""
    spec = json.loads(open(spec_path).read())
    params = {**DEFAULTS, **spec.get("overrides", {})}
    seed_everything(spec["seed"])
    torch.set_num_threads(spec.get("threads", 1))
    data = np.load(spec["data"])
    fields = spec["fields"]
    with tempfile.TemporaryDirectory() as root:
        fmap = _feature_map(fields, params["embedding_dim"], root)
        os.makedirs(os.path.join(root, fmap.dataset_id))  # the best-model file's
        model = DeepFM(fmap, gpu=-1, model_root=root, verbose=0, **params)
        train = Batches(
            _columns(data, "train", fields), spec["batch_size"], True, spec["seed"]
        )
        valid = Batches(_columns(data, "eval", fields), 16384, False, 0)
        start = time.perf_counter()
        model.fit(train, epochs=spec["epochs"], validation_data=valid)
        seconds = time.perf_counter() - start
    with open(spec["output"], "w") as f:
        json.dump({"evals": model.history, "seconds": seconds}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
