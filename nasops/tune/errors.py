"""The one error type of ``nasops tune``: bad input the command reports in one line, exit 2."""

from nasops._input_error import InputError


class TuneInputError(InputError):
    """A problem with the user's input (arguments, storage, trial command), not a bug.

    The command prints ``nasops tune: <message>`` to stderr and exits with status 2.
    """
