"""Cost of the search index per profile edit: a PATCH with the most aliases the API takes (20 × 50 characters)
beside a PATCH of the biography alone (the reference, same run), and the 50 long aliases that used to be taken."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds

    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from backend import create_app, transaction
    from backend.extensions import db
    from backend.models import PersonSearchTerm
    from backend.services.persons import MAX_ALIAS_LENGTH, MAX_ALIASES
    from backend.services.users import create_user

    folder = tempfile.mkdtemp(prefix="liufang-alias-bench-")
    app = create_app({"SECRET_KEY": "bench-secret-key-long-enough-for-hs256", "INSTANCE_PATH": folder,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "QUEUE_URL": "memory",
                      "PASSWORD_HASH_PROFILE": "test", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        with transaction.atomic():
            editor = create_user(None, username="editor", password="bench-password-1", roles=["editor"])
        headers = {"Authorization": f"Bearer {create_access_token(identity=str(editor.id))}"}
    client = app.test_client()
    rng = random.Random(1)
    hanzi = [chr(code) for code in range(0x4E00, 0x9FA5)]

    def aliases(count: int, length: int) -> list[str]:
        return ["".join(rng.choice(hanzi) for _ in range(length)) for _ in range(count)]

    def timed_patch(person_id: int, version: int, body: dict) -> tuple[float, int, int]:
        data = json.dumps(body, ensure_ascii=False).encode()
        started = time.perf_counter()
        response = client.patch(f"/api/v1/persons/{person_id}", data=data, content_type="application/json",
                                headers={**headers, "If-Match": f'"{version}"'})
        return (time.perf_counter() - started) * 1000, response.status_code, len(data)

    def terms(person_id: int) -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).where(PersonSearchTerm.person_id == person_id)) or 0

    results: dict[str, list[float]] = {"biography only (reference)": [], f"{MAX_ALIASES} × {MAX_ALIAS_LENGTH}": [],
                                       "one alias changed": [], "50 × 128 (refused)": []}
    rows, statuses = {}, {}
    for _ in range(rounds):
        person = client.post("/api/v1/persons", json={"category": "good_person", "name": "王秀英"},
                             headers=headers).get_json()
        pid = person["id"]
        for label, body in (("biography only (reference)", {"biography": "生平" * 500}),
                            (f"{MAX_ALIASES} × {MAX_ALIAS_LENGTH}", {"aliases": aliases(MAX_ALIASES,
                                                                                       MAX_ALIAS_LENGTH)}),
                            ("one alias changed", None), ("50 × 128 (refused)", {"aliases": aliases(50, 128)})):
            if body is None:
                current = client.get(f"/api/v1/persons/{pid}", headers=headers).get_json()["aliases"]
                body = {"aliases": current[:-1] + aliases(1, MAX_ALIAS_LENGTH)}
            version = client.get(f"/api/v1/persons/{pid}", headers=headers).get_json()["version"]
            ms, status, size = timed_patch(pid, version, body)
            results[label].append(ms)
            statuses[label], rows[label] = f"{status} ({size:,} B body)", terms(pid)
    reference = statistics.median(results["biography only (reference)"])
    print(f"{'PATCH /api/v1/persons/{id}':34} {'median ms':>10} {'× ref':>7} {'terms after':>12}  status")
    for label, times in results.items():
        median = statistics.median(times)
        print(f"{label:34} {median:10.1f} {median / reference:7.1f} {rows[label]:12,}  {statuses[label]}")


if __name__ == "__main__":
    main()
