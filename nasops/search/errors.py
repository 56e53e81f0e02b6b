"""The one error type of ``nasops search``: bad input the command reports in one line, exit 2."""


class SearchInputError(Exception):
    """A problem with the user's input (arguments, data, output folder), not a bug.

    The command prints ``nasops search: <message>`` to stderr and exits with status 2, so the
    message must say what was given and what is accepted.
    """


def missing_extra(package: str, purpose: str) -> SearchInputError:
    """The error for an optional package the search needs, with the pip line that adds it."""
    return SearchInputError(
        f"{purpose} needs {package}, which is not installed; add it with "
        "`pip install 'nasops[search]'`"
    )
