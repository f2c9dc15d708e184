"""Full-text search for signed-in users (GET /api/v1/search), and the serialiser of hits that the public search
(backend.api.public) shares."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import login_required
from backend.schemas.search import SearchArgsSchema, SearchPageSchema
from backend.services import search as search_service
from backend.services.search_text import highlight

blp = Blueprint("search", __name__, url_prefix="/api/v1", description="全文检索 / Search")


def _play_url(endpoint: str, material_id: int, start: float, end: float) -> str:
    """The playback proxy, started at the segment by a media fragment (an <audio> or <video> element honours it)."""
    return url_for(endpoint, material_id=material_id, variant="proxy") + f"#t={start:.2f},{end:.2f}"


def serialise(result: search_service.Result, *, public: bool) -> dict[str, Any]:
    """A page of hits as the API answers it; only what the caller may see went into ``result``."""
    records = search_service.load_records(result.hits)
    phrases = result.query.required
    items: list[dict[str, Any]] = []
    for hit in result.hits:
        record = records.get((hit.type, hit.document.ref_id))
        if record is None:  # removed between finding and reading (the index follows in the same transaction)
            continue
        item: dict[str, Any] = {"type": hit.type, "id": record.id}
        if hit.type == "segment":
            material = records.get(("material", hit.document.material_id))
            item.update(title=search_service.material_title(material, public) or f"转写稿 {record.transcript_id}",
                        highlight=highlight(record.text or "", phrases), transcript_id=record.transcript_id,
                        material_id=hit.document.material_id, segment_index=record.index, start=record.start,
                        end=record.end,
                        url=url_for("public.get_transcript" if public else "transcripts.get_transcript",
                                    transcript_id=record.transcript_id),
                        play_url=_play_url("public.material_content" if public else "materials.content",
                                           hit.document.material_id, record.start, record.end))
        elif hit.type == "person":
            item.update(title=record.name, category=record.category,
                        highlight=search_service.best_highlight(search_service.person_display_fields(record),
                                                                phrases, record.name),
                        url=url_for("public.get_person" if public else "persons.get_person", person_id=record.id))
        elif hit.type == "material":
            title_fields, body_fields = (search_service.public_material_fields(record) if public
                                         else search_service.material_fields(record))
            item.update(title=title_fields[0], kind=record.kind,
                        highlight=search_service.best_highlight(title_fields + body_fields, phrases, title_fields[0]))
            if public:
                variants = search_service.public_variants(record)
                if variants:
                    item["url"] = url_for("public.material_content", material_id=record.id, variant=variants[0])
            else:
                item["url"] = url_for("materials.get_material", material_id=record.id)
        else:
            fields = search_service.interview_display_fields(record)
            item.update(title=record.title, highlight=search_service.best_highlight(fields, phrases, record.title),
                        url=url_for("interviews.get_interview", interview_id=record.id))
        items.append(item)
    return {"items": items, "total": result.total, "total_relation": "eq" if result.exact_total else "gte",
            "page": result.page, "per_page": result.per_page, "facets": result.facets}


@blp.route("/search", methods=["GET"])
@blp.arguments(SearchArgsSchema, location="query")
@blp.response(200, SearchPageSchema)
@login_required()
def search(args: dict[str, Any]) -> Response:
    """Search transcripts (down to the segment and second), profiles, materials and interviews: only what the
    caller may see (collectors: their own drafts, materials and interviews, published profiles, open materials)."""
    result = search_service.search(current_user, **args)
    return jsonify(serialise(result, public=False))
