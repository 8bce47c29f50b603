"""MNS's XML documents: reading request bodies, writing responses.

Requests are read with ``defusedxml`` (no DTDs, no entities) and strictly: the root element the
action takes, each known element at most once, nothing unknown (refused rather than ignored).
Responses are in MNS's namespace; text is escaped so that a parser gives back exactly what was
stored (``\\r`` too, which XML would otherwise turn into ``\\n``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from fnflow.compat.alibaba.mns.errors import MnsError
from fnflow.errors import InvalidArgument
from fnflow.queues.notify import XML_NAMESPACE

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ENTITIES = {"\r": "&#13;"}  # besides &, < and >


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse(body: bytes, *roots: str) -> ET.Element:
    """The document of ``body``, whose root must be one of ``roots`` (namespaces are left out of
    the names: the SDKs send MNS's, other clients may send none)."""
    if not body.strip():
        raise MnsError(400, "MalformedXML", f"The request must have a body: an XML <{roots[0]}> document.")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException) as e:
        raise MnsError(400, "MalformedXML", f"The XML you provided was not well-formed: {e}") from None
    for element in root.iter():
        element.tag = _local(element.tag)
    if root.tag not in roots:
        raise invalid(root.tag, f"the document must be <{'> or <'.join(roots)}>")
    return root


def invalid(element: str, why: str) -> InvalidArgument:
    schema = "The XML you provided did not validate against our published schema"
    return InvalidArgument(f"{schema}, cause by Element {element}: {why}")


def fields(element: ET.Element, known: Iterable[str], *, nested: Iterable[str] = ()) -> dict[str, str]:
    """The text of ``element``'s children by name; those named in ``nested`` may have children of
    their own (read them with ``children``)."""
    allowed, deeper = set(known), set(nested)
    values: dict[str, str] = {}
    for child in element:
        if child.tag not in allowed | deeper:
            raise invalid(child.tag, f"<{element.tag}> has no such element")
        if child.tag in values:
            raise invalid(child.tag, "it is given more than once")
        if len(child) and child.tag not in deeper:
            raise invalid(child.tag, "it holds text, not elements")
        values[child.tag] = child.text or ""
    return values


def children(element: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in element if child.tag == name), None)


def _element(name: str, text: str) -> str:
    return f"<{name}>{escape(text, _ENTITIES)}</{name}>"


def _fields(values: Mapping[str, str]) -> str:
    return "".join(_element(name, text) for name, text in values.items())


def document(root: str, values: Mapping[str, str]) -> bytes:
    """``<root xmlns=MNS>`` holding one element per value, in order."""
    return f'{_DECLARATION}<{root} xmlns="{XML_NAMESPACE}">{_fields(values)}</{root}>'.encode()


def document_of_list(
    root: str, item: str, items: Iterable[Mapping[str, str]], after: Mapping[str, str] | None = None
) -> bytes:
    """``<root xmlns=MNS>`` holding an ``<item>`` per entry of ``items``, then ``after``'s elements."""
    inner = "".join(f"<{item}>{_fields(values)}</{item}>" for values in items) + _fields(after or {})
    return f'{_DECLARATION}<{root} xmlns="{XML_NAMESPACE}">{inner}</{root}>'.encode()
