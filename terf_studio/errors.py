"""Errors that reach the user as one line of text, never as a traceback."""


class TerfError(Exception):
    """A problem the user can act on (bad input, missing model, cancelled job).

    The command line prints ``str(error)`` on one line and exits with status 2;
    the GUI shows it in a message box.
    """


class ImageReadError(TerfError):
    """An image file is missing, empty, truncated or not an image."""


class PairMismatchError(TerfError):
    """The visible and infrared images of a pair do not have the same size."""


class ModelError(TerfError):
    """A model file is missing, unreadable or does not match the architecture."""


class CancelledError(TerfError):
    """A long job was cancelled by the user; the previous state is untouched."""
