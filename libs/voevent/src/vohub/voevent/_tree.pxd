# cython: language_level=3
# How the compiled readers read libxml2's tree: the answers lxml's Python API gives.
#
# * An element matches by local name whatever its namespace (like ``{*}Param``), and only
#   element nodes count as children.
# * An attribute is read like ``el.get(name)``: without a namespace, through lxml's own
#   accessor when the value is not one text node (entity references), and from the DTD's
#   declared default when it is absent and the document has an internal subset.
# * Text is ``el.text`` (lxml's own ``textOf``).
#
# Header only: every function is inline, compiled into the modules that cimport it.

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy, strcmp
from lxml.includes cimport etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport const_xmlChar, xmlAttr, xmlNode


cdef extern from "Python.h":
    str PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object text)


cdef inline void require_build_lxml() except *:
    """Refuse to run on another lxml than the one whose headers the module was compiled with
    (its C structs and API may differ)."""
    from lxml import etree

    built = (<bytes>cetree.LXML_VERSION_STRING).decode()
    if etree.__version__ != built:
        raise ImportError(
            f"vohub.voevent's compiled readers were built against lxml {built}, but lxml"
            f" {etree.__version__} is installed: reinstall vohub-voevent"
        )


cdef inline bint is_named(xmlNode* c_node, const char* name) noexcept:
    """An element whose local name is ``name``."""
    return c_node.type == tree.XML_ELEMENT_NODE and strcmp(<const char*>c_node.name, name) == 0


cdef inline xmlNode* child(xmlNode* c_node, const char* name) noexcept:
    """The first child element called ``name`` (NULL if none, or if ``c_node`` is NULL)."""
    if c_node is NULL:
        return NULL
    cdef xmlNode* c_child = c_node.children
    while c_child is not NULL and not is_named(c_child, name):
        c_child = c_child.next
    return c_child


cdef inline str decode(const_xmlChar* c_text):
    """A str from libxml2's UTF-8 (ASCII, the usual case, is copied without decoding)."""
    cdef Py_ssize_t size = 0
    cdef unsigned char seen = 0
    while c_text[size] != 0:
        seen |= c_text[size]
        size += 1
    if seen >= 128:
        return PyUnicode_DecodeUTF8(<const char*>c_text, size, NULL)
    cdef str text = PyUnicode_New(size, 127)
    memcpy(PyUnicode_DATA(text), c_text, size)
    return text


cdef inline str attr_value(xmlNode* c_node, xmlAttr* c_attr):
    """The value of an attribute node of ``c_node``."""
    cdef xmlNode* c_text = c_attr.children
    if c_text is not NULL and c_text.next is NULL and c_text.type == tree.XML_TEXT_NODE:
        return decode(c_text.content)
    return cetree.attributeValue(c_node, c_attr)  # empty, or holding entity references


cdef inline str absent_attr(xmlNode* c_node, const char* name):
    """The value of an attribute the element does not carry: a DTD default, or None."""
    if c_node.doc.intSubset is NULL:
        return None
    return cetree.attributeValueFromNsName(c_node, NULL, <const_xmlChar*>name)


cdef inline str get(xmlNode* c_node, const char* name):
    """``el.get(name)``: the un-namespaced attribute's value, or None."""
    cdef xmlAttr* c_attr = c_node.properties
    while c_attr is not NULL:
        if c_attr.ns is NULL and strcmp(<const char*>c_attr.name, name) == 0:
            return attr_value(c_node, c_attr)
        c_attr = c_attr.next
    return absent_attr(c_node, name)


cdef inline str node_text(xmlNode* c_node):
    """``el.text``, or None for a missing element."""
    return None if c_node is NULL else cetree.textOf(c_node)


cdef inline str stripped(xmlNode* c_node):
    """The element's text stripped, or None when it is missing, empty or white space."""
    cdef str found = node_text(c_node)
    if found is None:
        return None
    found = found.strip()
    return found or None


cdef inline str stripped_or_empty(xmlNode* c_node):
    """The element's text stripped (``""`` for white space), or None when missing or empty."""
    cdef str found = node_text(c_node)
    return found.strip() if found else None
