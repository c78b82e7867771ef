"""Delivering native callbacks to user objects (shared by both drivers)."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any, Callable, List, Optional

from .messages import loads

log = logging.getLogger("meseta")

DRIVER_NOT_STARTED = 1
DRIVER_RUNNING = 2
DRIVER_ABORTED = 3
DRIVER_STOPPED = 4

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    """``resourceOffers`` -> ``resource_offers``."""
    return _CAMEL.sub("_", name).lower()


def lookup(target: Any, name: str) -> Optional[Callable[..., Any]]:
    """The callback ``name`` of ``target``, by its Mesos or snake_case name."""
    return getattr(target, name, None) or getattr(target, snake_case(name), None)


def deliver(driver: Any, target: Any, name: str, payloads: List[str], factory: Any) -> None:
    """Calls ``target.<name>(driver, *messages)``. A callback that raises is
    logged with its traceback and reported through ``error``; the driver
    goes on."""
    callback = lookup(target, name)
    if callback is None:
        return
    try:
        arguments = [loads(payload, factory) for payload in payloads]
        callback(driver, *arguments)
    except Exception as exc:  # noqa: BLE001 - every user error is reported
        log.error("%s.%s raised:\n%s", type(target).__name__, name, traceback.format_exc())
        if name == "error":
            return
        report = lookup(target, "error")
        if report is None:
            return
        try:
            report(driver, f"{name} raised {type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001
            log.error("%s.error raised:\n%s", type(target).__name__, traceback.format_exc())
