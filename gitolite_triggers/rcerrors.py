"""The one exception every rc problem becomes, so commands can fail closed on it."""


class RcError(Exception):
    """The rc (or a fragment) is unreadable or invalid; the message names file and line."""
