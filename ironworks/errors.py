"""One error tree for the platform; the API maps each class to an HTTP status.

A task's own failure (non-zero exit, timeout) is a *result* recorded on the task,
never one of these: these are for bad requests and for the platform's own faults.
"""


class IronworksError(Exception):
    """Base of every error the platform raises on purpose."""


class BadRequest(IronworksError):
    """The caller sent something malformed or out of range (HTTP 400)."""


class Unauthorized(IronworksError):
    """No token, or a token that matches nothing (HTTP 401)."""


class Forbidden(IronworksError):
    """A valid credential that may not do this (HTTP 403): a task's own API socket, say."""


class TooMany(IronworksError):
    """A limit on how many of something: a task's children (HTTP 429)."""


class NotFound(IronworksError):
    """Unknown object, or one that belongs to another project (HTTP 404)."""


class Conflict(IronworksError):
    """The object is not in a state that allows the operation (HTTP 409)."""


class TooLarge(IronworksError):
    """A payload or archive over its limit (HTTP 413)."""


class Unavailable(IronworksError):
    """A capability this installation is not set up for, or cannot serve now (HTTP 503)."""


class DecodeError(IronworksError):
    """Stored data could not be decoded into its model."""


class ConfigError(IronworksError):
    """Settings or the environment the process runs in are wrong; the process must not start."""
