# cython: language_level=3
# What the compiled What reader (_what.pyx) offers the other compiled readers.

from lxml.includes.tree cimport xmlNode


cdef void read_what(xmlNode* c_what, dict fields, list problems) except *
cdef object read_reference(xmlNode* c_node, list problems)
cdef str timescale_param(tuple params)
