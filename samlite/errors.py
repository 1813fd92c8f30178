"""The one error hierarchy. Only `cli.main()` catches these and turns them into exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID_TEMPLATE = 3
    FUNCTION_ERROR = 4
    ENGINE_UNREACHABLE = 5
    TIMEOUT = 124
    INTERRUPTED = 130


class SamliteError(Exception):
    """A user-facing error: a message that says where and what, and an optional hint (what next)."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SamliteError):
    exit_code = ExitCode.USAGE


class TemplateError(SamliteError):
    """The template is invalid; carries every problem found."""

    exit_code = ExitCode.INVALID_TEMPLATE

    def __init__(self, message: str, problems: list | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.problems = list(problems or [])


class BuildError(SamliteError):
    exit_code = ExitCode.ERROR


class DeployError(SamliteError):
    exit_code = ExitCode.ERROR


class NotFoundError(SamliteError):
    exit_code = ExitCode.ERROR


class EngineUnreachable(SamliteError):
    exit_code = ExitCode.ENGINE_UNREACHABLE


class FunctionError(SamliteError):
    """The invoked function raised or timed out; the CLI still prints the error payload."""

    exit_code = ExitCode.FUNCTION_ERROR


class StateError(SamliteError):
    """$SAMLITE_HOME is corrupt, foreign or locked."""

    exit_code = ExitCode.ERROR
