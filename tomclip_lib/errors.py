"""The one exception type that tomclip raises for problems a user can fix."""


class TomclipError(RuntimeError):
    """A problem with the user's input, configuration or assets.

    The message says what was wrong, where (file, parameter or asset), and what to do about it;
    it is meant to be read by a person, so callers let it propagate instead of wrapping it.
    """


def optional_dependency(module: str, extra: str, purpose: str):
    """Import `module`, a package that only some functions of the engine need, or say which
    extra of tomclip installs it: `pip install tomclip` alone brings torch, numpy and numba."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TomclipError(
            f"{purpose} needs the package that provides `import {module}`, which is not installed: "
            f"pip install 'tomclip[{extra}]'"
        ) from None
