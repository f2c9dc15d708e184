"""The OAI-PMH 2.0 provider at /oai (GET and POST): Identify, ListMetadataFormats, ListSets, ListIdentifiers,
ListRecords and GetRecord over what the public archive shows, in oai_dc and EAC-CPF, with sets per category,
selective harvesting by datestamp, stateless resumption tokens and persistent deletions."""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timezone
from typing import Any, Callable

from flask import Blueprint, Response, current_app, g, request
from lxml import etree

from backend import transaction
from backend.api.base import client_address
from backend.api.public import parse_rate_limit
from backend.models import OaiRecord
from backend.services import crosswalks
from backend.services import oai as oai_service
from backend.services import rate_limits

blp = Blueprint("oai", __name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
XSI_NS = crosswalks.XSI_NS
SCHEMA_LOCATION = f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
CONTENT_TYPE = "text/xml; charset=utf-8"

# Arguments each verb takes: (required, optional, exclusive)
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
}
# What the <request> element may echo (the schema's types for its attributes).
_ECHO = {"identifier": re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-_.!~*'();/?:@&=+$,%]+$"),
         "metadataPrefix": re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$"),
         "from": re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$"),
         "until": re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$"),
         "set": re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$"),
         "resumptionToken": re.compile(r"^\S+$")}
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_SECOND = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$")


