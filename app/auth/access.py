"""Who may open what. Every view states its rule once, with one of these decorators."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import abort
from flask_login import current_user, login_required

from app.models import Role

F = TypeVar("F", bound=Callable[..., object])


def roles_required(*roles: str) -> Callable[[F], F]:
    """Logged in, and one of `roles`; anyone else gets 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


office_required = roles_required(*Role.OFFICE_ROLES)
manager_required = roles_required(*Role.MANAGERS)
any_role_required = roles_required(*Role.ALL)
