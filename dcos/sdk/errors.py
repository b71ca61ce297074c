"""The errors the SDK's drivers raise (shared by the scheduler and executor drivers and the
framework layer, which logs them by kind)."""

from __future__ import annotations


class DriverError(Exception):
    """Base of the errors a driver call raises."""


class NotConnected(DriverError):
    """The driver is not subscribed (or the connection broke during the call)."""


class CallRejected(DriverError):
    """The master answered a call with a non-2xx status (400: a malformed call)."""

    def __init__(self, call_type: str, status: int, message: str) -> None:
        super().__init__(f"{call_type} rejected by master ({status}): {message}")
        self.call_type = call_type
        self.status = status
        self.message = message
