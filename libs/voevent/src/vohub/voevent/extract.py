"""Read a parsed VOEvent element tree into the immutable :class:`~vohub.voevent.model.Packet`.

This is the hot path of every service, so it walks children directly and dispatches on the
tag (no XPath, no copies).  It never raises for content: whatever is off is described in
``Packet.problems`` and the rest is still extracted.  Tags are compared by local name, so
default-namespace roots and VOEvent 1.1's STC-namespaced ``ObsDataLocation`` read the same.
"""

from __future__ import annotations

from lxml import etree

from vohub.voevent.errors import NotAVOEvent
from vohub.voevent.model import (
    CITE_TYPES,
    ROLES,
    Author,
    Citation,
    Group,
    How,
    Inference,
    Packet,
    Param,
    Reference,
    Table,
    Why,
)
from vohub.voevent.schema import NAMESPACES
from vohub.voevent.timescale import to_utc
from vohub.voevent.wherewhen import read_wherewhen

Element = etree._Element
_AUTHOR_FIELDS = {
    "title": "title",
    "shortName": "short_name",
    "logoURL": "logo_url",
    "contactName": "contact_name",
    "contactEmail": "contact_email",
    "contactPhone": "contact_phone",
    "contributor": "contributor",
    "Contributor": "contributor",
}


def local(tag: str) -> str:
    """The local part of an lxml tag (``{ns}name`` → ``name``).

    >>> local("{http://www.ivoa.net/xml/VOEvent/v2.0}VOEvent"), local("Who")
    ('VOEvent', 'Who')
    """
    return tag if tag[0] != "{" else tag[tag.index("}") + 1 :]


def text_of(el: Element) -> str | None:
    """The element's stripped text, or None when it is empty or white space."""
    text = el.text
    if text is None:
        return None
    text = text.strip()
    return text or None


def extract(root: Element, raw: bytes, source: str) -> Packet:
    """Build a :class:`Packet` from a VOEvent root element, recording problems as it goes.

    Raises
    ------
    NotAVOEvent
        The root is not a ``VOEvent`` element in a VOEvent namespace (or none), or it
        has no ``ivorn``.

    Examples
    --------
    >>> xml = b'<v:VOEvent xmlns:v="http://www.ivoa.net/xml/VOEvent/v2.0" ivorn="ivo://a.b/c#1"'
    >>> xml += b' role="test" version="2.0"><Who><Date>2020-01-01T00:00:00</Date></Who></v:VOEvent>'
    >>> p = extract(etree.fromstring(xml), xml, "<bytes>")
    >>> p.ivorn, p.role, p.author_datetime.isoformat(), p.problems
    ('ivo://a.b/c#1', 'test', '2020-01-01T00:00:00+00:00', ())
    """
    problems: list[str] = []
    ivorn = _check_root(root, source, problems)
    fields: dict[str, object] = {}
    wherewhen: Element | None = None
    for child in root:
        tag = child.tag
        if tag[0] == "{":
            problems.append(f"<{local(tag)}> is namespaced; VOEvent children are unqualified")
            tag = local(tag)
        if tag == "What":
            _read_what(child, fields, problems)
        elif tag == "WhereWhen":
            wherewhen = child
        elif tag == "Who":
            _read_who(child, fields, problems)
        elif tag == "How":
            fields["how"] = How(*_descriptions_and_references(child))
        elif tag == "Why":
            fields["why"] = _read_why(child, problems)
        elif tag == "Citations":
            fields["citations"] = _read_citations(child, problems)
        elif tag == "Description":
            fields["description"] = text_of(child)
        elif tag == "Reference":
            fields["root_reference"] = _reference(child, problems)
        else:
            problems.append(f"unexpected element <{tag}> under <VOEvent>")
    if wherewhen is not None:
        params = fields.get("params", ())
        fields["positions"] = read_wherewhen(wherewhen, params, problems)  # type: ignore[arg-type]
    root_ref = fields.pop("root_reference", None)
    if root_ref is not None:
        fields["references"] = (*fields.get("references", ()), root_ref)  # type: ignore[misc]
    role = root.get("role") or "observation"
    if role not in ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(ROLES)}")
    return Packet(
        ivorn,
        role,
        root.get("version"),
        raw,
        problems=tuple(problems),
        **fields,  # type: ignore[arg-type]
    )


def _check_root(root: Element, source: str, problems: list[str]) -> str:
    """Refuse a root that is no VOEvent; note a missing namespace or version; return the IVORN."""
    tag = root.tag
    if not isinstance(tag, str) or local(tag) != "VOEvent":
        raise NotAVOEvent(source, f"root element is <{local(str(tag))}>, not <VOEvent>")
    namespace = tag[1 : tag.index("}")] if tag[0] == "{" else None
    version = root.get("version")
    if namespace is None:
        problems.append("root <VOEvent> has no namespace")
    elif namespace not in NAMESPACES:
        raise NotAVOEvent(source, f"root namespace {namespace!r} is not a VOEvent one")
    elif version != NAMESPACES[namespace]:
        problems.append(
            f"version {version!r} does not match the namespace's {NAMESPACES[namespace]}"
        )
    if version is None and namespace is None:
        problems.append("root <VOEvent> has no version attribute")
    ivorn = root.get("ivorn")
    if not ivorn or not ivorn.strip():
        raise NotAVOEvent(source, "root <VOEvent> has no ivorn attribute")
    return ivorn.strip()


