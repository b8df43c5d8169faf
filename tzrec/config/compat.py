"""TorchEasyRec settings that mean something else, or nothing, in tzrec.

Three kinds of checks, run by ``tzrec.config.validate``:

- Data source: ODPS (MaxCompute) tables and Kafka streams cannot be reached
  from tzrec; the error says how to bring the data to Parquet and which three
  things to change on the command line.
- FG mode: tzrec derives every feature from the raw input columns (hashing,
  vocabularies, boundaries, normalizers, combos, lookups), which is what
  TorchEasyRec's FG_NORMAL and FG_DAG do. FG_NONE in TorchEasyRec means the
  columns already hold FG's output; tzrec reads them the same way where that
  output is "ids as given" (``num_buckets``) or plain values, and rejects the
  settings whose meaning differs, naming the difference.
- Settings that only matter on ODPS, Kafka or in TorchEasyRec's FG handler:
  accepted, and when set to a non-default value named in one warning.
"""

from __future__ import annotations

from tzrec.config.problems import Problems
from tzrec.config.proto_fields import feature_name_of, in_use
from tzrec.features.feature import column_of
from tzrec.protos import data_pb2, feature_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

TO_PARQUET = (
    "use ParquetDataset: export the table to Parquet (PyODPS: "
    "o.get_table(NAME).to_df().to_pandas().to_parquet(PATH), or MaxCompute "
    "UNLOAD ... STORED AS PARQUET), then pass --train_input_path and "
    "--eval_input_path and --edit_config_json "
    '\'{"data_config.dataset_type": "ParquetDataset"}\''
)

# data_config fields accepted with no effect in tzrec, and why.
NO_EFFECT_DATA = {
    "is_orderby_partition": "ODPS only",
    "odps_data_quota_name": "ODPS only",
    "odps_data_compression": "ODPS only",
    "fg_threads": "TorchEasyRec's FG handler only",
    "in_order": "tzrec always delivers batches in order",
}
# feature fields accepted with no effect in tzrec, and why.
NO_EFFECT_FEATURE: dict[str, str] = {}
NO_EFFECT_SEQUENCE = {
    "sequence_pk": "a serving-side key; sequences are read from input columns",
}

_DERIVED = (data_pb2.FG_NORMAL, data_pb2.FG_DAG)
# Feature types whose value tzrec always computes from their input columns.
_COMPUTED: tuple[str, ...]
_COMPUTED = ("combine_feature", "expr_feature", "match_feature", "overlap_feature")
_COMPUTED += ("bool_mask_feature", "kv_dot_product", "tokenize_feature")


