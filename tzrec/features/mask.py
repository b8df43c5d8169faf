"""``use_mask``: features hidden from some training samples.

TorchEasyRec's feature masking: while training, each sample is drawn with
probability ``data_config.sample_mask_prob``, and for a drawn sample every
feature with ``use_mask: true`` reads its (first) input column as missing,
so it takes its default (an empty bag, ``default_value``, or 0). The model
learns not to lean on those features alone. Evaluation and prediction never
mask. Map columns (lookup maps) are not masked, as in TorchEasyRec; the key
column is the first input of a lookup feature, so a masked lookup finds
nothing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tzrec.features.feature import BaseFeature
from tzrec.features.lookup_feature import LookupFeature


def uses_mask(feature: BaseFeature) -> bool:
    """Whether the feature is configured with ``use_mask``."""
    fields = feature.config.DESCRIPTOR.fields_by_name
    return "use_mask" in fields and bool(feature.config.use_mask)


def masked_columns(
    columns: dict[str, pa.Array], features: list[BaseFeature], drawn: np.ndarray
) -> dict[str, pa.Array]:
    """``columns`` with the first input of each masked feature null where ``drawn``.

    Args:
        columns: the batch's columns by name.
        features: the features with ``use_mask``.
        drawn: bool [B], the samples to mask.

    Returns:
        A new dict; the other columns are the same objects.
    """
    out = dict(columns)
    mask = pa.array(drawn)
    for f in features:
        names = [n for n in f.inputs if n in out and not pa.types.is_map(out[n].type)]
        if not names:
            continue
        name = names[-1] if isinstance(f, LookupFeature) else names[0]
        col = out[name]
        out[name] = pc.if_else(mask, pa.nulls(len(col), col.type), col)
    return out