def _read_who(who: Element, fields: dict[str, object], problems: list[str]) -> None:
    """``Who``: AuthorIVORN, Date (to UTC) and Author, first occurrence of each."""
    for child in who:
        tag = local(child.tag)
        if tag == "AuthorIVORN" and "author_ivorn" not in fields:
            fields["author_ivorn"] = text_of(child)
        elif tag == "Date" and "author_datetime" not in fields:
            text = text_of(child)
            try:
                fields["author_datetime"] = to_utc(text) if text else None
            except ValueError:
                problems.append(f"Who/Date {text!r} is not an ISO-8601 date-time")
        elif tag == "Author" and "author" not in fields:
            fields["author"] = _read_author(child)


def _read_author(author: Element) -> Author:
    """``Who/Author``: the contact fields by their schema names."""
    values: dict[str, str | None] = {}
    for child in author:
        name = _AUTHOR_FIELDS.get(local(child.tag))
        if name is not None and name not in values:
            values[name] = text_of(child)
    return Author(**values)


def _read_what(what: Element, fields: dict[str, object], problems: list[str]) -> None:
    """``What``: top-level Params, Groups, Tables, Description and References."""
    fields.update(
        params=read_params(what, problems),
        groups=tuple(_read_group(g, problems) for g in what.iterchildren("{*}Group")),
        tables=tuple(_read_table(t, problems) for t in what.iterchildren("{*}Table")),
        references=tuple(_reference(r, problems) for r in what.iterchildren("{*}Reference")),
        what_description=_first_text(what, "{*}Description"),
    )


#: Groups already read, by their serialised XML: GCN packets repeat most groups (flags,
#: status words) verbatim, and serialising is C-fast, so a hit skips all per-Param work.
#: Values are immutable; the dict is only read and written whole-key and is emptied at
#: its size cap, so sharing it between threads is safe.
_GROUPS: dict[bytes, tuple[Group, tuple[str, ...]]] = {}
_GROUPS_CAP = 4096


def _read_group(el: Element, problems: list[str]) -> Group:
    """One ``What/Group`` with its Params and Description."""
    key = etree.tostring(el, with_tail=False)
    hit = _GROUPS.get(key)
    if hit is None:
        found: list[str] = []
        group = Group(
            el.get("name"),
            el.get("type"),
            read_params(el, found),
            _first_text(el, "{*}Description"),
        )
        if len(_GROUPS) >= _GROUPS_CAP:
            _GROUPS.clear()
        hit = _GROUPS[key] = (group, tuple(found))
    problems.extend(hit[1])
    return hit[0]


def _first_text(el: Element, tag: str) -> str | None:
    """Text of the first child with ``tag``, or None."""
    for child in el.iterchildren(tag):
        return text_of(child)
    return None


# Param is a frozen slotted dataclass; its generated __init__ sets each field through
# object.__setattr__, which is half the cost of reading a Param.  The hot path below sets the
# slots directly with their member descriptors instead: same object, same invariants.
_new = object.__new__
_SET_NAME, _SET_VALUE, _SET_UNIT, _SET_UCD, _SET_DATATYPE, _SET_UTYPE, _SET_DESCRIPTION = (
    Param.__dict__[f].__set__
    for f in ("name", "value", "unit", "ucd", "datatype", "utype", "description")
)


def read_params(parent: Element, problems: list[str]) -> tuple[Param, ...]:
    """The ``Param`` children of ``parent``, in order (the hot path of extraction).

    >>> g = etree.fromstring(b'<Group><Param name="a" value="1"/><Param name="b"/></Group>')
    >>> [(p.name, p.value) for p in read_params(g, [])]
    [('a', '1'), ('b', None)]
    """
    out: list[Param] = []
    append = out.append
    for el in parent.iterchildren("{*}Param"):
        get = el.get
        datatype = get("dataType")
        if len(el) or (datatype is None and get("datatype") is not None):
            append(read_param(el, problems))
            continue
        param = _new(Param)
        _SET_NAME(param, get("name"))
        _SET_VALUE(param, get("value"))
        _SET_UNIT(param, get("unit"))
        _SET_UCD(param, get("ucd"))
        _SET_DATATYPE(param, datatype)
        _SET_UTYPE(param, get("utype"))
        _SET_DESCRIPTION(param, None)
        append(param)
    return tuple(out)


