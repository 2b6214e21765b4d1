"""TwiML documents as a tree of verbs.

Only the shape is checked here; what each verb does is in ``interpreter.py``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """A document Twilio could not run (it would say "an application error has occurred")."""


@dataclass(frozen=True)
class Verb:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    def attr(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        value = self.attrs.get(name)
        return default if value is None else value.strip().lower() == "true"

    def number(self, name: str, default: float) -> float:
        try:
            return float(self.attrs[name])
        except (KeyError, ValueError):
            return default

    def describe(self) -> str:
        """A short form for the call's timeline: the verb, its attributes, its text."""
        attrs = " ".join(f'{k}="{v}"' for k, v in self.attrs.items())
        head = f"<{self.name}{' ' + attrs if attrs else ''}>"
        return f"{head}{self.text}" if self.text else head


def _strip_namespace(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _verb(element: ET.Element) -> Verb:
    return Verb(
        name=_strip_namespace(element.tag),
        attrs=dict(element.attrib),
        text=(element.text or "").strip(),
        children=tuple(_verb(child) for child in element),
    )


def parse_twiml(text: str) -> tuple[Verb, ...]:
    """The verbs of a ``<Response>`` document, in order."""
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as error:
        raise TwimlError(f"not well-formed XML: {error}") from error
    if _strip_namespace(root.tag) != "Response":
        raise TwimlError(f"the root element must be <Response>, got <{_strip_namespace(root.tag)}>")
    return tuple(_verb(child) for child in root)
