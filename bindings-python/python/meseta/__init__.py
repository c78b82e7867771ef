"""Meseta for Python: the Mesos scheduler and executor API on Meseta's Rust core.

Frameworks written for pymesos or ``mesos.interface``/``mesos.native`` move
over by changing an import::

    from meseta import Scheduler, MesosSchedulerDriver, encode_data, decode_data
"""

from ._dispatch import DRIVER_ABORTED, DRIVER_NOT_STARTED, DRIVER_RUNNING, DRIVER_STOPPED
from ._meseta import __version__
from .executor import MesosExecutorDriver
from .interface import Executor, Scheduler
from .messages import Message, decode_data, encode_data
from .scheduler import MesosSchedulerDriver

__all__ = [
    "Scheduler",
    "Executor",
    "MesosSchedulerDriver",
    "MesosExecutorDriver",
    "Message",
    "encode_data",
    "decode_data",
    "DRIVER_NOT_STARTED",
    "DRIVER_RUNNING",
    "DRIVER_ABORTED",
    "DRIVER_STOPPED",
    "__version__",
]
