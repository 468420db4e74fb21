# cython: language_level=3, boundscheck=False, wraparound=False
"""Read a VOEvent root's children straight from the libxml2 tree that lxml built (compiled).

Creating an lxml proxy object per element and reading attributes one by one from Python
costs more than parsing the packet, so :func:`vohub.voevent.extract.extract` hands the
root to this module.  It walks ``xmlNode``/``xmlAttr`` structs through lxml's public
C-API (reading them as ``_tree.pxd`` says), creates Python objects only for the values it
keeps, and builds the model objects without their ``__init__``'s Python frame
(``_slots.pxd``).  ``What`` is read by :mod:`vohub.voevent._what`, ``WhereWhen`` is left to
:mod:`vohub.voevent._wherewhen`; time stamps are converted by
:func:`vohub.voevent.timescale.to_utc`.
"""

from cpython.float cimport PyFloat_FromString
from libc.string cimport strcmp
from lxml.includes cimport etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport xmlNode

from vohub.voevent._slots cimport Layout, layout_of, new
from vohub.voevent._tree cimport (
    child,
    decode,
    get as get_attr,
    is_named,
    require_build_lxml,
    stripped,
)
from vohub.voevent._what cimport read_reference, read_what, timescale_param

from dataclasses import MISSING
from dataclasses import fields as dataclass_fields

from vohub.voevent.model import CITE_TYPES, Author, Citation, How, Inference, Packet, Why
from vohub.voevent.timescale import OutOfRange, to_utc

cetree.import_lxml__etree()
require_build_lxml()

cdef Layout _AUTHOR = layout_of(Author)
cdef Layout _CITATION = layout_of(Citation)
cdef Layout _HOW = layout_of(How)
cdef Layout _INFERENCE = layout_of(Inference)
cdef Layout _PACKET = layout_of(Packet)
cdef Layout _WHY = layout_of(Why)
#: ``(name, default)`` of each Packet field, in field order.
cdef tuple _PACKET_FIELDS = tuple((field.name, field.default) for field in dataclass_fields(Packet))


# -- Who, How, Why, Citations ----------------------------------------------------------


cdef int _author_index(xmlNode* c_node) noexcept:
    """The :class:`Author` field an element fills (its index), or -1."""
    if c_node.type != tree.XML_ELEMENT_NODE:
        return -1
    cdef const char* name = <const char*>c_node.name
    if strcmp(name, "title") == 0:
        return 0
    if strcmp(name, "shortName") == 0:
        return 1
    if strcmp(name, "logoURL") == 0:
        return 2
    if strcmp(name, "contactName") == 0:
        return 3
    if strcmp(name, "contactEmail") == 0:
        return 4
    if strcmp(name, "contactPhone") == 0:
        return 5
    if strcmp(name, "contributor") == 0 or strcmp(name, "Contributor") == 0:
        return 6
    return -1


cdef object _author(xmlNode* c_author):
    """``Who/Author``: the contact fields by their schema names, the first of each."""
    values = [None] * 7
    seen = [False] * 7
    cdef int index
    cdef xmlNode* c_child = c_author.children
    while c_child is not NULL:
        index = _author_index(c_child)
        if index >= 0 and not seen[index]:
            seen[index] = True
            values[index] = stripped(c_child)
        c_child = c_child.next
    return new(&_AUTHOR, tuple(values))


cdef void _read_who(xmlNode* c_who, dict fields, list problems) except *:
    """``Who``: AuthorIVORN, Date (to UTC), Author and Description, the first of each."""
    cdef xmlNode* c_child = c_who.children
    while c_child is not NULL:
        if is_named(c_child, "AuthorIVORN") and "author_ivorn" not in fields:
            fields["author_ivorn"] = stripped(c_child)
        elif is_named(c_child, "Date") and "author_datetime" not in fields:
            date = stripped(c_child)
            try:
                fields["author_datetime"] = to_utc(date) if date else None
            except OutOfRange as exc:
                problems.append(f"Who/Date {exc}; no author date kept")
            except ValueError:
                problems.append(f"Who/Date {date!r} is not an ISO-8601 date-time")
        elif is_named(c_child, "Author") and "author" not in fields:
            fields["author"] = _author(c_child)
        elif is_named(c_child, "Description") and "who_description" not in fields:
            fields["who_description"] = stripped(c_child)
        c_child = c_child.next


