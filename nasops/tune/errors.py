"""The one error type of ``nasops tune``: bad input the command reports in one line, exit 2."""


class TuneInputError(Exception):
    """A problem with the user's input (arguments, storage, trial command), not a bug.

    The command prints ``nasops tune: <message>`` to stderr and exits with status 2, so the
    message must say what was given and what is accepted.
    """


def missing_extra(package: str, purpose: str) -> TuneInputError:
    """The error for an optional package the tuner needs, with the pip line that adds it."""
    return TuneInputError(
        f"{purpose} needs {package}, which is not installed; add it with "
        "`pip install 'nasops[tune]'`"
    )
