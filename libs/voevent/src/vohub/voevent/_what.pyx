# cython: language_level=3, boundscheck=False, wraparound=False
"""Read ``What`` (Params, Groups, Tables, References) straight from libxml2's tree (compiled).

Params are most of a packet's elements (36 a packet on average in the 2016-09 archive), so
reading them without an lxml proxy each is what makes extraction cheap: attributes and text
are read as ``_tree.pxd`` says and each Param is built without its ``__init__``'s Python
frame (``_slots.pxd``).  Called by :mod:`vohub.voevent._walk`.
"""

from libc.string cimport strcmp
from lxml.includes cimport etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport xmlAttr, xmlNode

from vohub.voevent._slots cimport Layout, alloc, get, layout_of, new, put
from vohub.voevent._tree cimport (
    absent_attr,
    attr_value,
    child,
    get as get_attr,
    is_named,
    node_text,
    require_build_lxml,
    stripped,
)

from vohub.voevent.model import Group, Param, Reference, Table

cetree.import_lxml__etree()
require_build_lxml()

cdef Layout _GROUP = layout_of(Group)
cdef Layout _PARAM = layout_of(Param)
cdef Layout _REFERENCE = layout_of(Reference)
cdef Layout _TABLE = layout_of(Table)


# -- Params ------------------------------------------------------------------------------


cdef object _param(xmlNode* c_node, list problems):
    """One ``Param`` or ``Field``: attributes, a ``Value`` child, a ``Description`` child."""
    cdef str name = None, value = None, unit = None, ucd = None, utype = None
    cdef str datatype = None, lowercase = None
    cdef const char* key
    cdef xmlAttr* c_attr = c_node.properties
    while c_attr is not NULL:  # one pass over the attributes rather than a lookup per name
        key = <const char*>c_attr.name
        if c_attr.ns is not NULL:
            pass
        elif key[0] == c"n" and strcmp(key, "name") == 0:
            name = attr_value(c_node, c_attr)
        elif key[0] == c"v" and strcmp(key, "value") == 0:
            value = attr_value(c_node, c_attr)
        elif key[0] == c"u":
            if strcmp(key, "ucd") == 0:
                ucd = attr_value(c_node, c_attr)
            elif strcmp(key, "unit") == 0:
                unit = attr_value(c_node, c_attr)
            elif strcmp(key, "utype") == 0:
                utype = attr_value(c_node, c_attr)
        elif key[0] == c"d":
            if strcmp(key, "dataType") == 0:
                datatype = attr_value(c_node, c_attr)
            elif strcmp(key, "datatype") == 0:
                lowercase = attr_value(c_node, c_attr)
        c_attr = c_attr.next
    if c_node.doc.intSubset is not NULL:  # absent attributes may have DTD defaults
        name = name if name is not None else absent_attr(c_node, "name")
        value = value if value is not None else absent_attr(c_node, "value")
        ucd = ucd if ucd is not None else absent_attr(c_node, "ucd")
        unit = unit if unit is not None else absent_attr(c_node, "unit")
        datatype = datatype if datatype is not None else absent_attr(c_node, "dataType")
        lowercase = lowercase if lowercase is not None else absent_attr(c_node, "datatype")
        utype = utype if utype is not None else absent_attr(c_node, "utype")
    if datatype is None and lowercase is not None:
        datatype = lowercase
        problems.append(f"Param {name!r}: attribute 'datatype' should be spelt 'dataType'")
    description = None
    cdef xmlNode* c_child = c_node.children
    while c_child is not NULL:
        if is_named(c_child, "Description"):
            description = stripped(c_child)
        elif is_named(c_child, "Value") and value is None:
            value = node_text(c_child) or ""
        c_child = c_child.next
    param = alloc(&_PARAM)
    put(&_PARAM, param, 0, name)
    put(&_PARAM, param, 1, value)
    put(&_PARAM, param, 2, unit)
    put(&_PARAM, param, 3, ucd)
    put(&_PARAM, param, 4, datatype)
    put(&_PARAM, param, 5, utype)
    put(&_PARAM, param, 6, description)
    return param


cdef object _group(xmlNode* c_node, list problems):
    """One ``What/Group`` with its Params and its first Description."""
    return new(&_GROUP, (
        get_attr(c_node, "name"),
        get_attr(c_node, "type"),
        _each(c_node, "Param", _param, problems),
        stripped(child(c_node, "Description")),
    ))


cdef tuple _row(xmlNode* c_row):
    """The cell texts of one ``Data`` row (``""`` for an empty cell)."""
    cells = []
    cdef xmlNode* c_cell = c_row.children
    while c_cell is not NULL:
        if c_cell.type == tree.XML_ELEMENT_NODE:
            cells.append(node_text(c_cell) or "")
        c_cell = c_cell.next
    return tuple(cells)


cdef object _table(xmlNode* c_node, list problems):
    """One ``What/Table``: Params, Fields, the last Description and the rows of ``Data``."""
    params = []
    fields = []
    rows = []
    description = None
    cdef xmlNode* c_child = c_node.children
    cdef xmlNode* c_row
    while c_child is not NULL:
        if is_named(c_child, "Field"):
            fields.append(_param(c_child, problems))
        elif is_named(c_child, "Param"):
            params.append(_param(c_child, problems))
        elif is_named(c_child, "Description"):
            description = stripped(c_child)
        elif is_named(c_child, "Data"):
            c_row = c_child.children
            while c_row is not NULL:
                if c_row.type == tree.XML_ELEMENT_NODE:
                    rows.append(_row(c_row))
                c_row = c_row.next
        c_child = c_child.next
    return new(&_TABLE, (
        get_attr(c_node, "name"),
        get_attr(c_node, "type"),
        description,
        tuple(params),
        tuple(fields),
        tuple(rows),
    ))


cdef object read_reference(xmlNode* c_node, list problems):
    """A ``Reference``; a missing ``uri`` (required by the schema) is a problem."""
    uri = get_attr(c_node, "uri")
    if uri is None:
        problems.append("<Reference> without a uri attribute")
    return new(&_REFERENCE, (
        uri or "",
        get_attr(c_node, "type"),
        get_attr(c_node, "meaning"),
        get_attr(c_node, "mimetype"),
    ))


cdef tuple _each(xmlNode* c_node, const char* name, object (*read)(xmlNode*, list), list problems):
    """``read`` applied to every child element called ``name``, in document order."""
    found = []
    cdef xmlNode* c_child = c_node.children
    while c_child is not NULL:
        if is_named(c_child, name):
            found.append(read(c_child, problems))
        c_child = c_child.next
    return tuple(found)


cdef void read_what(xmlNode* c_what, dict fields, list problems) except *:
    """``What``: Params, then Groups, Tables and References (problems in that order)."""
    fields["params"] = _each(c_what, "Param", _param, problems)
    fields["groups"] = _each(c_what, "Group", _group, problems)
    fields["tables"] = _each(c_what, "Table", _table, problems)
    fields["references"] = _each(c_what, "Reference", read_reference, problems)
    fields["what_description"] = stripped(child(c_what, "Description"))


cdef str timescale_param(tuple params):
    """The value of the first Param called ``timescale`` with one (GAIA's time scale)."""
    for param in params:
        if get(&_PARAM, param, 0) == "timescale" and get(&_PARAM, param, 1):
            return get(&_PARAM, param, 1)
    return None
