"""The collector every config check writes to: problems with where and fix.

Checks never raise on the first problem: they add to a :class:`Problems`, so
``tzrec.config.validate`` reports everything wrong with a config at once, each
entry naming its field path. This module imports nothing else of tzrec's config
code, so every check module can depend on it without a cycle.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from tzrec.utils.errors import ConfigError, TzrecError


class Problems:
    """Errors and warnings found in one config.

    Attributes:
        errors: one error per problem (ConfigErrors, or the TzrecErrors that
            code shared with runtime reports), ``where`` being the field path.
        warnings: messages for accepted settings worth a word (logged once
            validation passes).
        invalid: paths whose value was already reported as wrong, so that a
            "not supported yet" report on the same path is redundant.

    """

    def __init__(self) -> None:
        self.errors: list[TzrecError] = []
        self.warnings: list[str] = []
        self.invalid: set[str] = set()

    def add(self, where: str, what: str, fix: str = "") -> None:
        """Records one problem.

        Args:
            where: the field path (``train_config.num_steps``).
            what: what is wrong.
            fix: how to fix it ("" when obvious).

        """
        self.errors.append(ConfigError(what, where, fix))

    def add_invalid(self, where: str, what: str, fix: str = "") -> None:
        """Records a wrong value at ``where``; later "not supported yet" skip it."""
        self.add(where, what, fix)
        self.invalid.add(where)

    def extend(self, errors: Iterable[TzrecError]) -> None:
        """Records problems found by code that reports ConfigErrors itself."""
        self.errors.extend(errors)

    def warn(self, message: str) -> None:
        """Records a warning (the config is accepted)."""
        self.warnings.append(message)

    def check_choice(self, where: str, value: str, allowed: Sequence[str]) -> None:
        """Adds an invalid-value problem when ``value`` is not in ``allowed``."""
        if value not in allowed:
            self.add_invalid(where, f'bad value "{value}"', choices(value, allowed))

    def __len__(self) -> int:
        return len(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raises one ConfigError listing every problem, if there are any.

        Raises:
            ConfigError: ``problems`` holds one entry per problem.

        """
        if self.errors:
            n = len(self.errors)
            raise ConfigError(
                f"{n} problems in the config", "pipeline config", "", self.errors
            )


def choices(value: str, allowed: Sequence[str]) -> str:
    """A fix text: the closest allowed value, then every non-empty one."""
    shown = [a for a in allowed if a]
    close = difflib.get_close_matches(value, shown, n=1)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f"{hint}use one of {', '.join(shown)}"
