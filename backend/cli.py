"""The project's commands on the app's CLI (users, fixity, text of documents, worker, config table); each command that changes
anything is one unit of work. The ``liufang`` entry point itself is ``backend.manage``."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from backend import transaction
from backend.config import settings_table_markdown
from backend.errors import LiufangError
from backend.extensions import db, queue
from backend.models import ROLES, Import, User
from backend.services import imports, jobs, material_text, policy, search_index
from backend.services import persons as person_service
from backend.services import materials as material_service
from backend.services import oai as oai_service
from backend.services import users as user_service


def init_app(app: Flask) -> None:
    """Attach the project's commands to ``app.cli`` (so `liufang`, `flask` and test runners all see them)."""
    for command in (users, fixity, text, archival, oai, search, worker_command, config_table_command,
                    permissions_table_command, import_command):
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
def text() -> None:
    """The text of photos and PDFs (OCR, PDF text layers)."""


@text.command("read")
@click.option("--material", "material_ids", type=int, multiple=True,
              help="Read these material ids again (default: every processed photo and PDF without text yet).")
@click.option("--engine", type=click.Choice(["rapidocr", "tesseract"]), default=None,
              help="OCR engine (default: LIUFANG_OCR_ENGINE).")
@with_appcontext
def text_read_command(material_ids: tuple[int, ...], engine: str | None) -> None:
    """Queue OCR jobs (workers run them); each reading is a new revision of the material's text."""
    with transaction.atomic():
        queued = material_text.queue_reading(list(material_ids) or None, engine)
    click.echo(f"queued {len(queued)} OCR jobs")


@click.group()
def oai() -> None:
    """The OAI-PMH provider's ledger of published records."""


@oai.command("refresh")
@with_appcontext
def oai_refresh_command() -> None:
    """Bring the ledger up to date now (otherwise the next harvest does it): worth running once before the first
    harvest of a large archive, when every public record is read."""
    with transaction.atomic():
        oai_service.refresh()
    with transaction.atomic():
        live, deleted = oai_service.totals()
    click.echo(f"OAI-PMH ledger up to date: {live} records, {deleted} deleted")


@click.group("archival-codes")
def archival() -> None:
    """Archival reference codes (档号)."""


@archival.command("assign-missing")
@with_appcontext
def assign_missing_command() -> None:
    """Give approved profiles and interviews that have no 档号 yet (approved before codes existed) their codes,
    oldest approval first, each in the series of its approval's year."""
    with transaction.atomic():
        assigned = person_service.assign_missing_codes()
    for kind, record_id, code in assigned:
        click.echo(f"{kind} {record_id}: {code}")
    click.echo(f"{len(assigned)} codes assigned")


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


@search.command("statistics")
@with_appcontext
def search_statistics_command() -> None:
    """Work out again how common each term is (the weights of a query's words; also done nightly and by reindex)."""
    with transaction.atomic():
        documents = search_index.refresh_statistics()
    click.echo("statistics of " + ", ".join(f"{number} {kind} documents" for kind, number in documents.items()))


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


_SEVERITY = {"error": "错误", "warning": "提示"}


def _problem_line(problem: dict[str, Any]) -> str:
    where = f"第 {problem['row']} 行" if problem["row"] else "清单"
    column = f" [{problem['column']}]" if problem["column"] else ""
    value = f"（{problem['value']}）" if problem.get("value") else ""
    return f"{_SEVERITY[problem['severity']]}\t{where}{column} {problem['code']}: {problem['message']}{value}"


def _write_report(path: Path, problems: list[dict[str, Any]], counts: dict[str, Any]) -> None:
    if path.suffix.lower() == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as out:  # with a BOM, so Excel reads it as UTF-8
            writer = csv.writer(out)
            writer.writerow(["行/row", "列/column", "级别/severity", "代码/code", "说明/message", "值/value"])
            for problem in problems:
                writer.writerow([problem["row"] or "", problem["column"] or "", problem["severity"], problem["code"],
                                 problem["message"], problem.get("value") or ""])
    else:
        path.write_text(json.dumps({"counts": counts, "problems": problems}, ensure_ascii=False, indent=2),
                        encoding="utf-8")


