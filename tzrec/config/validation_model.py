"""Model, task and optimisation checks of config validation (torch-free).

Called by :func:`tzrec.config.validation.collect_problems`; each check adds
problems naming their field path. What is checked here also fails when the
model is built, but validation reports everything before a run starts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from google.protobuf.message import Message

from tzrec.config.problems import Problems
from tzrec.models.tasks import Task, metric_routes, tasks_from_config
from tzrec.monitor.keys import eval_loss_name
from tzrec.optim.lr import schedule_problems
from tzrec.protos import model_pb2, module_pb2, pipeline_pb2
from tzrec.utils.errors import ConfigError

_WIDE, _DEEP = model_pb2.WIDE, model_pb2.DEEP
_Model = model_pb2.ModelConfig
_Index = dict[str, int]  # group or feature name -> group index or embedding dim
_MLP = "tzrec.protos.MLP"
# Models reading exactly one feature group (TorchEasyRec reads the first).
_ONE_GROUP = ("dcn_v2", "mask_net", "mmoe", "dbmtl", "ple", "rocket_launching")
# Required MLP fields per model.
_REQUIRED_MLPS = {
    "deepfm": ("deep",),
    "wide_and_deep": ("deep",),
    "dlrm": ("final",),
    "dcn_v2": ("final",),
    "mmoe": ("expert_mlp",),
    "rocket_launching": ("booster_mlp", "light_mlp"),
    "wukong": ("final",),
}


def check_model(
    config: pipeline_pb2.EasyRecConfig,
    groups: dict[str, int],
    dims: dict[str, int],
    p: Problems,
) -> None:
    """Tasks, the model's groups and blocks, and metric names that select."""
    mc = config.model_config
    kind = mc.WhichOneof("model")
    if kind is None:
        return
    tasks = _tasks(config, p)
    where = f"model_config.{kind}"
    sub = getattr(mc, kind)
    for field in _REQUIRED_MLPS.get(kind, ()):
        if not getattr(sub, field).hidden_units:
            p.add(f"{where}.{field}.hidden_units", "empty", "e.g. [256, 128]")
    _walk_mlps(sub, where, p)
    if kind in _ONE_GROUP and len(mc.feature_groups) != 1:
        p.add(
            "model_config.feature_groups",
            f"{kind} reads exactly one feature group, got {len(mc.feature_groups)}",
            "put every feature in one group",
        )
    checker = _CHECKS.get(kind)
    if checker is not None:
        checker(mc, groups, dims, p)
    if tasks is not None:
        _check_metric_names(config, tasks, p)


def check_optimisation(config: pipeline_pb2.EasyRecConfig, p: Problems) -> None:
    """Learning-rate schedules, clipping and mixed precision."""
    tc = config.train_config
    for part in ("sparse_optimizer", "dense_optimizer"):
        opt = getattr(tc, part)
        kind = opt.WhichOneof("learning_rate")
        if kind and kind != "constant_learning_rate":
            at = f"train_config.{part}.{kind}"
            p.extend(schedule_problems(kind, getattr(opt, kind), at))
    from tzrec.optim.validate import optim_option_problems  # torch: on use

    p.extend(optim_option_problems(config))
    clip = tc.grad_clipping
    if clip.clipping_type in ("norm", "value") and clip.max_gradient <= 0:
        p.add("train_config.grad_clipping.max_gradient", "must be > 0")
    if clip.clipping_type == "norm" and clip.norm_type <= 0:
        p.add("train_config.grad_clipping.norm_type", "must be > 0")
    if tc.mixed_precision == "FP16":
        p.add_invalid(
            "train_config.mixed_precision",
            "FP16 is not supported yet",
            'use "BF16" (same range as FP32, no grad scaler needed)',
        )


def _tasks(config: pipeline_pb2.EasyRecConfig, p: Problems) -> list[Task] | None:
    dc = config.data_config
    try:
        return tasks_from_config(
            config.model_config, list(dc.label_fields), list(dc.sample_weight_fields)
        )
    except ConfigError as e:
        p.extend(e.problems or [e])
        return None


def _walk_mlps(msg: Message, where: str, p: Problems) -> None:
    """Checks every MLP message set anywhere under ``msg``."""
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        items = list(value) if fd.is_repeated else [value]
        for i, item in enumerate(items):
            at = f"{where}.{fd.name}" + (f"[{i}]" if fd.is_repeated else "")
            if fd.message_type.full_name == _MLP:
                check_mlp(item, at, p)
            else:
                _walk_mlps(item, at, p)