cdef object _how(xmlNode* c_how):
    """``How``: the non-empty Description texts and the References (their problems unused)."""
    descriptions = []
    references = []
    cdef xmlNode* c_child = c_how.children
    while c_child is not NULL:
        if is_named(c_child, "Description"):
            description = stripped(c_child)
            if description:
                descriptions.append(description)
        elif is_named(c_child, "Reference"):
            references.append(read_reference(c_child, []))
        c_child = c_child.next
    return new(&_HOW, (tuple(descriptions), tuple(references)))


cdef tuple _named_parts(xmlNode* c_node, list problems):
    """``(names, concepts, descriptions, references)``: the non-empty Name, Concept and
    Description texts and the References directly under an element."""
    cdef tuple parts = ([], [], [])
    references = []
    cdef int kind
    cdef xmlNode* c_child = c_node.children
    while c_child is not NULL:
        kind = (
            0 if is_named(c_child, "Name")
            else 1 if is_named(c_child, "Concept")
            else 2 if is_named(c_child, "Description")
            else -1
        )
        if kind >= 0:
            found = stripped(c_child)
            if found:
                (<list>parts[kind]).append(found)
        elif is_named(c_child, "Reference"):
            references.append(read_reference(c_child, problems))
        c_child = c_child.next
    return tuple(parts[0]), tuple(parts[1]), tuple(parts[2]), tuple(references)


cdef object _float_attr(xmlNode* c_node, const char* name, list problems):
    """A float attribute, or None (with a problem when present but unreadable)."""
    found = get_attr(c_node, name)
    if found is None:
        return None
    try:
        return PyFloat_FromString(found)  # float(), not Cython's own parser
    except ValueError:
        problems.append(
            f"<{decode(c_node.name)}> {decode(<const unsigned char*>name)}={found!r}"
            " is not a number"
        )
        return None


cdef object _why(xmlNode* c_why, list problems):
    """``Why``: importance, expires, Inferences and bare Name/Concept/Description/Reference."""
    inferences = []
    cdef xmlNode* c_child = c_why.children
    while c_child is not NULL:
        if is_named(c_child, "Inference"):
            probability = _float_attr(c_child, "probability", problems)
            relation = get_attr(c_child, "relation")
            inferences.append(
                new(&_INFERENCE, (probability, relation, *_named_parts(c_child, problems)))
            )
        c_child = c_child.next
    expires = None
    written = get_attr(c_why, "expires")
    if written is not None:
        try:
            expires = to_utc(written)
        except OutOfRange as exc:
            problems.append(f"Why/@expires {exc}")
        except ValueError:
            problems.append(f"Why/@expires {written!r} is not an ISO-8601 date-time")
    importance = _float_attr(c_why, "importance", problems)
    return new(&_WHY, (importance, expires, tuple(inferences), *_named_parts(c_why, problems)))


cdef tuple _citations(xmlNode* c_citations, list problems):
    """Each non-empty EventIVORN with a known ``cite`` type, sharing the last Description.

    Empty IVORNs and missing or unknown cite types are skipped and reported as problems.
    """
    description = None
    cited = []
    cdef xmlNode* c_child = c_citations.children
    while c_child is not NULL:
        if is_named(c_child, "Description"):
            description = stripped(c_child)
        elif is_named(c_child, "EventIVORN"):
            ivorn, cite = stripped(c_child), get_attr(c_child, "cite")
            if not ivorn:
                problems.append("empty Citations/EventIVORN skipped")
            elif cite not in CITE_TYPES:
                problems.append(f"EventIVORN {ivorn} has cite={cite!r}, not one of {CITE_TYPES}")
            else:
                cited.append((ivorn, cite))
        c_child = c_child.next
    return tuple(new(&_CITATION, (ivorn, cite, description)) for ivorn, cite in cited)


# -- the Python API --------------------------------------------------------------------


def read_root(cetree._Element root not None):
    """``(local name, namespace or None, version, ivorn, role)`` of the root element.

    >>> from lxml import etree
    >>> read_root(etree.fromstring('<v:VOEvent xmlns:v="urn:x" ivorn="ivo://a/b#c"/>'))
    ('VOEvent', 'urn:x', None, 'ivo://a/b#c', None)
    """
    cdef xmlNode* c_root = root._c_node
    cdef const unsigned char* c_namespace = cetree._getNs(c_root)
    return (
        decode(c_root.name),
        decode(c_namespace) if c_namespace is not NULL else None,
        get_attr(c_root, "version"),
        get_attr(c_root, "ivorn"),
        get_attr(c_root, "role"),
    )


