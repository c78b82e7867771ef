"""Messages as Mesos JSON, the way pymesos passes them.

Every message is a dict keyed by the ``.proto`` field names, with enum values
as their names and ``bytes`` fields as base64 text. :class:`Message` is a
``dict`` that also allows attribute access (``offer.agent_id.value``), so
code written for plain dicts and code written for ``addict`` both work.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Dict, Type, Union

__all__ = ["Message", "encode_data", "decode_data", "loads", "dumps"]


class Message(dict):
    """A dict whose keys can also be read and written as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def encode_data(data: Union[bytes, bytearray, str]) -> str:
    """Base64 text of ``data`` (strings are encoded as UTF-8 first)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(bytes(data)).decode("ascii")


def decode_data(data: str) -> bytes:
    """The bytes behind base64 text."""
    return base64.b64decode(data)


def dict_factory(use_addict: bool) -> Type[dict]:
    """The dict type messages are built from."""
    if use_addict:
        try:
            from addict import Dict as AddictDict  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - depends on the environment
            return Message
        return AddictDict
    return Message


def loads(text: str, factory: Callable[[Dict[str, Any]], Any] = Message) -> Any:
    """Decodes Mesos JSON text into messages built by ``factory``."""
    return json.loads(text, object_hook=factory)


def dumps(message: Any) -> str:
    """Encodes a message (any mapping or list of them) as JSON text."""
    return json.dumps(message, separators=(",", ":"))
