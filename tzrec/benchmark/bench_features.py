"""CPU time to encode a batch, per feature type (issue 17's derived types vs id).

Prints, for each feature, the median CPU time of encoding ``--rows`` rows
(runs interleaved, so machine load affects all alike) and its ratio to a
hashed ``id_feature`` on one column. Every type encodes whole columns with
pyarrow / numpy; the ratio shows what its extra work costs.

Usage: .venv/bin/python -m tzrec.benchmark.bench_features [--rows 100000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from google.protobuf import text_format

from tzrec.features.build import build_features
from tzrec.protos import feature_pb2

WORDS = ["red", "blue", "green", "shoe", "bag", "hat", "sale", "new"]


def _table(n: int, rng: np.random.Generator) -> dict[str, pa.Array]:
    def terms(k: int, vocab: list[str], sep: str) -> pa.Array:
        picks = np.asarray(vocab, dtype=object)[rng.integers(0, len(vocab), (n, k))]
        return pa.array([sep.join(r) for r in picks])

    tokens = [f"t{i}" for i in range(20)]
    nested = [
        f"c{a}^b{b}:{v:.2f},b{c}:1.5|c{d}^b{b}:0.5"
        for a, b, c, d, v in zip(*(rng.integers(0, 5, (4, n))), rng.random(n))
    ]
    return {
        "uid": pa.array(rng.integers(0, 10**6, n)),
        "tag": terms(3, ["click", "buy", "view"], "\x1d"),
        "x": pa.array(rng.random(n)),
        "y": pa.array(rng.random(n)),
        "nm": pa.array(nested),
        "cate": pa.array([f"c{i}" for i in rng.integers(0, 5, n)]),
        "brand": pa.array([f"b{i}" for i in rng.integers(0, 5, n)]),
        "q": terms(3, tokens, " "),
        "t": terms(8, tokens, " "),
        "v": terms(4, tokens, ","),
        "m": terms(4, ["true", "false"], ","),
        "kq": terms(3, [f"{w}:0.5" for w in tokens], "|"),
        "kd": terms(5, [f"{w}:1.5" for w in tokens], "|"),
        "title": terms(6, WORDS + ["!"], " "),
    }


def _features(vocab: str) -> list[tuple[str, str]]:
    emb = "embedding_dim: 8"
    vmap = 'value_map { key: "click" value: 1 } value_map { key: "buy" value: 3 }'
    specs = [
        (
            "id_feature (int ids, hashed)",
            "id_feature",
            f'"uid" hash_bucket_size: 10 {emb}',
        ),
        (
            "id_feature (8 text tokens, hashed)",
            "id_feature",
            f'"t" separator: " " hash_bucket_size: 100000 {emb}',
        ),
        ("combine_feature", "combine_feature", f'"tag" {vmap} num_buckets: 10 {emb}'),
        (
            "expr_feature",
            "expr_feature",
            '"e" variables: ["x", "y"] expression: "x > y ? log(x + 1) : y^2" '
            f"boundaries: [0.1, 0.5] {emb}",
        ),
        (
            "match_feature",
            "match_feature",
            f'"mf" nested_map: "nm" pkey: "cate" skey: "brand" boundaries: [1] {emb}',
        ),
        (
            "overlap_feature (is_contain)",
            "overlap_feature",
            '"o" query: "q" title: "t" method: "is_contain" separator: " "',
        ),
        (
            "overlap_feature (query_common_ratio)",
            "overlap_feature",
            '"o2" query: "q" title: "t" method: "query_common_ratio" separator: " "',
        ),
        (
            "bool_mask_feature",
            "bool_mask_feature",
            f'"b" expression: ["v", "m"] separator: "," hash_bucket_size: 1000 {emb}',
        ),
        (
            "kv_dot_product",
            "kv_dot_product",
            '"k" query: "kq" document: "kd" separator: "|"',
        ),
        (
            "tokenize_feature",
            "tokenize_feature",
            f'"tk" expression: "title" vocab_file: "{vocab}" {emb} '
            "text_normalizer { norm_options: [TEXT_UPPER2LOWER] }",
        ),
    ]
    return [
        (label, f"{kind} {{ feature_name: {body} }}") for label, kind, body in specs
    ]


def _encode(f, cols: dict[str, pa.Array]) -> None:  # noqa: ANN001
    if f.is_sparse:
        f.encode_sparse(cols)
    else:
        f.encode_dense(cols)


def main() -> None:
    """Runs the benchmark and prints one line per feature."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        vocab = Path(tmp) / "words.json"
        ids = {w: i + 1 for i, w in enumerate(WORDS + ["!"])}
        model = {
            "type": "WordLevel",
            "vocab": {"[UNK]": 0, **ids},
            "unk_token": "[UNK]",
        }
        vocab.write_text(json.dumps({"model": model}))
        named = [
            (
                label,
                build_features([text_format.Parse(t, feature_pb2.FeatureConfig())])[0],
            )
            for label, t in _features(str(vocab))
        ]
        cols = _table(args.rows, np.random.default_rng(0))
        times: dict[str, list[float]] = {label: [] for label, _ in named}
        for _ in range(args.repeats):
            for label, f in named:  # interleaved: load hits every feature alike
                start = time.process_time()
                _encode(f, cols)
                times[label].append(time.process_time() - start)
    base = statistics.median(times[named[0][0]])
    print(f"CPU ms to encode {args.rows} rows (median of {args.repeats}):")
    for label, _ in named:
        t = statistics.median(times[label])
        print(f"  {label:38s} {t * 1000:8.1f} ms  {t / base:6.1f}x the first")


if __name__ == "__main__":
    main()
