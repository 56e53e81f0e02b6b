"""``InputError``: what every ``nasops`` command reports in one line and exits 2 on.

Each command has its own subclass (``SearchInputError``, ``TuneInputError``, ...), so a caller
can tell them apart; ``nasops.cli`` prints ``nasops <command>: <message>`` for any of them.
"""


class InputError(Exception):
    """A problem with the user's input (arguments, data, files, a trial command), not a bug.

    The message must say what was given and what is accepted.
    """

    @classmethod
    def missing_extra(cls, package: str, purpose: str, extra: str) -> "InputError":
        """The error for an optional package ``purpose`` needs, with the pip line that adds it
        (the ``nasops[extra]`` that holds it)."""
        return cls(
            f"{purpose} needs {package}, which is not installed; add it with "
            f"`pip install 'nasops[{extra}]'`"
        )
