"""How large a request may be.

Every request is capped at `MAX_CONTENT_LENGTH` (1 MB: a webhook or a form is a few KB;
Twilio's signed posts were stored whole up to the old 8 MB). A view that takes an upload
says how much it needs with `@accepts_upload(bytes)`. The request reads the limit of the
view its URL matched, so the limit holds from the first byte read, including CSRF's look
at the form before the view runs. Over the limit is a 413 (app/errors.py says the limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Request, current_app

F = TypeVar("F", bound=Callable)

# Room for the multipart framing and the form's other fields around a file.
FORM_OVERHEAD = 64 * 1024


def accepts_upload(max_file_bytes: int) -> Callable[[F], F]:
    """Let this view's requests carry a file of up to `max_file_bytes`. Put it right under
    the route decorator (the function the route registers carries the limit)."""

    def mark(view: F) -> F:
        view.max_content_length = max_file_bytes + FORM_OVERHEAD  # type: ignore[attr-defined]
        return view

    return mark


class LimitedRequest(Request):
    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and current_app and self.endpoint:
            view = current_app.view_functions.get(self.endpoint)
            limit = getattr(view, "max_content_length", None)
            if limit is not None:
                return limit
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value
