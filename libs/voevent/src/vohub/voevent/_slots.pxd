# cython: language_level=3
# Build the model's frozen slotted dataclasses as their generated __init__ builds them,
# minus its Python frame.
#
# A slotted class keeps each field at a fixed offset inside the object, recorded by the
# field's member descriptor; the generated __init__ stores there through
# object.__setattr__.  ``layout_of`` reads the offsets once, checking that every field is
# a plain writable object slot; ``alloc`` makes an instance with object.__new__ and ``put``
# stores a value in one of its empty slots.  Every slot must be ``put`` before the instance
# is used (reading an empty slot raises AttributeError, as for any unset slot).
#
# Header only: every function is inline, compiled into the modules that cimport it.

from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    enum:
        T_OBJECT_EX
        READONLY


cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef enum:
    MAX_FIELDS = 24


cdef struct Layout:
    PyTypeObject* cls  # borrowed: the model module keeps its classes alive
    Py_ssize_t size
    Py_ssize_t offsets[MAX_FIELDS]


cdef inline Layout layout_of(type cls) except *:
    """Where each field of a frozen slotted dataclass lives, in field order."""
    from dataclasses import fields
    from types import MemberDescriptorType

    cdef Layout layout
    cdef PyMemberDef* member
    names = [field.name for field in fields(cls)]
    if len(names) > MAX_FIELDS:
        raise TypeError(f"{cls.__name__} has more than {MAX_FIELDS} fields")
    for index, name in enumerate(names):
        slot = cls.__dict__.get(name)
        if type(slot) is not MemberDescriptorType:
            raise TypeError(f"{cls.__name__}.{name} is not a slot")
        member = (<PyMemberDescrObject*><PyObject*>slot).d_member
        if member.type != T_OBJECT_EX or member.flags & READONLY:
            raise TypeError(f"{cls.__name__}.{name} is not a writable object slot")
        layout.offsets[index] = member.offset
    layout.cls = <PyTypeObject*>cls
    layout.size = len(names)
    return layout


cdef inline object alloc(const Layout* layout):
    """A new instance whose slots are all empty (``object.__new__``)."""
    cdef tuple no_args = ()
    return layout.cls.tp_new(<object><PyObject*>layout.cls, <PyObject*>no_args, NULL)


cdef inline void put(const Layout* layout, object obj, Py_ssize_t index, object value) noexcept:
    """Store ``value`` in empty slot ``index`` of an instance from ``alloc``."""
    Py_INCREF(value)
    (<PyObject**>(<char*><PyObject*>obj + layout.offsets[index]))[0] = <PyObject*>value


cdef inline object get(const Layout* layout, object obj, Py_ssize_t index):
    """The value in slot ``index`` of a complete instance."""
    return <object>(<PyObject**>(<char*><PyObject*>obj + layout.offsets[index]))[0]


cdef inline object new(const Layout* layout, tuple values):
    """An instance from all its field values, in field order."""
    if len(values) != layout.size:
        raise TypeError(f"{(<object><PyObject*>layout.cls).__name__} takes {layout.size} values")
    obj = alloc(layout)
    cdef Py_ssize_t index
    for index in range(layout.size):
        put(layout, obj, index, values[index])
    return obj
