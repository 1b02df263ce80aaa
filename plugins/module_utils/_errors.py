# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors raised by module_utils; modules turn them into fail_json."""

from __future__ import annotations

__all__ = ["OcistackError", "OptionError", "ToolError"]


class OcistackError(Exception):
    """Base class: the message is what the user reads."""


class OptionError(OcistackError):
    """A module option has a bad value. The message names the option and what to do."""

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(f"{option}: {message}")


class ToolError(OcistackError):
    """An engine binary (ctr, runc, ...) failed; keeps the command and its output."""

    def __init__(self, message: str, cmd: list[str] | None = None, rc: int | None = None, stderr: str = "") -> None:
        self.cmd = cmd or []
        self.rc = rc
        self.stderr = stderr
        super().__init__(message)