def check_mlp(mlp: module_pb2.MLP, where: str, p: Problems) -> None:
    """Unit counts, dropout ratios of one MLP message."""
    if not mlp.hidden_units:
        p.add(f"{where}.hidden_units", "empty", "e.g. [256, 128]")
    if any(u == 0 for u in mlp.hidden_units):
        p.add(f"{where}.hidden_units", "every unit count must be > 0")
    ratios = list(mlp.dropout_ratio)
    if len(ratios) not in (0, 1, len(mlp.hidden_units)):
        p.add(f"{where}.dropout_ratio", "give one ratio or one per hidden layer")
    if any(not 0.0 <= r < 1.0 for r in ratios):
        p.add(f"{where}.dropout_ratio", "each ratio must be in [0, 1)")


def _need_group(
    mc: model_pb2.ModelConfig,
    groups: dict[str, int],
    name: str,
    gtype: int,
    model: str,
    p: Problems,
) -> None:
    type_name = model_pb2.FeatureGroupType.Name(gtype)
    if name not in groups:
        p.add(
            "model_config.feature_groups",
            f'{model} needs a feature group named "{name}"',
            f'add feature_groups {{ group_name: "{name}" group_type: {type_name} '
            "feature_names: ... }",
        )
    elif mc.feature_groups[groups[name]].group_type != gtype:
        p.add(
            f"model_config.feature_groups[{groups[name]}].group_type",
            f'{model} group "{name}" must be {type_name}',
        )


