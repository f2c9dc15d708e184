"""SQLAlchemy models; importing this package registers every table on the metadata."""

from backend.models.archival import ArchivalCounter
from backend.models.audit import AuditEvent
from backend.models.export import EXPORT_FORMATS, EXPORT_SCOPES, EXPORT_STATUSES, Export
from backend.models.idempotency import IdempotencyRecord
from backend.models.imports import IMPORT_STATUSES, Import, ImportKey
from backend.models.job import JOB_STATUSES, Job
from backend.models.material import (ACCESS_LEVELS, KINDS, LINK_ROLES, MATERIAL_STATUSES, VARIANTS, Derivative,
                                     FixityEvent, Interview, InterviewPerson, Material, PersonMaterial)
from backend.models.material_text import TEXT_SOURCES, MaterialTextPage, MaterialTextRevision
from backend.models.oai import OAI_ENTITY_TYPES, OaiRecord, OaiRecordSet, OaiState
from backend.models.person import CATEGORIES, STATUSES, Person, PersonSearchTerm, PersonTag
from backend.models.project import METHODS, PROJECT_STATUSES, Project, ProjectCollector, ProjectPerson
from backend.models.rate_limit import RateLimitCounter
from backend.models.search import DOCUMENT_KINDS, SearchDocument, SearchStatistics, SearchTermStatistics
from backend.models.review import CONSENT_SCOPES, REDACTION_REASONS, Consent, Notification, Redaction
from backend.models.sync import SYNCED_TYPES, SyncChange, SyncState
from backend.models.transcript import TRANSCRIPT_STATUSES, Transcript, TranscriptRevision, TranscriptSegment
from backend.models.upload import UPLOAD_STATUSES, Upload
from backend.models.user import ROLES, LoginFailure, RefreshToken, RevokedToken, Role, TokenFamily, User

__all__ = ["ACCESS_LEVELS", "ArchivalCounter", "AuditEvent", "CATEGORIES", "CONSENT_SCOPES", "Consent",
           "DOCUMENT_KINDS", "Derivative", "EXPORT_FORMATS", "EXPORT_SCOPES", "EXPORT_STATUSES", "Export",
           "FixityEvent", "IMPORT_STATUSES", "IdempotencyRecord", "Import", "ImportKey", "Interview",
           "InterviewPerson", "JOB_STATUSES", "Job", "KINDS", "LINK_ROLES", "LoginFailure",
           "MATERIAL_STATUSES", "METHODS", "Material", "MaterialTextPage", "MaterialTextRevision",
           "Notification", "OAI_ENTITY_TYPES", "OaiRecord", "OaiRecordSet", "OaiState", "PROJECT_STATUSES",
           "Person", "PersonMaterial", "PersonSearchTerm", "PersonTag", "Project", "ProjectCollector",
           "ProjectPerson", "REDACTION_REASONS", "ROLES", "RateLimitCounter", "Redaction", "RefreshToken",
           "RevokedToken", "Role", "STATUSES", "SYNCED_TYPES", "SearchDocument", "SearchStatistics",
           "SearchTermStatistics", "SyncChange", "SyncState", "TEXT_SOURCES", "TRANSCRIPT_STATUSES", "TokenFamily",
           "Transcript", "TranscriptRevision", "TranscriptSegment", "UPLOAD_STATUSES", "Upload", "User", "VARIANTS"]