def read_body(cetree._Element root not None, list problems not None):
    """Read the children of a VOEvent root: ``(fields, wherewhen, timescale)``.

    ``fields`` holds the :class:`~vohub.voevent.model.Packet` fields found, by name;
    ``wherewhen`` is the last ``WhereWhen`` element, or None; ``timescale`` is the value
    of the first top-level Param called ``timescale`` that has one, or None.  Problems are
    appended in document order.

    >>> from lxml import etree
    >>> root = etree.fromstring('<VOEvent><Who><Date>2020-01-01</Date></Who><What>'
    ...     '<Param name="a" datatype="int" value="1"/></What><Who><Date>x</Date></Who>'
    ...     '<Extra/><WhereWhen/></VOEvent>')
    >>> problems = []
    >>> fields, wherewhen, timescale = read_body(root, problems)
    >>> sorted(fields)
    ['author_datetime', 'groups', 'params', 'references', 'tables', 'what_description']
    >>> fields["params"][0].typed_value, wherewhen.tag, timescale
    (1, 'WhereWhen', None)
    >>> problems[0]
    "Param 'a': attribute 'datatype' should be spelt 'dataType'"
    >>> problems[1]
    'unexpected element <Extra> under <VOEvent>'
    """
    fields = {}
    cdef xmlNode* c_wherewhen = NULL
    root_reference = None
    cdef xmlNode* c_child = root._c_node.children
    while c_child is not NULL:
        if c_child.type == tree.XML_ELEMENT_NODE:
            if cetree._getNs(c_child) is not NULL:
                problems.append(
                    f"<{decode(c_child.name)}> is namespaced; VOEvent children are unqualified"
                )
            if is_named(c_child, "What"):
                read_what(c_child, fields, problems)
            elif is_named(c_child, "WhereWhen"):
                c_wherewhen = c_child
            elif is_named(c_child, "Who"):
                _read_who(c_child, fields, problems)
            elif is_named(c_child, "How"):
                fields["how"] = _how(c_child)
            elif is_named(c_child, "Why"):
                fields["why"] = _why(c_child, problems)
            elif is_named(c_child, "Citations"):
                fields["citations"] = _citations(c_child, problems)
            elif is_named(c_child, "Description"):
                fields["description"] = stripped(c_child)
            elif is_named(c_child, "Reference"):
                root_reference = read_reference(c_child, problems)
            else:
                problems.append(f"unexpected element <{decode(c_child.name)}> under <VOEvent>")
        c_child = c_child.next
    if root_reference is not None:
        fields["references"] = (*fields.get("references", ()), root_reference)
    if c_wherewhen is NULL:
        return fields, None, None
    description = stripped(child(c_wherewhen, "Description"))
    if description is not None:
        fields["wherewhen_description"] = description
    wherewhen = cetree.elementFactory(root._doc, c_wherewhen)
    return fields, wherewhen, timescale_param(fields.get("params", ()))


def build_packet(dict fields not None):
    """A :class:`~vohub.voevent.model.Packet` from its field values, by name.

    The object ``Packet(**fields)`` makes, without the dataclass ``__init__``'s Python
    frame (18 fields cost as much as reading ten Params).

    Raises
    ------
    TypeError
        A required field is missing, or a name is not a field.

    >>> packet = build_packet({"ivorn": "ivo://a/b#c", "role": "test", "version": None, "raw": b""})
    >>> packet == Packet("ivo://a/b#c", "test", None, b""), packet.problems
    (True, ())
    >>> build_packet({"ivorn": "ivo://a/b#c", "role": "test"})
    Traceback (most recent call last):
    ...
    TypeError: Packet needs 'version'
    >>> build_packet({"ivorn": "ivo://a/b#c", "role": "test", "version": "2.0", "raw": b"", "x": 1})
    Traceback (most recent call last):
    ...
    TypeError: Packet has no field 'x'
    """
    values = []
    cdef Py_ssize_t used = 0
    for name, default in _PACKET_FIELDS:
        value = fields.get(name, MISSING)
        if value is MISSING:
            if default is MISSING:
                raise TypeError(f"Packet needs {name!r}")
            value = default
        else:
            used += 1
        values.append(value)
    if used != len(fields):
        unknown = next(name for name in fields if name not in {n for n, _ in _PACKET_FIELDS})
        raise TypeError(f"Packet has no field {unknown!r}")
    return new(&_PACKET, tuple(values))
