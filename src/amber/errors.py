"""The exceptions Amber raises on purpose.

Every one of them carries a message meant for a person: the command line prints it as a single
``amber: error: ...`` line and exits with code 2, never a traceback from Amber's internals.
This module imports nothing, so the restore path can use it.
"""


class AmberError(Exception):
    """Base of every error Amber reports to the user."""


class ImageError(AmberError):
    """An image cannot be used: not an image, damaged, truncated, or made for another interpreter."""


class CaptureError(AmberError):
    """The program's state cannot be captured; the message lists every offender with its path."""


class UsageError(AmberError):
    """The command line or an API call was used wrongly."""


class RestoreError(AmberError):
    """The image was valid but the restoring process could not be set up from it."""