def _print_report(problems: list[dict[str, Any]], counts: dict[str, Any]) -> None:
    for problem in problems:
        click.echo(_problem_line(problem))
    click.echo(f"{counts.get('rows', 0)} 行（人物 {counts.get('persons', 0)}、访谈 {counts.get('interviews', 0)}、"
               f"文件 {counts.get('files', 0)}）；已导入过 {counts.get('already_imported', 0)} 行；"
               f"错误 {counts.get('errors', 0)}，提示 {counts.get('warnings', 0)}")


class _Ticker:
    """Progress on standard error, at most every two seconds."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, percent: float) -> None:
        now = time.monotonic()
        if now - self._last >= 2.0:
            self._last = now
            click.echo(f"… {percent:.0f}%", err=True)


@click.command("import")
@click.argument("directory", type=click.Path(exists=True, path_type=Path))
@click.option("--manifest", "manifest", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="清单 manifest: .csv (UTF-8 or GB18030) or .xlsx (first sheet). Leave it out to import a Liufang "
                   "preservation package (its bag folder or zip).")
@click.option("--dry-run", is_flag=True, help="Only check: report every problem, write nothing.")
@click.option("--as", "username", required=True, help="The archivist the import is done as (audit, owner).")
@click.option("--batch", default=None, help="Batch name: with each row's ref, its import key (default: the "
                                            "manifest's file name without extension). Rerun with the same one.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the problems to this file (.json or .csv).")
@with_appcontext
def import_command(directory: Path, manifest: Path | None, dry_run: bool, username: str, batch: str | None,
                   report_path: Path | None) -> None:
    """Import a legacy collection: DIRECTORY (or a .zip) holds the files the MANIFEST's rows name; or a Liufang
    preservation package (a bag, as a folder or zip) without a manifest.

    Rows of persons, interviews and files (see the README's “Bulk import”). The real run checks first and
    imports nothing if the manifest has errors; it is resumable: run it again after an interruption and rows
    already imported are skipped."""
    actor = db.session.scalar(select(User).where(User.username == username))
    if actor is None or not actor.is_active or not policy.can(actor, policy.Permission.IMPORT_RUN):
        raise click.ClickException(f"{username}: no active account allowed to import (archivist or admin)")
    if manifest is None and not imports.is_liufang_package(directory):
        raise click.ClickException("--manifest is needed (only a Liufang preservation package comes without one)")
    ticker = _Ticker()
    if dry_run:
        steps = imports.check_local(actor, source=directory, manifest=manifest, batch=batch,
                                    scratch=imports.scratch_dir())
        try:
            while True:
                ticker(100 * next(steps))
        except StopIteration as done:
            plan: imports.Plan = done.value
        finally:
            transaction.rollback()  # a dry run writes nothing
        problems = [problem.to_dict() for problem in plan.report.problems]
        counts = imports.summary_counts(plan, None)
        _print_report(problems, counts)
        if report_path is not None:
            _write_report(report_path, problems, counts)
        if plan.report.errors:
            raise SystemExit(1)
        click.echo("检查通过：可以去掉 --dry-run 正式导入")
        return
    with transaction.atomic():
        record = imports.create_local_import(actor, source=directory, manifest=manifest, batch=batch)
        record_id = record.id
    click.echo(f"导入 #{record_id}：批次“{record.batch}”")
    steps = imports.run_record(record_id)
    try:
        while True:
            with transaction.atomic():
                try:
                    ticker(next(steps))
                except StopIteration:
                    break
    except BaseException as exc:
        reason = exc.message if isinstance(exc, LiufangError) else f"{type(exc).__name__}: {exc}"
        with transaction.atomic():
            failed = db.session.get(Import, record_id)
            if failed is not None:
                imports.mark_ended(failed, "failed", reason[:2000])
        click.echo(f"导入中断：{reason}；已导入的行已保存，再次运行同一命令即可从中断处继续", err=True)
        raise SystemExit(1) from None
    with transaction.atomic():
        record = db.session.get(Import, record_id)
        assert record is not None
        _print_report(record.problems, record.counts)
        if report_path is not None:
            _write_report(report_path, record.problems, record.counts)
        created = record.counts.get("created") or {}
        if record.status != "succeeded":
            click.echo(f"未导入：{record.error}", err=True)
            raise SystemExit(1)
        click.echo(f"导入完成：新建人物 {created.get('person', 0)}、访谈 {created.get('interview', 0)}、资料 "
                   f"{created.get('material', 0)}；关联已有资料 {record.counts.get('linked_existing', 0)}；"
                   f"跳过已导入 {record.counts.get('skipped', 0)}")
