"""``MesosExecutorDriver``: Mesos's Python executor driver on the Rust core."""

from __future__ import annotations

from typing import Any, List, Mapping, Union

from . import _meseta
from ._dispatch import DRIVER_RUNNING, deliver
from .messages import decode_data, dict_factory, dumps

__all__ = ["MesosExecutorDriver"]


class MesosExecutorDriver:
    """Connects a :class:`meseta.Executor` to the agent that started this
    process (from the ``MESOS_*`` environment the agent sets). Methods
    return the driver status and may be called from any thread."""

    def __init__(self, executor: Any, use_addict: bool = False) -> None:
        self.executor = executor
        self._factory = dict_factory(use_addict)
        self._native = _meseta.ExecutorDriver(self)

    def start(self) -> int:
        """Subscribes to the agent; callbacks follow."""
        return self._native.start()

    def stop(self) -> int:
        """Stops the driver."""
        return self._native.stop()

    def abort(self) -> int:
        """Stops callbacks and calls at once."""
        return self._native.abort()

    def join(self) -> int:
        """Blocks until the driver is stopped or aborted."""
        return self._native.join()

    def run(self) -> int:
        """:meth:`start` then :meth:`join` (Ctrl-C stops the driver and
        ``KeyboardInterrupt`` propagates)."""
        status = self.start()
        if status != DRIVER_RUNNING:
            return status
        try:
            return self.join()
        except KeyboardInterrupt:
            self.stop()
            raise

    def sendStatusUpdate(self, status: Mapping[str, Any]) -> int:
        """Reports a task's state; kept and resent until the agent
        acknowledges it. ``uuid``, ``timestamp``, ``source`` and
        ``executor_id`` are filled in."""
        return self._native.send_status_update(dumps(status))

    def sendFrameworkMessage(self, data: Union[str, bytes]) -> int:
        """Sends ``data`` (base64 text or bytes) to the scheduler."""
        if isinstance(data, str):
            data = decode_data(data)
        return self._native.send_framework_message(bytes(data))

    send_status_update = sendStatusUpdate
    send_framework_message = sendFrameworkMessage

    def _dispatch(self, name: str, payloads: List[str]) -> None:
        deliver(self, self.executor, name, payloads, self._factory)
