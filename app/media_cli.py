"""`flask media check`: write, read and delete one small object in the media store, so an
operator sees at once whether MEDIA_STORE and the S3_* settings work (the app does not
call the store when it starts). See docs/media.md.
"""

from __future__ import annotations

import secrets

import click
from flask import current_app
from flask.cli import AppGroup

from app.services import media_store

media_cli = AppGroup("media", help="The media store (pictures and files of texts).")


def _where() -> str:
    config = current_app.config
    if config["MEDIA_STORE"] != "s3":
        return f"MEDIA_STORE=local: {media_store.path_of(f'{media_store.ROOT}/x').parent}"
    endpoint = config["S3_ENDPOINT_URL"] or "AWS"
    prefix = f", prefix {config['S3_PREFIX']!r}" if config["S3_PREFIX"] else ""
    return f"MEDIA_STORE=s3: bucket {config['S3_BUCKET']!r} at {endpoint}{prefix}"


@media_cli.command("check")
def check_command() -> None:
    """Write, read back and delete a small object; exit 1 with the store's reason if not."""
    click.echo(_where())
    data = f"prosms media check {secrets.token_hex(8)}".encode()
    # Company 0 is never a real company: the object cannot collide with anyone's media.
    try:
        key = media_store.save(data, company_id=0, extension="txt")
        click.echo(f"  wrote  {key}")
        if media_store.read(key) != data:
            raise click.ClickException(f"{key} did not read back as written.")
        click.echo("  read it back")
        media_store.delete(key)
        if media_store.exists(key):
            raise click.ClickException(f"{key} is still there after delete.")
        click.echo("  deleted it")
    except media_store.MediaStoreUnavailable as error:
        raise click.ClickException(error.message) from error
    click.echo("The media store works.")
