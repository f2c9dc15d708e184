"""One unit of work per request and per job run: a failure anywhere rolls everything back, queue messages leave
only after the commit that created their job, and an Idempotency-Key answer is stored with the change it reports."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from backend.extensions import db
from backend.models import AuditEvent, IdempotencyRecord, Job, Material, Person
from tests.api.helpers import assert_error, tiny_png

pytestmark = pytest.mark.both_databases  # rollbacks, advisory locks on PostgreSQL, commits seen from another connection


def _count(app: Any, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _post_person(client: Any, headers: dict[str, str], name: str = "郑九") -> Any:
    return client.post("/api/v1/persons", json={"category": "good_person", "name": name}, headers=headers)


@pytest.fixture
def no_propagation(app: Any) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an unexpected error answers 500, as in production


# --- Idempotency-Key -------------------------------------------------------------------------------------------------

def test_crash_between_the_change_and_its_reply_then_retry_creates_once(app, client, auth, monkeypatch,
                                                                        no_propagation):
    from backend.services import idempotency

    headers = {**auth("collector"), "Idempotency-Key": "phone-7-create-1"}

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process died after the change, before the reply was stored")

    with monkeypatch.context() as patched:
        patched.setattr(idempotency, "store", crash)
        assert_error(_post_person(client, headers), 500, "internal_error")
    assert _count(app, Person) == 0, "the change went with the failed unit of work"
    assert _count(app, IdempotencyRecord) == 0

    retried = _post_person(client, headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    replayed = _post_person(client, headers)
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json()["id"] == retried.get_json()["id"]
    assert _count(app, Person) == 1
    with app.app_context():
        creates = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "person",
                                                              AuditEvent.action == "create")).all()
        assert len(creates) == 1


def test_reply_lost_after_the_commit_is_replayed_not_redone(app, client, auth):
    """The commit held both the change and the reply: a phone that never heard the answer gets the same one."""
    headers = {**auth("collector"), "Idempotency-Key": "phone-7-create-2"}
    first = _post_person(client, headers)
    with app.app_context():
        stored = db.session.scalar(select(IdempotencyRecord))
        person = db.session.get(Person, first.get_json()["id"])
        assert stored is not None and person is not None and stored.status_code == 201
    again = _post_person(client, headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == first.get_data()
    assert _count(app, Person) == 1


def test_a_failure_inside_the_change_leaves_no_trace_and_no_key(app, client, auth, monkeypatch, no_propagation):
    from backend.services import audit

    real_record = audit.record

    def record_then_fail(*args: Any, **kwargs: Any) -> Any:
        real_record(*args, **kwargs)
        raise RuntimeError("disk full while writing the audit trail")

    headers = {**auth("collector"), "Idempotency-Key": "phone-7-create-3"}
    with monkeypatch.context() as patched:
        patched.setattr(audit, "record", record_then_fail)
        assert_error(_post_person(client, headers), 500)
    with app.app_context():
        person_events = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "person"))
    assert (_count(app, Person), person_events, _count(app, IdempotencyRecord)) == (0, 0, 0)
    assert _post_person(client, headers).status_code == 201


def test_a_domain_error_rolls_back_what_the_request_had_done(app, client, auth):
    """A transition that fails its checklist after the row lock leaves the profile exactly as it was."""
    person = _post_person(client, auth("collector"), "孙十二").get_json()
    url = f"/api/v1/persons/{person['id']}"
    for action, who in (("submit", "collector"), ("approve", "archivist")):
        etag = client.get(url, headers=auth(who)).headers["ETag"]
        assert client.post(f"{url}/{action}", headers={**auth(who), "If-Match": etag}).status_code == 200
    before = client.get(url, headers=auth("archivist"))
    assert_error(client.post(f"{url}/publish", headers={**auth("archivist"), "If-Match": before.headers["ETag"]}),
                 409, "publication_checklist")
    after = client.get(url, headers=auth("archivist"))
    assert after.get_json() == before.get_json() and after.headers["ETag"] == before.headers["ETag"]


# --- queue messages --------------------------------------------------------------------------------------------------

class QueueRecorder:
    """Stands in for the queue: records each message and whether its job row was already committed when it left."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[tuple[str, tuple[Any, ...], bool]] = []

    def __call__(self, name: str, *args: Any, **_kwargs: Any) -> None:
        with db.engine.connect() as other_connection:  # not the request's session: sees committed rows only
            committed = other_connection.execute(text("SELECT count(*) FROM jobs WHERE id = :id"),
                                                 {"id": args[0]}).scalar() == 1
        self.sent.append((name, args, committed))


