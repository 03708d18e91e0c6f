"""The one exception type that tomclip raises for problems a user can fix."""


class TomclipError(RuntimeError):
    """A problem with the user's input, configuration or assets.

    The message says what was wrong, where (file, parameter or asset), and what to do about it;
    it is meant to be read by a person, so callers let it propagate instead of wrapping it.
    """