def read_param(el: Element, problems: list[str]) -> Param:
    """One ``Param`` (or ``Field``): attributes, a ``Value`` child, a ``Description`` child.

    >>> read_param(etree.fromstring(b'<Param name="x" value="2" dataType="int"/>'), []).typed_value
    2
    """
    get = el.get
    name = get("name")
    value = get("value")
    datatype = get("dataType")
    if datatype is None:
        datatype = get("datatype")
        if datatype is not None:
            problems.append(f"Param {name!r}: attribute 'datatype' should be spelt 'dataType'")
    description = None
    if len(el):
        for child in el:
            tag = local(child.tag)
            if tag == "Description":
                description = text_of(child)
            elif tag == "Value" and value is None:
                value = child.text or ""
    return Param(name, value, get("unit"), get("ucd"), datatype, get("utype"), description)


def _read_table(el: Element, problems: list[str]) -> Table:
    """One ``What/Table``: Params, Fields and the ``Data/TR/TD`` cells."""
    params: list[Param] = []
    fields: list[Param] = []
    rows: list[tuple[str, ...]] = []
    description = None
    for child in el:
        tag = local(child.tag)
        if tag == "Field":
            fields.append(read_param(child, problems))
        elif tag == "Param":
            params.append(read_param(child, problems))
        elif tag == "Description":
            description = text_of(child)
        elif tag == "Data":
            rows.extend(tuple(td.text or "" for td in tr) for tr in child)
    return Table(
        el.get("name"), el.get("type"), description, tuple(params), tuple(fields), tuple(rows)
    )


def _reference(el: Element, problems: list[str]) -> Reference:
    """A ``Reference``; a missing ``uri`` (required by the schema) is a problem."""
    uri = el.get("uri")
    if uri is None:
        problems.append("<Reference> without a uri attribute")
    return Reference(uri or "", el.get("type"), el.get("meaning"), el.get("mimetype"))


def _descriptions_and_references(el: Element) -> tuple[tuple[str, ...], tuple[Reference, ...]]:
    """The Description texts and References directly under ``el`` (How)."""
    descriptions: list[str] = []
    references: list[Reference] = []
    for child in el:
        tag = local(child.tag)
        if tag == "Description":
            text = text_of(child)
            if text:
                descriptions.append(text)
        elif tag == "Reference":
            references.append(_reference(child, []))
    return tuple(descriptions), tuple(references)


def _read_why(el: Element, problems: list[str]) -> Why:
    """``Why``: importance, expires, Inferences and bare Name/Concept/Description/Reference."""
    inferences = [
        Inference(
            _float_attr(child, "probability", problems),
            child.get("relation"),
            *_named_parts(child, problems),
        )
        for child in el
        if local(child.tag) == "Inference"
    ]
    expires = None
    if (text := el.get("expires")) is not None:
        try:
            expires = to_utc(text)
        except ValueError:
            problems.append(f"Why/@expires {text!r} is not an ISO-8601 date-time")
    importance = _float_attr(el, "importance", problems)
    return Why(importance, expires, tuple(inferences), *_named_parts(el, problems))


_Parts = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[Reference, ...]]


def _named_parts(el: Element, problems: list[str]) -> _Parts:
    """Name, Concept, Description texts and References directly under ``el``."""
    buckets: dict[str, list[str]] = {"Name": [], "Concept": [], "Description": []}
    references: list[Reference] = []
    for child in el:
        tag = local(child.tag)
        bucket = buckets.get(tag)
        if bucket is not None:
            text = text_of(child)
            if text:
                bucket.append(text)
        elif tag == "Reference":
            references.append(_reference(child, problems))
    names, concepts, descriptions = (tuple(v) for v in buckets.values())
    return names, concepts, descriptions, tuple(references)


def _float_attr(el: Element, name: str, problems: list[str]) -> float | None:
    """A float attribute, or None (with a problem when present but unreadable)."""
    text = el.get(name)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        problems.append(f"<{local(el.tag)}> {name}={text!r} is not a number")
        return None


def _read_citations(el: Element, problems: list[str]) -> tuple[Citation, ...]:
    """``Citations``: each non-empty EventIVORN with a known ``cite`` type, sharing the Description.

    Empty IVORNs and missing or unknown cite types are skipped and reported as problems.
    """
    description = None
    cited: list[tuple[str, str]] = []
    for child in el:
        tag = local(child.tag)
        if tag == "Description":
            description = text_of(child)
        elif tag == "EventIVORN":
            ivorn, cite = text_of(child), child.get("cite")
            if not ivorn:
                problems.append("empty Citations/EventIVORN skipped")
            elif cite not in CITE_TYPES:
                problems.append(f"EventIVORN {ivorn} has cite={cite!r}, not one of {CITE_TYPES}")
            else:
                cited.append((ivorn, cite))
    return tuple(Citation(ivorn, cite, description) for ivorn, cite in cited)
