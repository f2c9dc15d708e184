"""The project's commands on the app's CLI (users, fixity, worker, config table); each command that changes
anything is one unit of work. The ``liufang`` entry point itself is ``backend.manage``."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend import transaction
from backend.config import settings_table_markdown
from backend.errors import LiufangError
from backend.extensions import queue
from backend.models import ROLES
from backend.services import jobs, policy, search_index
from backend.services import materials as material_service
from backend.services import users as user_service


def init_app(app: Flask) -> None:
    """Attach the project's commands to ``app.cli`` (so `liufang`, `flask` and test runners all see them)."""
    for command in (users, fixity, search, worker_command, config_table_command, permissions_table_command):
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
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with transaction.atomic():
            user = user_service.create_user(None, username=username, password=password, roles=roles,
                                            display_name=display_name)
    except LiufangError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    click.echo(f"created user {user.username} (id {user.id}) with roles {', '.join(user.roles)}")


@users.command("list")
@with_appcontext
def list_users_command() -> None:
    """List accounts."""
    page = user_service.list_users(role=None, active=None, q=None, page=1, per_page=100)
    for user in page.items:
        state = "active" if user.is_active else "disabled"
        click.echo(f"{user.id}\t{user.username}\t{','.join(user.roles)}\t{state}\t{user.display_name}")


@users.command("ensure-admin")
@with_appcontext
def ensure_admin_command() -> None:
    """Create an admin with a random password if none exists, and print the password once."""
    with transaction.atomic():
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
    with transaction.atomic():
        events = material_service.check_fixity(list(material_ids) or None)
    bad = [event for event in events if event.outcome != "ok"]
    for event in bad:
        click.echo(f"{event.outcome.upper()}\tmaterial {event.material_id}\texpected {event.expected_sha256}"
                   f"\tgot {event.actual_sha256 or '-'}\t{event.detail or ''}")
    click.echo(f"checked {len(events)} originals: {len(events) - len(bad)} ok, {len(bad)} with problems")
    if bad:
        raise SystemExit(1)


@click.group()
def search() -> None:
    """The full-text search index."""


@search.command("reindex")
@click.option("--batch", type=int, default=5000, show_default=True, help="Records read per query.")
@with_appcontext
def search_reindex_command(batch: int) -> None:
    """Build the search index anew from every segment, profile, material and interview (one transaction)."""
    with transaction.atomic():
        count = search_index.rebuild(batch)
    click.echo(f"indexed {count} documents")


@click.command("worker")
@click.option("--workers", "-w", type=int, default=None, help="Concurrent workers (default LIUFANG_WORKERS).")
@click.option("--worker-type", type=click.Choice(["thread", "process"]), default="process", show_default=True)
@click.option("--no-periodic", is_flag=True, help="Do not run periodic tasks in this worker.")
@with_appcontext
def worker_command(workers: int | None, worker_type: str, no_periodic: bool) -> None:
    """Run a background worker (Huey consumer). Start as many as you like, on any machine sharing the queue."""
    assert queue.huey is not None
    with transaction.atomic():
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
    click.echo(settings_table_markdown())


@click.command("permissions-table")
def permissions_table_command() -> None:
    """Print the permission table (Markdown) that the README shows: which role holds which permission."""
    click.echo(policy.permission_table_markdown())
