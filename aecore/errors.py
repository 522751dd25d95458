"""The one base class for "the user can fix this": the CLI, the training jobs and the app all catch
:class:`UserError` and show its message as one plain line; anything else is a bug and gets a traceback
(in the app, in the server log only)."""


class UserError(Exception):
    """An input or a situation the user can act on; the message is one line saying what and how."""


class InputError(UserError, ValueError):
    """A value outside what a function accepts (also a ValueError, for callers that expect one)."""
