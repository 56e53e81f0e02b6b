"""The one error type of ``nasops search``: bad input the command reports in one line, exit 2."""

from nasops._input_error import InputError


class SearchInputError(InputError):
    """A problem with the user's input (arguments, data, output folder), not a bug.

    The command prints ``nasops search: <message>`` to stderr and exits with status 2.
    """