def _check_deepfm(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    _need_group(mc, groups, "wide", _WIDE, "DeepFM", p)
    _need_group(mc, groups, "deep", _DEEP, "DeepFM", p)
    if "fm" in groups:
        _need_group(mc, groups, "fm", _DEEP, "DeepFM", p)
    fm = "fm" if "fm" in groups else "deep"
    if fm in groups:
        names = mc.feature_groups[groups[fm]].feature_names
        fm_dims = sorted({dims[n] for n in names if dims.get(n)})
        if len(fm_dims) > 1:
            p.add(
                f"model_config.feature_groups[{groups[fm]}]",
                f'FM features (group "{fm}") need one embedding dimension, got '
                f"{fm_dims}",
                'add an "fm" group of features with equal embedding_dim',
            )


def _check_wide_and_deep(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    _need_group(mc, groups, "wide", _WIDE, "WideAndDeep", p)
    _need_group(mc, groups, "deep", _DEEP, "WideAndDeep", p)


def _check_dlrm(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    sparse = next(iter(groups)) if len(groups) == 1 else "sparse"
    if sparse not in groups:
        p.add(
            "model_config.feature_groups",
            'DLRM needs a feature group named "sparse" (and optionally "dense")',
        )
        return
    names = mc.feature_groups[groups[sparse]].feature_names
    sparse_dims = sorted({dims[n] for n in names if dims.get(n)})
    if len(sparse_dims) > 1:
        p.add(
            f"model_config.feature_groups[{groups[sparse]}]",
            f"DLRM's sparse features need one embedding_dim, got {sparse_dims}",
        )
    units = list(mc.dlrm.dense_mlp.hidden_units)
    if "dense" in groups and sparse != "dense":
        if not units:
            p.add("model_config.dlrm.dense_mlp.hidden_units", "empty (a dense group)")
        elif len(sparse_dims) == 1 and units[-1] != sparse_dims[0]:
            p.add(
                "model_config.dlrm.dense_mlp.hidden_units",
                f"the last unit ({units[-1]}) must equal the sparse embedding_dim "
                f"({sparse_dims[0]})",
            )


def _check_multi_tower(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    where = "model_config.multi_tower.towers"
    if not mc.multi_tower.towers:
        p.add(where, "empty", "add towers { input: <group> mlp { ... } }")
    for i, t in enumerate(mc.multi_tower.towers):
        if t.input not in groups:
            p.add(f"{where}[{i}].input", f'unknown feature group "{t.input}"')
        if not t.mlp.hidden_units:
            p.add(f"{where}[{i}].mlp.hidden_units", "empty")


def _check_mask_net(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    _check_masknet_module(mc.mask_net.mask_net_module, "model_config.mask_net", p)


def _check_masknet_module(m: module_pb2.MaskNetModule, where: str, p: Problems) -> None:
    if m.n_mask_blocks == 0:
        p.add(f"{where}.n_mask_blocks", "must be > 0")
    if m.mask_block.hidden_dim == 0:
        p.add(f"{where}.mask_block.hidden_dim", "must be > 0")
    if m.mask_block.HasField("reduction_ratio") and m.mask_block.reduction_ratio <= 0:
        p.add(f"{where}.mask_block.reduction_ratio", "must be > 0")


def _check_mmoe(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    if mc.mmoe.num_expert == 0:
        p.add("model_config.mmoe.num_expert", "must be > 0")


def _check_dbmtl(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    cfg = mc.dbmtl
    if cfg.HasField("expert_mlp") and cfg.num_expert == 0:
        p.add("model_config.dbmtl.num_expert", "must be > 0")
    if cfg.HasField("mask_net"):
        _check_masknet_module(cfg.mask_net, "model_config.dbmtl.mask_net", p)
    seen: list[str] = []
    for i, t in enumerate(cfg.task_towers):
        for j, name in enumerate(t.relation_tower_names):
            at = f"model_config.dbmtl.task_towers[{i}].relation_tower_names[{j}]"
            if not t.HasField("relation_mlp"):
                p.add(at, "relation_tower_names without relation_mlp", "add one")
            elif name not in seen:
                p.add(
                    at,
                    f'"{name}" is not an earlier task tower',
                    "name towers listed before this one",
                )
        seen.append(t.tower_name)


def _check_ple(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    # TorchEasyRec's required fields of each extraction network.
    for i, net in enumerate(mc.ple.extraction_networks):
        at = f"model_config.ple.extraction_networks[{i}]"
        if not net.network_name:
            p.add(f"{at}.network_name", "empty", "name the layer, e.g. layer1")
        if net.expert_num_per_task == 0:
            p.add(f"{at}.expert_num_per_task", "must be > 0")
        if not net.task_expert_net.hidden_units:
            p.add(f"{at}.task_expert_net.hidden_units", "empty", "e.g. [64]")


def _check_wukong(mc: _Model, groups: _Index, dims: _Index, p: Problems) -> None:
    # TorchEasyRec's required fields of each WuKong layer.
    for i, layer in enumerate(mc.wukong.wukong_layers):
        at = f"model_config.wukong.wukong_layers[{i}]"
        for name in ("lcb_feature_num", "fmb_feature_num"):
            if getattr(layer, name) == 0:
                p.add(f"{at}.{name}", "must be > 0")
        if not layer.feature_num_mlp.hidden_units:
            p.add(f"{at}.feature_num_mlp.hidden_units", "empty", "e.g. [64]")


_CHECKS: dict[str, Callable[[_Model, _Index, _Index, Problems], None]] = {
    "deepfm": _check_deepfm,
    "wide_and_deep": _check_wide_and_deep,
    "dlrm": _check_dlrm,
    "multi_tower": _check_multi_tower,
    "mask_net": _check_mask_net,
    "mmoe": _check_mmoe,
    "dbmtl": _check_dbmtl,
    "ple": _check_ple,
    "wukong": _check_wukong,
}


def eval_metric_names(tasks: list[Task]) -> list[str]:
    """Every eval-log metric key of the tasks (``auc_ctr``, ``loss_...``)."""
    names = list(metric_routes(tasks))
    names += [eval_loss_name(s.name) for t in tasks for s in t.losses]
    return names


def _check_metric_names(
    config: pipeline_pb2.EasyRecConfig, tasks: list[Task], p: Problems
) -> None:
    names = eval_metric_names(tasks)
    ec, tc = config.export_config, config.train_config
    wanted = []
    if ec.exporter_type == "best" or ec.HasField("best_exporter_metric"):
        wanted.append(("export_config.best_exporter_metric", ec.best_exporter_metric))
    if tc.HasField("early_stopping"):
        wanted.append(
            ("train_config.early_stopping.metric_name", tc.early_stopping.metric_name)
        )
    for where, name in wanted:
        if name and name not in names:
            suffixed = [n for n in names if n.startswith(name + "_")]
            close = suffixed[:1] or difflib.get_close_matches(name, names, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            p.add(
                where,
                f'"{name}" is not an eval metric of this model',
                f"{hint}use one of {', '.join(names)}",
            )
