"""SQLAlchemy models; importing this package registers every table on the metadata."""

from backend.models.audit import AuditEvent
from backend.models.idempotency import IdempotencyRecord
from backend.models.person import CATEGORIES, STATUSES, Person, PersonTag
from backend.models.user import ROLES, LoginFailure, RevokedToken, User

__all__ = ["AuditEvent", "CATEGORIES", "IdempotencyRecord", "LoginFailure", "Person", "PersonTag",
           "ROLES", "RevokedToken", "STATUSES", "User"]
