"""The ``liufang`` command: Flask's CLI around the app factory, with the project's commands from ``backend.cli``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from backend import create_app


def _create_app(*_args: object) -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """留芳 Liufang: oral-history and person-archive backend."""
