"""SQLAlchemy models; importing this package registers every table on the metadata."""

from backend.models.audit import AuditEvent
from backend.models.idempotency import IdempotencyRecord
from backend.models.job import JOB_STATUSES, Job
from backend.models.material import (ACCESS_LEVELS, KINDS, LINK_ROLES, MATERIAL_STATUSES, VARIANTS, Derivative,
                                     FixityEvent, Interview, InterviewPerson, Material, PersonMaterial)
from backend.models.person import CATEGORIES, STATUSES, Person, PersonSearchTerm, PersonTag
from backend.models.rate_limit import RateLimitCounter
from backend.models.search import DOCUMENT_KINDS, SearchDocument
from backend.models.review import CONSENT_SCOPES, REDACTION_REASONS, Consent, Notification, Redaction
from backend.models.sync import SYNCED_TYPES, SyncChange, SyncState
from backend.models.transcript import TRANSCRIPT_STATUSES, Transcript, TranscriptRevision, TranscriptSegment
from backend.models.upload import UPLOAD_STATUSES, Upload
from backend.models.user import ROLES, LoginFailure, RefreshToken, RevokedToken, Role, TokenFamily, User

__all__ = ["DOCUMENT_KINDS", "SearchDocument", "CONSENT_SCOPES", "Consent", "Notification", "REDACTION_REASONS", "Redaction", "DOCUMENT_KINDS", "SearchDocument", "ACCESS_LEVELS", "AuditEvent", "CATEGORIES", "Derivative", "FixityEvent", "IdempotencyRecord",
           "Interview", "InterviewPerson", "JOB_STATUSES", "Job", "KINDS", "LINK_ROLES", "LoginFailure",
           "MATERIAL_STATUSES", "Material", "Person", "PersonMaterial", "PersonSearchTerm", "PersonTag", "ROLES", "RateLimitCounter", "RefreshToken", "RevokedToken", "Role",
           "STATUSES", "SYNCED_TYPES", "SyncChange", "SyncState", "TRANSCRIPT_STATUSES", "TokenFamily", "Transcript", "TranscriptRevision", "TranscriptSegment", "UPLOAD_STATUSES", "Upload", "User", "VARIANTS"]
