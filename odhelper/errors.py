"""Errors odhelper reports to the user as a clean message (no traceback)."""


class OdhelperError(Exception):
    """A problem the user can fix; the message names the file and the problem."""

    exit_code = 1


class UsageError(OdhelperError):
    """Bad flags or option values."""

    exit_code = 2
