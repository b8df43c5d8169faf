"""Pipeline-config fields read by ``tzrec.datasets``.

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "DataConfig.batch_size",
    "DataConfig.dataset_type",
    "DataConfig.label_fields",
    "DataConfig.num_workers",
    "DataConfig.pin_memory",
    "DataConfig.input_fields",
    "Field.input_name",
    "Field.input_type",
    "DataConfig.delimiter",
    "DataConfig.with_header",
    "DataConfig.sample_weight_fields",
    "DataConfig.shuffle",
    "DataConfig.shuffle_buffer_size",
)