def check_data_source(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    """ODPS/Kafka sources and ``odps://`` paths: one line each, with the fix."""
    dc = config.data_config
    if dc.HasField("dataset_type") and dc.dataset_type in (
        data_pb2.OdpsDataset,
        data_pb2.OdpsDatasetV1,
    ):
        name = data_pb2.DatasetType.Name(dc.dataset_type)
        p.add(
            "data_config.dataset_type",
            "ODPS (MaxCompute) tables cannot be reached from tzrec; "
            f"{name} is not supported",
            TO_PARQUET,
        )
        p.invalid.add("data_config.dataset_type")
    elif dc.HasField("dataset_type") and dc.dataset_type == data_pb2.KafkaDataset:
        p.add(
            "data_config.dataset_type",
            "tzrec trains on files, not streams; KafkaDataset is not supported",
            "write the stream to Parquet files and use ParquetDataset",
        )
        p.invalid.add("data_config.dataset_type")
    for name in ("train_input_path", "eval_input_path"):
        if getattr(config, name).startswith("odps://"):
            p.add(
                name,
                "odps:// tables cannot be reached from tzrec",
                TO_PARQUET,
            )


def effective_fg_mode(dc: data_pb2.DataConfig) -> int:
    """The FG mode a config means: ``fg_mode``, else the deprecated fg_encoded.

    TorchEasyRec's ``fg_encoded: false`` (without ``fg_mode``) means raw input
    that FG turns into features, i.e. FG_NORMAL.
    """
    if not dc.HasField("fg_mode") and dc.HasField("fg_encoded") and not dc.fg_encoded:
        return data_pb2.FG_NORMAL
    return dc.fg_mode


def check_fg_mode(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    """Rejects FG settings whose TorchEasyRec meaning tzrec does not follow.

    FG_NORMAL / FG_DAG: tzrec derives the features from the raw columns, as
    TorchEasyRec's FG does: accepted. FG_NONE set explicitly (TorchEasyRec's
    "columns hold FG output", read from the column named ``feature_name``) and
    FG_BUCKETIZE (the same, before bucketizing): accepted where tzrec reads
    the same thing; the rest is "not supported yet" with the difference.
    """
    dc = config.data_config
    mode = effective_fg_mode(dc)
    if mode in _DERIVED or not (dc.HasField("fg_mode") or dc.HasField("fg_encoded")):
        return  # tzrec's own default: derive from the columns named below
    encoded = mode == data_pb2.FG_NONE
    mode_name = data_pb2.FgMode.Name(mode)
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        if kind is None:
            continue
        where = f"feature_configs[{i}].{kind}"
        for what in _differences(fc, kind, encoded):
            p.add(
                where,
                f"not supported yet with {mode_name}: {what}",
                "set data_config.fg_mode: FG_NORMAL to let tzrec derive it from "
                "the raw column, or write the encoded value as a num_buckets id "
                "or a plain number",
            )


def _differences(fc: feature_pb2.FeatureConfig, kind: str, encoded: bool) -> list[str]:
    """How TorchEasyRec's reading of one feature differs from tzrec's."""
    cfg = getattr(fc, kind)
    out: list[str] = []
    name = feature_name_of(fc)
    if (
        kind in ("combo_feature", "lookup_feature")
        or kind.removeprefix("sequence_") in _COMPUTED
    ):
        what = kind.removeprefix("sequence_").removesuffix("_feature")
        out.append(
            f'TorchEasyRec reads the {what} result from column "{name}"; tzrec '
            "computes it from its inputs"
        )
        return out
    if kind not in ("id_feature", "raw_feature"):
        return out
    if cfg.expression:
        try:
            column = column_of(cfg.expression, name, "")
        except ConfigError:
            column = cfg.expression
        if column != name:
            out.append(
                f'TorchEasyRec reads column "{name}"; tzrec reads "{column}" '
                "(its expression)"
            )
    if not encoded:
        return out
    if kind == "id_feature" and (
        cfg.hash_bucket_size or cfg.vocab_list or len(cfg.vocab_dict) or cfg.vocab_file
    ):
        out.append(
            "TorchEasyRec takes the column as bucketized ids; tzrec would hash or "
            "map it"
        )
    if kind == "raw_feature" and len(cfg.boundaries):
        out.append(
            "TorchEasyRec takes the column as bucket indices; tzrec would "
            "bucketize it by boundaries"
        )
    if kind == "raw_feature" and cfg.normalizer:
        out.append(
            "TorchEasyRec takes the column as already normalized; tzrec would "
            "apply the normalizer"
        )
    return out


def no_effect_settings(config: pipeline_pb2.EasyRecConfig) -> list[str]:
    """Set (non-default) fields tzrec accepts but that change nothing here."""
    found = []
    dc = config.data_config
    for name, why in NO_EFFECT_DATA.items():
        if in_use(dc, name):
            found.append(f"data_config.{name} ({why})")
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        if kind is None:
            continue
        sub = getattr(fc, kind)
        table = NO_EFFECT_SEQUENCE if kind == "sequence_feature" else NO_EFFECT_FEATURE
        for name, why in table.items():
            if name in sub.DESCRIPTOR.fields_by_name and in_use(sub, name):
                found.append(f"feature_configs[{i}].{kind}.{name} ({why})")
    return found


def check_no_effect(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    """One warning naming every accepted setting that has no effect in tzrec."""
    found = no_effect_settings(config)
    if found:
        p.warn(f"[config] accepted, no effect in tzrec: {'; '.join(found)}")
