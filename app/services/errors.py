"""Domain errors. Each carries a message fit to show to the person who caused it."""


class DomainError(Exception):
    """Base class: a request the domain refuses. Routes show `str(error)` to the user."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotAllowed(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409
