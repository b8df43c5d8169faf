"""What parses (TorchEasyRec's schema) but tzrec does not implement yet.

``UNSUPPORTED`` maps field paths to the reason and the alternative;
:func:`check_unsupported` reports each path in use as "not supported yet".
``tests/test_config_coverage.py`` checks that every config field is either read
by the code (a package's ``fields_read.py``) or listed here.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message

from tzrec.config.coverage import field_sites, is_rejected
from tzrec.config.problems import Problems
from tzrec.config.proto_fields import in_use
from tzrec.protos import pipeline_pb2

# Reasons shared by several UNSUPPORTED entries.
_WEIGHTED_SEQ = "use a weighted id_feature in a DEEP group"
_NOT_IMPL = "not implemented"
_USE_ADAGRAD = "use adagrad_optimizer, rowwise_adagrad_optimizer or sgd_optimizer"
_USE_ADAM = "use adam_optimizer, adamw_optimizer, adagrad_optimizer or sgd_optimizer"
_EMA = "dense EMA is not implemented"

# What parses (TorchEasyRec's schema) but is not implemented yet: field path
# (dotted names, no indices; repeated fields are walked) -> reason. A path is
# reported when in use: a set oneof member or message, a non-empty list, or a
# scalar set to a non-default value. Delete a line when its feature lands.
UNSUPPORTED: dict[str, str] = {
    "feature_configs.sequence_id_feature.weighted": _WEIGHTED_SEQ,
    "feature_configs.sequence_feature.features.id_feature.weighted": _WEIGHTED_SEQ,
    "model_config.pepnet.domain_input_name": "per-domain task towers are not "
    "implemented; remove it",
    "model_config.pepnet.task_domain_num": "per-domain task towers are not "
    "implemented; remove it",
    "model_config.rocket_launching.l2_regularization": "TorchEasyRec does not "
    "apply it either; remove it",
    "model_config.feature_groups.sequence_encoders.hstu_encoder": "use din_encoder, "
    "simple_attention, pooling_encoder, multi_window_din_encoder or "
    "self_attention_encoder",
    "data_config.input_fields_str": "use input_fields { input_name: ... }",
    "train_config.sparse_optimizer.lars_sgd_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.lamb_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.partial_rowwise_lamb_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.partial_rowwise_adam_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.adadelta_optimizer": _USE_ADAGRAD,
    "train_config.sparse_optimizer.rmsprop_optimizer": _USE_ADAGRAD,
    "train_config.dense_optimizer.adadelta_optimizer": _USE_ADAM,
    "train_config.dense_optimizer.rmsprop_optimizer": _USE_ADAM,
    "train_config.dense_optimizer.ema": _EMA,
    "train_config.fine_tune_ckpt_param_map": "parameters restore by their own names",
    "train_config.grad_scaler": "only BF16 mixed precision, which needs no scaler",
    "eval_config.use_dense_ema": _EMA,
    "export_config.use_dense_ema": _EMA,
    "export_config.mixed_precision": "export in FP32",
}


def _reject_everywhere(keys: tuple[str, ...], reason: str) -> None:
    """Adds every path of the ``MessageName.field`` keys to UNSUPPORTED.

    Paths already under an UNSUPPORTED entry are skipped (reported once).
    """
    for site in field_sites(pipeline_pb2.EasyRecConfig.DESCRIPTOR):
        if site.key in keys and not is_rejected(site.path, UNSUPPORTED):
            UNSUPPORTED[site.path] = reason


def _each(messages: tuple[str, ...], fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{m}.{f}" for m in messages for f in fields)


# Per-optimizer clipping flags of the fused (sparse) optimizers are not
# implemented; dense clipping is train_config.grad_clipping.
_FUSED: tuple[str, ...]
_FUSED = ("FusedSGDOptimizer", "FusedAdagradOptimizer", "FusedAdamOptimizer")
_FUSED += ("FusedRowWiseAdagradOptimizer",)
_reject_everywhere(
    _each(_FUSED, ("gradient_clipping",)),
    "use train_config.grad_clipping (dense parameters)",
)
_reject_everywhere(
    _each(_FUSED, ("max_gradient",)),
    "per-optimizer clipping is not implemented; use train_config.grad_clipping",
)
# TorchEasyRec feature options tzrec does not implement.
_FEATURES = ("IdFeature", "RawFeature", "ComboFeature", "LookupFeature")
# Feature types added by issue 17: their options below, where not read.
_FEATURES17: tuple[str, ...]
_FEATURES17 = ("MatchFeature", "ExprFeature", "OverlapFeature", "TokenizeFeature")
_FEATURES17 += ("KvDotProduct", "BoolMaskFeature", "CombineFeature")
_reject_everywhere(
    _each(_FEATURES + _FEATURES17, ("sequence_fields",)),
    "name the columns with expression",
)
_reject_everywhere(
    _each(_FEATURES + _FEATURES17, ("fg_encoded_default_value",)),
    "nulls are filled with default_value; set default_value instead",
)
_reject_everywhere(
    _each(_FEATURES + _FEATURES17, ("stub_type",)),
    "FG-DAG intermediate features " + _NOT_IMPL,
)
_reject_everywhere(
    _each(_FEATURES + _FEATURES17, ("asset_dir",)), "give vocab_file its full path"
)
_reject_everywhere(("ModelConfig.kernel",), "tzrec runs PYTORCH kernels")
_ID_LIKE = _FEATURES + ("MatchFeature", "BoolMaskFeature")
_reject_everywhere(
    _each(_ID_LIKE, ("dynamicemb",)),
    "dynamic embeddings need CUDA and NVIDIA's dynamicemb package, which tzrec "
    "does not ship; use hash_bucket_size",
)
_reject_everywhere(
    _each(_ID_LIKE, ("zch",)),
    "torchrec's managed-collision modules run on CPU, but their sharder needs "
    "ROW_WISE sharding, which torchrec 1.8 offers on CUDA only; use hash_bucket_size",
)
_SEQ_KINDS: tuple[str, ...]
_SEQ_KINDS = ("id_feature", "raw_feature", "expr_feature", "combine_feature")
_SEQ_KINDS += ("match_feature", "overlap_feature", "kv_dot_product")
for _kind in _SEQ_KINDS:
    for _where in (f"sequence_{_kind}", f"sequence_feature.features.{_kind}"):
        UNSUPPORTED[f"feature_configs.{_where}.use_mask"] = (
            "masking part of a sequence would misalign it; " + _NOT_IMPL
        )
for _kind in _SEQ_KINDS[1:]:
    for _oneof in ("autodis", "mlp"):
        UNSUPPORTED[f"feature_configs.sequence_{_kind}.{_oneof}"] = (
            "embedding a dense sequence value is " + _NOT_IMPL
        )
        UNSUPPORTED[f"feature_configs.sequence_feature.features.{_kind}.{_oneof}"] = (
            "embedding a dense sequence value is " + _NOT_IMPL
        )
_reject_everywhere(
    _each(_FEATURES17, ("embedding_constraints",)),
    "tzrec plans embedding sharding itself",
)
_reject_everywhere(
    ("ExprFeature.separator",), "expr_feature variables are one number per row"
)
_reject_everywhere(
    ("TextNormalizer.stop_char_file",), "use TEXT_FILTER to drop punctuation"
)
_reject_everywhere(
    ("KvDotProduct.kv_delimiter",),
    "TorchEasyRec's schema makes it a float, which names no character; ':' is used",
)
# TorchEasyRec feature types tzrec has no implementation of.
_reject_everywhere(
    _each(("FeatureConfig", "SeqFeatureConfig"), ("custom_feature",))
    + ("FeatureConfig.sequence_custom_feature",),
    "custom FG operators (pyfg .so libraries) are not supported; compute the value "
    "into a data column and read it with a raw_feature or id_feature",
)
_SEQ17 = ("tokenize_feature", "bool_mask_feature")
_reject_everywhere(
    _each(("SeqFeatureConfig",), _SEQ17)
    + _each(("FeatureConfig",), tuple(f"sequence_{k}" for k in _SEQ17))
    + _each(("TokenizeFeature", "BoolMaskFeature"), ("sequence_length",))
    + _each(("TokenizeFeature", "BoolMaskFeature"), ("sequence_delim",)),
    "sequences of tokenize/bool_mask features (several ids per position) are "
    + _NOT_IMPL,
)
_reject_everywhere(
    ("FeatureConfig.sequence_combo_feature", "FeatureConfig.sequence_lookup_feature")
    + ("SeqFeatureConfig.combo_feature", "SeqFeatureConfig.lookup_feature"),
    "sequences of combo/lookup features are " + _NOT_IMPL,
)
_DATA_CHANGE = "changes which rows a batch holds; " + _NOT_IMPL
UNSUPPORTED.update(
    {
        "train_config.is_profiling": "profile with python -m "
        "tzrec.benchmark.profile_train",
        "train_config.delta_embedding_dump_config": _NOT_IMPL,
        "eval_config.evaluator_type": "evaluation during training uses the "
        "latest checkpoint; export_config.exporter_type picks the best",
        "export_config.export_format": "export writes TorchScript",
        "data_config.fg_encoded_multival_sep": "multi-value string columns are "
        "split by each feature's separator; set separator instead (Parquet "
        "list columns need none)",
        "data_config.drop_remainder": _DATA_CHANGE,
        "data_config.min_batch_size": _DATA_CHANGE,
        "data_config.negative_sample_mask_prob": _DATA_CHANGE,
        "data_config.force_base_data_group": _DATA_CHANGE,
        "data_config.sample_cost_field": _DATA_CHANGE,
        "data_config.batch_cost_size": _DATA_CHANGE,
    }
)
_SAMPLERS = tuple(
    f"data_config.{s}"
    for s in (
        "negative_sampler",
        "negative_sampler_v2",
        "hard_negative_sampler",
        "hard_negative_sampler_v2",
        "tdm_sampler",
    )
)
for _sampler in _SAMPLERS:
    UNSUPPORTED[_sampler] = (
        "negative sampling is for retrieval models, which tzrec does not train"
    )

# TorchEasyRec's models that tzrec does not train: their messages parse
# (match_model, hstu_rank_model, sid_model, generative_model, prompt_model
# .proto) so that their configs load, and the model is refused whole.
_RETRIEVAL = (
    "a retrieval model: it trains against sampled negative items (data_config's "
    "negative samplers) and exports separate user and item towers for vector "
    "search, none of which tzrec has; tzrec trains ranking models (e.g. deepfm)"
)
_HSTU = (
    "a generative ranking model (HSTU): it reads one sample per user history "
    "(JAGGED_SEQUENCE groups of items, actions and timestamps) through a stack of "
    "HSTU attention layers, which tzrec does not implement; use a ranking model "
    "with a din_encoder sequence group"
)
_SID = (
    "a semantic-ID model: it learns residual-quantised codes for items (output: "
    "codes, not scores) with its own losses, which tzrec does not implement"
)
_LM = (
    "a generative language-model recommender: it fine-tunes pretrained Qwen "
    "weights (HuggingFace transformers, not installed) to emit semantic IDs by "
    "beam search, which tzrec does not implement"
)
NOT_RANKING_MODELS: dict[str, str] = {
    "dssm": _RETRIEVAL,
    "dssm_v2": _RETRIEVAL,
    "dat": _RETRIEVAL,
    "mind": _RETRIEVAL,
    "hstu_match": _RETRIEVAL,
    "tdm": "a tree-based retrieval model: it needs the item tree, tdm_sampler and "
    "tree search at serving, none of which tzrec has; tzrec trains ranking models "
    "(e.g. deepfm)",
    "dlrm_hstu": _HSTU,
    "ultra_hstu": _HSTU,
    "sid_rqvae": _SID,
    "sid_rqkmeans": _SID,
    "generative_qwen": _LM,
    "prompt_generative_qwen": _LM,
}
for _model, _why in NOT_RANKING_MODELS.items():
    UNSUPPORTED[f"model_config.{_model}"] = f"{_model} is {_why}"

# TorchEasyRec fields added by the schema-parity work (issue 17).
_reject_everywhere(
    ("MetricConfig.step_decay_rate",),
    "eval metrics cover the whole eval set; for a decayed metric during "
    "training use model_config.train_metrics (decay_rate)",
)
UNSUPPORTED["item_input_path"] = (
    "it feeds a retrieval model's item-tower export; tzrec exports ranking models"
)

_CPU_NO_DECAY = (
    "fbgemm's CPU kernels apply no weight decay to embedding tables; remove it "
    "(rowwise_adagrad_optimizer's weight_decay_mode L2/DECOUPLE works on CUDA)"
)
# Checked only where torch.cuda.is_available() is False.
UNSUPPORTED_ON_CPU: dict[str, str] = {
    "train_config.sparse_optimizer.adam_optimizer": "fbgemm's CPU kernels lack Adam "
    "for embedding tables; " + _USE_ADAGRAD + " (adam works on CUDA)",
    # fbgemm's CPU kernels update tables without any weight decay term.
    **{
        f"train_config.sparse_optimizer.{kind}.{field}": _CPU_NO_DECAY
        for kind, field in (
            ("sgd_optimizer", "weight_decay"),
            ("adagrad_optimizer", "weight_decay"),
            ("rowwise_adagrad_optimizer", "weight_decay"),
            ("rowwise_adagrad_optimizer", "weight_decay_mode"),
        )
    },
}


def check_unsupported(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    """Adds "not supported yet" for every UNSUPPORTED path in use.

    Call it after the other checks: a path already reported as invalid
    (``p.invalid``) is not reported again. On a machine without CUDA the
    ``UNSUPPORTED_ON_CPU`` entries are checked too. A model refused whole
    (``NOT_RANKING_MODELS``) brings no second line for its negative sampler.

    Args:
        config: the config to check.
        p: the collector; one entry per concrete path (with indices), each
            naming its field path and reading "not supported yet".

    """
    table = dict(UNSUPPORTED)
    if not _cuda_available():
        table.update(UNSUPPORTED_ON_CPU)
    if config.model_config.WhichOneof("model") in NOT_RANKING_MODELS:
        # The refused model's own line says why; its sampler is part of it.
        for sampler in _SAMPLERS:
            del table[sampler]
    for path, reason in table.items():
        for where in find_in_use(config, path):
            if where not in p.invalid:
                p.add(where, "not supported yet", reason)


def find_in_use(msg: Message, path: str, prefix: str = "") -> Iterator[str]:
    """Yields the concrete paths (with indices) where ``path`` is in use.

    Args:
        msg: the message ``path`` is relative to.
        path: dotted field names without indices; repeated fields are walked.
        prefix: the concrete path of ``msg``.

    Yields:
        Paths such as ``feature_configs[3].id_feature.vocab_file``.

    Raises:
        KeyError: a name in ``path`` is not a field (a typo in a table).

    """
    name, _, rest = path.partition(".")
    fd = msg.DESCRIPTOR.fields_by_name[name]
    here = f"{prefix}.{name}" if prefix else name
    if not rest:
        if in_use(msg, name):
            yield here
    elif fd.is_repeated:
        for i, element in enumerate(getattr(msg, name)):
            yield from find_in_use(element, rest, f"{here}[{i}]")
    elif msg.HasField(name):
        yield from find_in_use(getattr(msg, name), rest, here)


def _cuda_available() -> bool:
    import torch  # late: parsing a config needs no torch

    return torch.cuda.is_available()
