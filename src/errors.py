"""The base of every problem the charm reports as the unit's status instead of failing the hook.

A bad option, a connector Dex would refuse, a Juju secret the charm may not read: the admin
can fix each of them, so each becomes a status line. The modules that find them (settings,
connectors, dex_config, rendering) raise subclasses; the charm turns `status_message` into a
status of `status_level` and never parses the text.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Level = Literal["blocked", "waiting"]


class DexAuthError(Exception):
    """Something the admin (or time) must fix; `status_message` is the line `juju status` shows.

    `details` are the lines for the log: every problem found, where the status has room for one.
    """

    status_level: ClassVar[Level] = "blocked"

    def __init__(self, status_message: str, details: tuple[str, ...] = ()) -> None:
        self.status_message = status_message
        self.details = details or (status_message,)
        super().__init__(status_message)


class OptionError(DexAuthError):
    """A charm option has a value the charm cannot use: which option, and what is wrong with it."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"config {option}: {problem}")


class NotReadyError(DexAuthError):
    """An input the leader provides (the shared secrets) is not there yet; it will be."""

    status_level: ClassVar[Level] = "waiting"
