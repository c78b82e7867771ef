"""The callback interfaces: subclass :class:`Scheduler` or :class:`Executor`.

The names and arguments are those of Mesos's Python API (``mesos.interface``)
and of pymesos, so existing frameworks move over by changing an import.
Every callback also has a snake_case name (``resource_offers`` for
``resourceOffers``); override whichever you prefer. A class that does not
inherit from these works too, as long as it has the callbacks it needs.

Messages are dicts in the Mesos JSON format with attribute access (see
:mod:`meseta.messages`); ``data`` arguments are base64 text, as in pymesos
(:func:`meseta.decode_data` turns them into bytes).
"""

from __future__ import annotations

from typing import Any, List

__all__ = ["Scheduler", "Executor"]

Msg = Any


class Scheduler:
    """Callbacks of a framework's scheduler. Every one does nothing by default."""

    def registered(self, driver: Any, frameworkId: Msg, masterInfo: Msg) -> None:
        """Subscribed for the first time; ``frameworkId`` is ``{"value": ...}``."""

    def reregistered(self, driver: Any, masterInfo: Msg) -> None:
        """Subscribed again (after a master failover or a lost connection)."""

    def disconnected(self, driver: Any) -> None:
        """Lost the master; the driver reconnects on its own."""

    def resourceOffers(self, driver: Any, offers: List[Msg]) -> None:
        """New offers; accept them (``launchTasks``/``acceptOffers``) or decline them."""
        self.resource_offers(driver, offers)

    def offerRescinded(self, driver: Any, offerId: Msg) -> None:
        """An offer is no longer valid."""
        self.offer_rescinded(driver, offerId)

    def inverseOffers(self, driver: Any, offers: List[Msg]) -> None:
        """The master asks for agents back (maintenance is scheduled on their
        machines); answer with ``acceptInverseOffers`` or
        ``declineInverseOffer``."""
        self.inverse_offers(driver, offers)

    def inverseOfferRescinded(self, driver: Any, offerId: Msg) -> None:
        """An inverse offer is withdrawn."""
        self.inverse_offer_rescinded(driver, offerId)

    def statusUpdate(self, driver: Any, status: Msg) -> None:
        """A task changed state."""
        self.status_update(driver, status)

    def frameworkMessage(self, driver: Any, executorId: Msg, agentId: Msg, data: str) -> None:
        """An executor sent ``data`` (base64 text)."""
        self.framework_message(driver, executorId, agentId, data)

    def slaveLost(self, driver: Any, agentId: Msg) -> None:
        """An agent was lost."""
        self.slave_lost(driver, agentId)

    def executorLost(self, driver: Any, executorId: Msg, agentId: Msg, status: int) -> None:
        """An executor ended (``status`` is its wait status)."""
        self.executor_lost(driver, executorId, agentId, status)

    def error(self, driver: Any, message: str) -> None:
        """The master refused something, or a callback raised."""

    # snake_case aliases (the camelCase names above call these)

    def resource_offers(self, driver: Any, offers: List[Msg]) -> None:
        """Alias of :meth:`resourceOffers`."""

    def offer_rescinded(self, driver: Any, offer_id: Msg) -> None:
        """Alias of :meth:`offerRescinded`."""

    def inverse_offers(self, driver: Any, offers: List[Msg]) -> None:
        """Alias of :meth:`inverseOffers`."""

    def inverse_offer_rescinded(self, driver: Any, offer_id: Msg) -> None:
        """Alias of :meth:`inverseOfferRescinded`."""

    def status_update(self, driver: Any, status: Msg) -> None:
        """Alias of :meth:`statusUpdate`."""

    def framework_message(self, driver: Any, executor_id: Msg, agent_id: Msg, data: str) -> None:
        """Alias of :meth:`frameworkMessage`."""

    def slave_lost(self, driver: Any, agent_id: Msg) -> None:
        """Alias of :meth:`slaveLost`."""

    agent_lost = slave_lost

    def executor_lost(self, driver: Any, executor_id: Msg, agent_id: Msg, status: int) -> None:
        """Alias of :meth:`executorLost`."""


class Executor:
    """Callbacks of an executor. Every one does nothing by default."""

    def registered(
        self, driver: Any, executorInfo: Msg, frameworkInfo: Msg, agentInfo: Msg
    ) -> None:
        """Subscribed to the agent for the first time."""

    def reregistered(self, driver: Any, agentInfo: Msg) -> None:
        """Subscribed again after the agent restarted."""

    def disconnected(self, driver: Any) -> None:
        """The connection to the agent broke."""

    def launchTask(self, driver: Any, task: Msg) -> None:
        """Run ``task`` and report its states with ``sendStatusUpdate``."""
        self.launch_task(driver, task)

    def launchTaskGroup(self, driver: Any, tasks: Msg) -> None:
        """Run a task group (``{"tasks": [...]}``)."""
        self.launch_task_group(driver, tasks)

    def killTask(self, driver: Any, taskId: Msg) -> None:
        """Stop a task and report its end."""
        self.kill_task(driver, taskId)

    def frameworkMessage(self, driver: Any, data: str) -> None:
        """The scheduler sent ``data`` (base64 text)."""
        self.framework_message(driver, data)

    def shutdown(self, driver: Any) -> None:
        """Stop every task: the executor is being shut down."""

    def error(self, driver: Any, message: str) -> None:
        """Something went wrong that the driver cannot recover from, or a callback raised."""

    # snake_case aliases

    def launch_task(self, driver: Any, task: Msg) -> None:
        """Alias of :meth:`launchTask`."""

    def launch_task_group(self, driver: Any, tasks: Msg) -> None:
        """Alias of :meth:`launchTaskGroup`."""

    def kill_task(self, driver: Any, task_id: Msg) -> None:
        """Alias of :meth:`killTask`."""

    def framework_message(self, driver: Any, data: str) -> None:
        """Alias of :meth:`frameworkMessage`."""
