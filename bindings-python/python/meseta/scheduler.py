"""``MesosSchedulerDriver``: Mesos's Python scheduler driver on the Rust core."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

from . import _meseta
from ._dispatch import DRIVER_RUNNING, deliver
from .messages import decode_data, dict_factory, dumps, loads

__all__ = ["MesosSchedulerDriver"]

Msg = Mapping[str, Any]


def _list(ids: Union[Msg, Sequence[Msg]]) -> List[Msg]:
    """One ID or several, as pymesos accepts them."""
    if isinstance(ids, Mapping):
        return [ids]
    return list(ids)


def _bytes(data: Union[str, bytes, bytearray]) -> bytes:
    """Base64 text (pymesos's convention) or raw bytes."""
    if isinstance(data, str):
        return decode_data(data)
    return bytes(data)


class MesosSchedulerDriver:
    """Connects a :class:`meseta.Scheduler` to the leading master.

    ``master`` is ``HOST:PORT``, ``zk://HOST:PORT[,...]/PATH`` or
    ``file:///path``; the driver follows leader changes and re-subscribes on
    its own. ``framework`` is a FrameworkInfo dict (Mesos JSON); set its
    ``id`` to fail over from an earlier instance. Every method returns the
    driver status (``meseta.DRIVER_RUNNING``, ...), never blocks except
    :meth:`join` and :meth:`run`, and may be called from any thread,
    including from callbacks.
    """

    def __init__(
        self,
        scheduler: Any,
        framework: Msg,
        master: str,
        use_addict: bool = False,
        implicit_acknowledgements: bool = True,
        principal: Optional[str] = None,
        secret: Optional[str] = None,
    ) -> None:
        self.scheduler = scheduler
        self.framework = dict(framework)
        self.master = master
        self.implicit_acknowledgements = implicit_acknowledgements
        self._factory = dict_factory(use_addict)
        self._native = _meseta.SchedulerDriver(
            self,
            dumps(self.framework),
            master,
            implicit_acknowledgements,
            principal,
            secret,
        )

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> int:
        """Starts connecting; callbacks follow."""
        return self._native.start()

    def stop(self, failover: bool = False) -> int:
        """Stops. ``failover=False`` tears the framework down (its tasks are
        killed); ``failover=True`` only disconnects, so another instance may
        take over within the framework's ``failover_timeout``."""
        return self._native.stop(failover)

    def abort(self) -> int:
        """Stops callbacks and calls at once, without tearing down."""
        return self._native.abort()

    def join(self) -> int:
        """Blocks until the driver is stopped or aborted."""
        return self._native.join()

    def run(self) -> int:
        """:meth:`start` then :meth:`join`. On Ctrl-C the driver stops with
        ``failover=True`` (tasks keep running for ``failover_timeout``) and
        ``KeyboardInterrupt`` propagates."""
        status = self.start()
        if status != DRIVER_RUNNING:
            return status
        try:
            return self.join()
        except KeyboardInterrupt:
            self.stop(failover=True)
            raise

    @property
    def framework_id(self) -> Optional[str]:
        """The framework's ID once subscribed."""
        text = self._native.framework_id()
        return None if text is None else loads(text)["value"]

    # -- calls ---------------------------------------------------------------

    def launchTasks(
        self,
        offerIds: Union[Msg, Sequence[Msg]],
        tasks: Sequence[Msg],
        filters: Optional[Msg] = None,
    ) -> int:
        """Launches ``tasks`` on the offers (no tasks declines them)."""
        return self._native.launch_tasks(
            dumps(_list(offerIds)), dumps(list(tasks)), _optional(filters)
        )

    def acceptOffers(
        self,
        offerIds: Union[Msg, Sequence[Msg]],
        operations: Sequence[Msg],
        filters: Optional[Msg] = None,
    ) -> int:
        """Runs offer operations (``LAUNCH``, ``LAUNCH_GROUP``, ``RESERVE``, ...)."""
        return self._native.accept_offers(
            dumps(_list(offerIds)), dumps(list(operations)), _optional(filters)
        )

    def declineOffer(
        self, offerIds: Union[Msg, Sequence[Msg]], filters: Optional[Msg] = None
    ) -> int:
        """Declines one offer or several."""
        status = DRIVER_RUNNING
        for offer_id in _list(offerIds):
            status = self._native.decline_offer(dumps(offer_id), _optional(filters))
        return status

    def acceptInverseOffers(
        self, offerIds: Union[Msg, Sequence[Msg]], filters: Optional[Msg] = None
    ) -> int:
        """Accepts inverse offers: the framework can free those agents before
        their maintenance."""
        return self._native.answer_inverse_offers(dumps(_list(offerIds)), True, _optional(filters))

    def declineInverseOffer(
        self, offerIds: Union[Msg, Sequence[Msg]], filters: Optional[Msg] = None
    ) -> int:
        """Declines inverse offers: the framework cannot free those agents in
        time (pymesos's name; ``declineInverseOffers`` is the same)."""
        return self._native.answer_inverse_offers(dumps(_list(offerIds)), False, _optional(filters))

    declineInverseOffers = declineInverseOffer

    def reviveOffers(self, roles: Iterable[str] = ()) -> int:
        """Removes offer filters and resumes offers for ``roles`` (default:
        all of the framework's roles)."""
        return self._native.revive_offers(list(roles))

    def suppressOffers(self, roles: Iterable[str] = ()) -> int:
        """Stops offers for ``roles`` (default: all of the framework's roles)
        until :meth:`reviveOffers`."""
        return self._native.suppress_offers(list(roles))

    def killTask(self, taskId: Msg) -> int:
        """Kills a task; its end arrives as a status update."""
        return self._native.kill_task(dumps(taskId))

    def acknowledgeStatusUpdate(self, status: Msg) -> int:
        """Acknowledges an update (only with ``implicit_acknowledgements=False``)."""
        return self._native.acknowledge_status_update(dumps(status))

    def sendFrameworkMessage(self, executorId: Msg, agentId: Msg, data: Union[str, bytes]) -> int:
        """Sends ``data`` (base64 text or bytes) to an executor."""
        return self._native.send_framework_message(dumps(executorId), dumps(agentId), _bytes(data))

    def reconcileTasks(self, tasks: Sequence[Msg]) -> int:
        """Asks for the latest state of ``tasks`` (statuses with ``task_id`` and
        ideally ``agent_id``); an empty list asks for every task."""
        return self._native.reconcile_tasks(dumps([_status(task) for task in tasks]))

    def updateFramework(
        self,
        frameworkInfo: Msg,
        suppressedRoles: Iterable[str] = (),
        offerConstraints: Optional[Msg] = None,
    ) -> int:
        """Replaces the framework's FrameworkInfo (name, roles, capabilities,
        failover timeout, ...; not ``principal``, ``user`` or ``checkpoint``)
        and its exact set of suppressed roles. The framework ID is kept.
        A refusal by the master arrives through ``error``. Offer constraints
        are not supported yet: passing any raises ``NotImplementedError``."""
        if offerConstraints:
            raise NotImplementedError("offer constraints are not supported by Meseta yet")
        self.framework = dict(frameworkInfo)
        return self._native.update_framework(dumps(self.framework), list(suppressedRoles))

    def requestResources(self, requests: Sequence[Msg]) -> int:
        """Hints the allocator (Mesos ignores it too, but the call is sent)."""
        return self._native.request_resources(dumps(list(requests)))

    launch_tasks = launchTasks
    accept_offers = acceptOffers
    decline_offer = declineOffer
    revive_offers = reviveOffers
    suppress_offers = suppressOffers
    kill_task = killTask
    acknowledge_status_update = acknowledgeStatusUpdate
    send_framework_message = sendFrameworkMessage
    reconcile_tasks = reconcileTasks
    request_resources = requestResources

    # -- from the native driver ---------------------------------------------

    def _dispatch(self, name: str, payloads: List[str]) -> None:
        deliver(self, self.scheduler, name, payloads, self._factory)


def _optional(message: Optional[Msg]) -> Optional[str]:
    return None if message is None else dumps(message)


def _status(task: Msg) -> Msg:
    """A reconciliation entry: a TaskStatus needs a state on the wire."""
    status = dict(task)
    status.setdefault("state", "TASK_RUNNING")
    return status
