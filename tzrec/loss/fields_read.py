"""Pipeline-config fields read by ``tzrec.loss``.

Collected by ``tzrec.config.coverage``: every field of the config is either
listed in some package's FIELDS_READ or rejected by ``tzrec.config.UNSUPPORTED``.
Add a field here in the change that makes this package read it.
"""

FIELDS_READ: tuple[str, ...] = (
    "LossConfig.binary_cross_entropy",
    "BinaryCrossEntropy.label_smoothing",
    "LossConfig.softmax_cross_entropy",
    "SoftmaxCrossEntropy.label_smoothing",
    "LossConfig.l2_loss",
    "LossConfig.binary_focal_loss",
    "BinaryFocalLoss.gamma",
    "BinaryFocalLoss.alpha",
    "LossConfig.jrc_loss",
    "JRCLoss.session_name",
    "JRCLoss.alpha",
)
