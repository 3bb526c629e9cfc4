"""Errors the Rackbeat operations raise; the API turns each into Rackbeat's answer."""

from __future__ import annotations


class RackbeatError(Exception):
    status = 400

    def body(self) -> dict:
        return {"message": str(self)}


class NotFound(RackbeatError):
    status = 404

    def __init__(self, message: str = "Resource not found."):
        super().__init__(message)


class Invalid(RackbeatError):
    """422 with Laravel's ``errors`` object."""

    status = 422

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("The given data was invalid.")
        self.errors = errors

    def body(self) -> dict:
        return {"message": str(self), "errors": self.errors}


def invalid(field: str, message: str) -> Invalid:
    return Invalid({field: [message]})