@pytest.fixture
def recorder(app: Any, monkeypatch: pytest.MonkeyPatch) -> QueueRecorder:
    from backend.extensions import queue

    recording = QueueRecorder(app)
    monkeypatch.setattr(queue, "enqueue", recording)
    return recording


def _upload(client: Any, headers: dict[str, str], seed: int) -> Any:
    import io

    data = {"file": (io.BytesIO(tiny_png(seed)), "证书.png")}
    return client.post("/api/v1/materials", data=data, content_type="multipart/form-data", headers=headers)


def test_the_processing_message_leaves_after_the_commit_of_its_job(app, client, auth, recorder):
    response = _upload(client, auth("collector"), 11)
    assert response.status_code == 201
    assert len(recorder.sent) == 1
    name, (job_id,), committed = recorder.sent[0]
    assert name == "run_job" and committed, "the worker must find the job row when the message arrives"
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.kind == "process_material" and job.material_id == response.get_json()["id"]


def test_no_message_after_a_rollback(app, client, auth, recorder, monkeypatch, no_propagation):
    from backend.services import materials

    def fail_after_submit(*args: Any, **kwargs: Any) -> Any:
        real_submit(*args, **kwargs)
        raise RuntimeError("storage failed after the job was recorded")

    real_submit = materials.jobs.submit
    monkeypatch.setattr(materials.jobs, "submit", fail_after_submit)
    assert_error(_upload(client, auth("collector"), 12), 500)
    assert recorder.sent == []
    assert (_count(app, Job), _count(app, Material)) == (0, 0)


# --- job runs --------------------------------------------------------------------------------------------------------

def _queued_job(app: Any, kind: str) -> str:
    with app.app_context():
        job = Job(id=f"test-{kind}", kind=kind, status="queued", params={}, max_attempts=2)
        db.session.add(job)
        db.session.commit()
        return job.id


def test_a_failed_attempt_keeps_none_of_its_work_and_is_retried(app, users, recorder):
    from backend.jobs import runner
    from backend.services.jobs import JobHandler, PermanentFailure

    attempts: list[int] = []

    def flaky(job: Job, progress: Any) -> dict[str, Any]:
        attempts.append(job.attempts)
        db.session.add(AuditEvent(entity_type="test", entity_id=str(job.attempts), action="half-done"))
        progress(50)
        if job.attempts == 1:
            raise RuntimeError("the network share went away")
        raise PermanentFailure("the file is damaged")

    job_id = _queued_job(app, "flaky")
    with app.app_context():
        runner.run(job_id, {"flaky": JobHandler(run=flaky)})
        job = db.session.get(Job, job_id)
        assert (job.status, job.attempts, job.error) == ("queued", 1, "RuntimeError: the network share went away")
        assert recorder.sent == [("run_job", (job_id,), True)], "queued again, once its new state was committed"
        runner.run(job_id, {"flaky": JobHandler(run=flaky)})
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        assert (job.status, job.attempts, job.error) == ("failed", 2, "the file is damaged")
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "test")) == 0, "neither attempt's work was kept"
    assert attempts == [1, 2]


def test_a_job_runs_once_even_if_its_message_comes_twice(app, users, recorder):
    from backend.jobs import runner
    from backend.services.jobs import JobHandler

    runs: list[str] = []

    def work(job: Job, _progress: Any) -> dict[str, Any]:
        runs.append(job.id)
        return {"done": True}

    job_id = _queued_job(app, "once")
    with app.app_context():
        runner.run(job_id, {"once": JobHandler(run=work)})
        runner.run(job_id, {"once": JobHandler(run=work)})
        job = db.session.get(Job, job_id)
        assert (job.status, job.attempts, job.result) == ("succeeded", 1, {"done": True})
    assert runs == [job_id]
