"""What every blueprint's forms share: showing a service's refusal on the form, and the
photos of a reply box."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField

from app.services.errors import DomainError

# Service error fields that the forms call by another name.
FIELD_ALIASES = {"scheduled_start": "start_time", "scheduled_end": "end_time"}


def show_domain_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's refusal next to the field it is about, else above the whole form."""
    name = FIELD_ALIASES.get(error.field or "", error.field)
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        # WTForms keeps errors as a tuple until validation ran on the field.
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


class ReplyPhotos:
    """The photos of a reply box (`<input type=file name=photos multiple>`): a text may
    be only photos, so the body is required only when none is attached."""

    photos = MultipleFileField("Photos")

    def photo_bytes(self) -> list[bytes]:
        """Each chosen file's bytes (an empty chooser sends one nameless part)."""
        return [f.read() for f in (self.photos.data or []) if f and f.filename]

    def has_photos(self) -> bool:
        return any(f and f.filename for f in (self.photos.data or []))
