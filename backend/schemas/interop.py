"""Schemas of the interop formats: which ``format`` a record's GET answers in (JSON, EAC-CPF, Dublin Core)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.schemas.common import StrictSchema

PERSON_FORMATS = ("json", "eac-cpf", "dc")
RECORD_FORMATS = ("json", "dc")
XML_MIMETYPE = "application/xml"


class PersonFormatArgsSchema(StrictSchema):
    format = fields.Str(load_default="json", validate=validate.OneOf(PERSON_FORMATS),
                        metadata={"description": "json (default), eac-cpf (EAC-CPF 2010 XML) or dc (oai_dc XML)"})


class RecordFormatArgsSchema(StrictSchema):
    format = fields.Str(load_default="json", validate=validate.OneOf(RECORD_FORMATS),
                        metadata={"description": "json (default) or dc (Dublin Core, oai_dc XML)"})


def xml_alternative(schema: type[Schema], description: str, *, etag: bool = False) -> dict[str, object]:
    """OpenAPI (for ``blp.doc``, which replaces the 200 answer ``blp.response`` described): ``schema`` as JSON, or
    XML when ``format`` asks for it; ``etag``: the JSON answer carries the record's version as its ETag."""
    answer: dict[str, object] = {"description": description,
                                 "content": {"application/json": {"schema": schema},
                                             XML_MIMETYPE: {"schema": {"type": "string"}}}}
    if etag:
        answer["headers"] = {"ETag": {"schema": {"type": "string"}}}
    return {"responses": {"200": answer}}
