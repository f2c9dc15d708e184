"""The ``liufang`` command: Flask's CLI for the app plus users, worker and admin bootstrap commands."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from backend import create_app
from backend.errors import LiufangError
from backend.models import ROLES


def _create_app(*_args: object) -> object:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """留芳 Liufang: oral-history and person-archive backend."""


def init_app(app: Flask) -> None:
    """Attach the project's commands to ``app.cli`` (so `liufang`, `flask` and test runners all see them)."""
    for command in (users, fixity, worker_command, config_table_command):
        app.cli.add_command(command)


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Repeat for several roles.")
@click.option("--display-name", default="", help="Name shown in the apps (e.g. 王芳).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user_command(username: str, roles: tuple[str, ...], display_name: str, password_stdin: bool) -> None:
    """Create an account, e.g. `liufang users create wangfang --role collector --password-stdin`."""
    from backend.services import users as user_service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = user_service.create_user(None, username=username, password=password, roles=roles,
                                        display_name=display_name)
    except LiufangError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    click.echo(f"created user {user.username} (id {user.id}) with roles {', '.join(user.roles)}")


@users.command("list")
@with_appcontext
def list_users_command() -> None:
    """List accounts."""
    from backend.services import users as user_service

    page = user_service.list_users(role=None, active=None, q=None, page=1, per_page=100)
    for user in page.items:
        state = "active" if user.is_active else "disabled"
        click.echo(f"{user.id}\t{user.username}\t{','.join(user.roles)}\t{state}\t{user.display_name}")


@users.command("ensure-admin")
@with_appcontext
def ensure_admin_command() -> None:
    """Create an admin with a random password if none exists, and print the password once."""
    from backend.services import users as user_service

    created = user_service.ensure_admin()
    if created is None:
        click.echo("an active admin account exists; nothing created")
        return
    user, password = created
    click.echo("=" * 60)
    click.echo("Created the first administrator account (shown only once):")
    click.echo(f"  username: {user.username}")
    click.echo(f"  password: {password}")
    click.echo("=" * 60)


@click.group()
def fixity() -> None:
    """Check stored originals against their SHA-256."""


@fixity.command("check")
@click.option("--material", "material_ids", type=int, multiple=True, help="Only these material ids.")
@with_appcontext
def fixity_check_command(material_ids: tuple[int, ...]) -> None:
    """Re-hash stored originals; report mismatches and missing objects (exit 1 if any). Results are kept."""
    from backend.services import materials as material_service

    events = material_service.check_fixity(list(material_ids) or None)
    bad = [event for event in events if event.outcome != "ok"]
    for event in bad:
        click.echo(f"{event.outcome.upper()}\tmaterial {event.material_id}\texpected {event.expected_sha256}"
                   f"\tgot {event.actual_sha256 or '-'}\t{event.detail or ''}")
    click.echo(f"checked {len(events)} originals: {len(events) - len(bad)} ok, {len(bad)} with problems")
    if bad:
        raise SystemExit(1)


@click.command("worker")
@click.option("--workers", "-w", type=int, default=None, help="Concurrent workers (default LIUFANG_WORKERS).")
@click.option("--worker-type", type=click.Choice(["thread", "process"]), default="process", show_default=True)
@click.option("--no-periodic", is_flag=True, help="Do not run periodic tasks in this worker.")
@with_appcontext
def worker_command(workers: int | None, worker_type: str, no_periodic: bool) -> None:
    """Run a background worker (Huey consumer). Start as many as you like, on any machine sharing the queue."""
    from backend.extensions import queue
    from backend.services import jobs

    assert queue.huey is not None
    requeued = jobs.requeue_stale()  # jobs of a worker that died while this one was down
    if requeued:
        click.echo(f"queued again {len(requeued)} job(s) left running by a stopped worker")
    consumer = queue.huey.create_consumer(workers=workers or current_app.config["QUEUE_WORKERS"],
                                          worker_type=worker_type, periodic=not no_periodic,
                                          check_worker_health=True)
    click.echo(f"liufang worker: {consumer.workers} {worker_type} worker(s); tasks: {', '.join(queue.task_names)}")
    consumer.run()


@click.command("config-table")
def config_table_command() -> None:
    """Print the configuration table (Markdown) that the README shows."""
    from backend.config import settings_table_markdown

    click.echo(settings_table_markdown())
