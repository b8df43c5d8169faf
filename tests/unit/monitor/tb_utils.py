"""Reading TensorBoard runs back with tensorboard's own reader."""


def read_tb(log_dir: str):
    """Loads a TensorBoard run folder with tensorboard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    acc = EventAccumulator(
        log_dir, size_guidance={"scalars": 0, "histograms": 0, "tensors": 0}
    )
    acc.Reload()
    return acc


def scalar_points(acc, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def hparams_data(acc):
    """The hparams plugin entries of a run, parsed."""
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    content = acc.PluginTagToContent("hparams")
    return {tag: HParamsPluginData.FromString(raw) for tag, raw in content.items()}
