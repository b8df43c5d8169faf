"""Pipeline config: load (text or proto-JSON), edit, validate, save, hash.

The package's public names, importable as ``from tzrec.config import ...``:

- :func:`load_pipeline_config` / :func:`save_pipeline_config` /
  :func:`config_hash` (``load``), :func:`apply_edit_config_json` (``edit``);
- :func:`validate` (``validation``: every problem at once, collected in a
  :class:`Problems` from ``problems``);
- ``UNSUPPORTED`` (``unsupported``: what parses but is not implemented);
- :func:`resolve_settings` (``settings``: typed run settings with defaults
  applied once, which runtime code reads instead of the proto).

``coverage`` checks that every config field is read or rejected.
"""

from tzrec.config.edit import apply_edit_config_json
from tzrec.config.load import config_hash, load_pipeline_config, save_pipeline_config
from tzrec.config.problems import Problems
from tzrec.config.proto_fields import feature_name_of
from tzrec.config.settings import Settings, resolve_settings
from tzrec.config.unsupported import UNSUPPORTED, UNSUPPORTED_ON_CPU, find_in_use
from tzrec.config.validation import validate

__all__ = [
    "UNSUPPORTED",
    "UNSUPPORTED_ON_CPU",
    "Problems",
    "Settings",
    "apply_edit_config_json",
    "config_hash",
    "feature_name_of",
    "find_in_use",
    "load_pipeline_config",
    "resolve_settings",
    "save_pipeline_config",
    "validate",
]