class OaiError(Exception):
    """An OAI-PMH error condition: answered as <error code=…> in a 200 response, as the protocol says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _oai(name), attributes)
    if text is not None:
        element.text = text
    return element


def base_url() -> str:
    return f"{crosswalks.base_url()}/oai"


def stamp(value: datetime) -> str:
    return crosswalks.utc_timestamp(value)


# --- arguments ----------------------------------------------------------------------------------------------------

def _arguments() -> dict[str, list[str]]:
    source = request.form if request.method == "POST" else request.args
    return {key: values for key, values in source.lists()}


def _check_arguments(arguments: dict[str, list[str]]) -> tuple[str, dict[str, str]]:
    verbs = arguments.get("verb", [])
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OaiError("badVerb", "缺少 verb、verb 重复或不是 OAI-PMH 的动词 / missing, repeated or illegal verb")
    verb = verbs[0]
    required, optional, exclusive = VERBS[verb]
    repeated = sorted(key for key, values in arguments.items() if len(values) > 1)
    if repeated:
        raise OaiError("badArgument", f"参数重复 / repeated argument: {', '.join(repeated)}")
    given = {key: values[0] for key, values in arguments.items() if key != "verb"}
    if exclusive and exclusive in given:
        if set(given) != {exclusive}:
            raise OaiError("badArgument", f"{exclusive} 须单独使用 / {exclusive} is an exclusive argument")
        return verb, given
    unknown = sorted(set(given) - required - optional)
    if unknown:
        raise OaiError("badArgument", f"该动词不接受这些参数 / illegal argument: {', '.join(unknown)}")
    missing = sorted(required - set(given))
    if missing:
        raise OaiError("badArgument", f"缺少必需参数 / missing argument: {', '.join(missing)}")
    return verb, given


def _parse_date(value: str, *, end: bool) -> tuple[datetime, str]:
    """A from/until value as an inclusive bound in whole seconds, and its granularity."""
    day, second = _DAY.match(value), _SECOND.match(value)
    try:
        if second:
            parts = [int(part) for part in second.groups()]
            return datetime(*parts, tzinfo=timezone.utc), "second"  # type: ignore[misc]
        if day:
            moment = datetime(*(int(part) for part in day.groups()), tzinfo=timezone.utc)  # type: ignore[misc]
            return datetime.combine(moment.date(), time(23, 59, 59) if end else time(0, 0, 0),
                                    tzinfo=timezone.utc), "day"
    except ValueError:
        pass
    raise OaiError("badArgument", f"日期格式应为 YYYY-MM-DD 或 YYYY-MM-DDThh:mm:ssZ / bad date: {value[:40]}")


def _selection(arguments: dict[str, str]) -> oai_service.Selection:
    """The arguments checked (badArgument first, so that any other error echoes only valid values)."""
    start = end = None
    granularities = set()
    if "from" in arguments:
        start, granularity = _parse_date(arguments["from"], end=False)
        granularities.add(granularity)
    if "until" in arguments:
        end, granularity = _parse_date(arguments["until"], end=True)
        granularities.add(granularity)
    if len(granularities) > 1:
        raise OaiError("badArgument", "from 与 until 的粒度须相同 / from and until differ in granularity")
    if start is not None and end is not None and start > end:
        raise OaiError("badArgument", "from 晚于 until / from is later than until")
    set_spec = arguments.get("set")
    if set_spec is not None and not _ECHO["set"].match(set_spec):
        raise OaiError("badArgument", "set 不是合法的 setSpec / set is not a setSpec")
    prefix = arguments["metadataPrefix"]
    if prefix not in oai_service.METADATA_FORMATS:
        raise OaiError("cannotDisseminateFormat", f"不支持的元数据格式 / unsupported metadataPrefix: {prefix[:40]}")
    return oai_service.Selection(prefix, set_spec, start, end)


# --- the verbs ----------------------------------------------------------------------------------------------------

def _identify(root: etree._Element, _arguments: dict[str, str]) -> None:
    identify = _sub(root, "Identify")
    _sub(identify, "repositoryName", f"{crosswalks.archive_name()} 口述史与人物档案")
    _sub(identify, "baseURL", base_url())
    _sub(identify, "protocolVersion", "2.0")
    repository = oai_service.repository_identifier()
    _sub(identify, "adminEmail", current_app.config.get("OAI_ADMIN_EMAIL") or f"oai-admin@{repository}")
    _sub(identify, "earliestDatestamp", stamp(oai_service.earliest_datestamp()))
    _sub(identify, "deletedRecord", "persistent")
    _sub(identify, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    description = _sub(identify, "description")
    scheme = etree.SubElement(description, f"{{{OAI_IDENTIFIER_NS}}}oai-identifier",
                              nsmap={None: OAI_IDENTIFIER_NS, "xsi": XSI_NS})
    scheme.set(f"{{{XSI_NS}}}schemaLocation",
               f"{OAI_IDENTIFIER_NS} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd")
    for name, value in (("scheme", "oai"), ("repositoryIdentifier", repository), ("delimiter", ":"),
                        ("sampleIdentifier", oai_service.identifier("person", 1))):
        etree.SubElement(scheme, f"{{{OAI_IDENTIFIER_NS}}}{name}").text = value


def _record_of(identifier: str) -> OaiRecord:
    parsed = oai_service.parse_identifier(identifier)
    record = oai_service.find(*parsed) if parsed else None
    if record is None:
        raise OaiError("idDoesNotExist", f"没有这个标识符 / unknown identifier: {identifier[:200]}")
    return record


def _list_metadata_formats(root: etree._Element, arguments: dict[str, str]) -> None:
    prefixes = list(oai_service.METADATA_FORMATS)
    if "identifier" in arguments:
        prefixes = oai_service.FORMATS_OF.get(_record_of(arguments["identifier"]).entity_type, [])
        if not prefixes:
            raise OaiError("noMetadataFormats", "该记录没有可提供的元数据格式 / no metadata formats for this item")
    listing = _sub(root, "ListMetadataFormats")
    for prefix in prefixes:
        schema, namespace, _kinds = oai_service.METADATA_FORMATS[prefix]
        metadata_format = _sub(listing, "metadataFormat")
        _sub(metadata_format, "metadataPrefix", prefix)
        _sub(metadata_format, "schema", schema)
        _sub(metadata_format, "metadataNamespace", namespace)


def _list_sets(root: etree._Element, arguments: dict[str, str]) -> None:
    if "resumptionToken" in arguments:
        raise OaiError("badResumptionToken", "集合列表不分页，没有续传令牌 / ListSets issues no resumption tokens")
    available = oai_service.sets()
    if not available:
        raise OaiError("noSetHierarchy", "本库不支持集合 / this repository has no sets")
    listing = _sub(root, "ListSets")
    for spec, name in available:
        entry = _sub(listing, "set")
        _sub(entry, "setSpec", spec)
        _sub(entry, "setName", name)


def _header(parent: etree._Element, record: OaiRecord) -> None:
    header = _sub(parent, "header", **({"status": "deleted"} if record.deleted else {}))
    _sub(header, "identifier", oai_service.identifier(record.entity_type, record.entity_id))
    _sub(header, "datestamp", stamp(record.datestamp))
    for spec in record.set_specs:
        _sub(header, "setSpec", spec)


def _record(parent: etree._Element, record: OaiRecord, entity: Any, prefix: str) -> None:
    element = _sub(parent, "record")
    _header(element, record)
    if not record.deleted and entity is not None:
        _sub(element, "metadata").append(oai_service.metadata_element(record.entity_type, entity, prefix))


def _get_record(root: etree._Element, arguments: dict[str, str]) -> None:
    record = _record_of(arguments["identifier"])
    prefix = arguments["metadataPrefix"]
    if prefix not in oai_service.FORMATS_OF[record.entity_type]:
        raise OaiError("cannotDisseminateFormat",
                       f"该记录不提供此格式 / {prefix[:40]} is not available for this item")
    entity = None if record.deleted else oai_service.load(record.entity_type, record.entity_id)
    _record(_sub(root, "GetRecord"), record, entity, prefix)


def _list(verb: str) -> Callable[[etree._Element, dict[str, str]], None]:
    def answer(root: etree._Element, arguments: dict[str, str]) -> None:
        if "resumptionToken" in arguments:
            try:
                state = oai_service.read_token(arguments["resumptionToken"])
            except oai_service.BadToken as exc:
                raise OaiError("badResumptionToken", f"续传令牌无效或已过期 / invalid or expired token ({exc})")
            if state.get("v") != verb:
                raise OaiError("badResumptionToken", "续传令牌不属于这个动词 / the token belongs to another verb")
            request_arguments = {key: value for key, value in (("metadataPrefix", state.get("p")),
                                                               ("from", state.get("f")), ("until", state.get("u")),
                                                               ("set", state.get("s"))) if value is not None}
            try:
                selection = _selection(request_arguments)
                after = (datetime.fromtimestamp(int(state["k"][0]), timezone.utc), int(state["k"][1]))
                cursor, total = int(state["c"]), int(state["t"])
                asked = request_arguments
            except (OaiError, KeyError, TypeError, ValueError, IndexError, OverflowError):
                raise OaiError("badResumptionToken", "续传令牌无效 / invalid token") from None
        else:
            selection = _selection(arguments)
            after, cursor, total = None, 0, oai_service.count(selection)
            asked = arguments
        limit = current_app.config["OAI_PAGE_SIZE"]
        records = oai_service.page(selection, after, limit + 1)
        more, records = len(records) > limit, records[:limit]
        if not records:
            raise OaiError("noRecordsMatch", "没有符合条件的记录 / no records match")
        listing = _sub(root, verb)
        if verb == "ListRecords":
            entities = oai_service.entities(records)
            for record in records:
                _record(listing, record, entities.get((record.entity_type, record.entity_id)), selection.prefix)
        else:
            for record in records:
                _header(listing, record)
        if more or after is not None:
            attributes = {"completeListSize": str(max(total, cursor + len(records))), "cursor": str(cursor)}
            token = None
            if more:
                last = records[-1]
                token, expires = oai_service.issue_token({
                    "v": verb, "p": selection.prefix, "s": selection.set_spec,
                    "f": asked.get("from"), "u": asked.get("until"),
                    "k": [int(last.datestamp.timestamp()), last.id], "c": cursor + len(records), "t": total})
                attributes["expirationDate"] = stamp(expires)
            _sub(listing, "resumptionToken", token, **attributes)

    return answer


HANDLERS: dict[str, Callable[[etree._Element, dict[str, str]], None]] = {
    "Identify": _identify, "ListMetadataFormats": _list_metadata_formats, "ListSets": _list_sets,
    "GetRecord": _get_record, "ListIdentifiers": _list("ListIdentifiers"), "ListRecords": _list("ListRecords"),
}


# --- the endpoint -------------------------------------------------------------------------------------------------

def _throttled() -> Response | None:
    """Harvesters share the public archive's rate limit (counted apart); over it, 503 with Retry-After, the
    protocol's flow control."""
    limit = parse_rate_limit(current_app.config.get("PUBLIC_RATE_LIMIT") or "off")
    if limit is None:
        return None
    with transaction.atomic():
        retry_after = rate_limits.hit("oai", client_address(), *limit)
    if retry_after is None:
        return None
    return Response("请求过于频繁，请稍后再试 / too many requests\n", status=503, mimetype="text/plain",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


@blp.before_request
def _throttle_then_refresh() -> Response | None:
    """Before the view's own unit of work: the rate limit, the response date, and the ledger brought up to date
    (each in a transaction of its own, so that the answer reads what the refresh committed)."""
    throttled = _throttled()
    if throttled is not None:
        return throttled
    g.oai_response_date = oai_service.now()  # before the ledger is read: see backend.services.oai
    with transaction.atomic():
        current = oai_service.is_current()
    if not current:
        with transaction.atomic():
            oai_service.refresh()
    return None


@blp.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    """One OAI-PMH request: every answer, errors included, is a 200 OAI-PMH document."""
    response_date = g.oai_response_date
    root = etree.Element(_oai("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    _sub(root, "responseDate", stamp(response_date))
    echo = _sub(root, "request", base_url())
    arguments = _arguments()
    try:
        verb, given = _check_arguments(arguments)
        echo.set("verb", verb)
        for key, value in given.items():
            if _ECHO[key].match(value):
                echo.set(key, value)
        HANDLERS[verb](root, given)
    except OaiError as error:
        if error.code in ("badVerb", "badArgument"):  # the request is then echoed without its arguments
            for key in list(echo.attrib):
                del echo.attrib[key]
        for child in root[3:]:
            root.remove(child)
        _sub(root, "error", error.message, code=error.code)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Response(body, status=200, content_type=CONTENT_TYPE)
