"""Every scheduler driver method and callback, against a real cluster."""

from __future__ import annotations

import threading
import time

import meseta
import pytest
from conftest import Recorder, command_task, get_json, wait_for


def framework(name: str, **extra) -> dict:
    return {"user": "", "name": name, **extra}


def offers_of(event):
    return event[1] if event[0] == "resourceOffers" else None


def update(task_id: str, state: str):
    def pick(event):
        if (
            event[0] == "statusUpdate"
            and event[1]["task_id"]["value"] == task_id
            and event[1]["state"] == state
        ):
            return event[1]
        return None

    return pick


def test_lifecycle_status_codes_and_registration(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(recorder, framework("codes"), cluster.master.address)
    assert driver.start() == meseta.DRIVER_RUNNING
    assert driver.start() == meseta.DRIVER_RUNNING  # already running: unchanged
    framework_id, master_info = recorder.wait(
        "registered", lambda e: e[1:] if e[0] == "registered" else None
    )
    assert framework_id.value == driver.framework_id
    assert master_info["address"]["port"] == int(cluster.master.address.rsplit(":", 1)[1])
    assert driver.requestResources([{"agent_id": {"value": "any"}}]) == meseta.DRIVER_RUNNING
    assert driver.stop() == meseta.DRIVER_STOPPED
    assert driver.join() == meseta.DRIVER_STOPPED
    # A stopped framework (failover=False) is torn down on the master.
    wait_for(
        "the framework to be completed",
        lambda: any(
            f["id"] == framework_id.value
            for f in get_json(cluster.master.address, "/master/frameworks")["completed_frameworks"]
        ),
    )


def test_launch_acknowledge_reconcile_kill(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder,
        framework("explicit-acks"),
        cluster.master.address,
        implicit_acknowledgements=False,
    )
    driver.start()
    offer = recorder.wait("offers", offers_of)[0]
    driver.acceptOffers(
        [offer["id"]],
        [
            {
                "type": "LAUNCH",
                "launch": {"task_infos": [command_task("sleeper", offer, "sleep 600")]},
            }
        ],
    )
    # With explicit acknowledgements the next update waits for the ack of
    # the previous one (the agent resends it until then).
    starting = recorder.wait("sleeper starting", update("sleeper", "TASK_STARTING"))
    assert driver.acknowledgeStatusUpdate(starting) == meseta.DRIVER_RUNNING
    running = recorder.wait("sleeper running", update("sleeper", "TASK_RUNNING"))
    assert running.agent_id == offer.agent_id and "uuid" in running
    assert driver.acknowledgeStatusUpdate(running) == meseta.DRIVER_RUNNING
    # Once acknowledged, the master's view has the task running.
    wait_for(
        "the master sees the task running", lambda: cluster.metric("master/tasks_running") == 1
    )

    recorder.clear()
    driver.reconcileTasks([{"task_id": {"value": "sleeper"}, "agent_id": offer["agent_id"]}])
    reconciled = recorder.wait("reconciliation", update("sleeper", "TASK_RUNNING"))
    assert reconciled["reason"] == "REASON_RECONCILIATION"
    recorder.clear()
    driver.reconcileTasks([])  # implicit: every task
    recorder.wait("implicit reconciliation", update("sleeper", "TASK_RUNNING"))

    driver.killTask({"value": "sleeper"})
    killed = recorder.wait("sleeper killed", update("sleeper", "TASK_KILLED"))
    driver.acknowledgeStatusUpdate(killed)
    driver.stop()
    driver.join()


def test_decline_revive_and_suppress(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(recorder, framework("filters"), cluster.master.address)
    driver.start()
    offers = recorder.wait("offers", offers_of)
    assert (
        driver.declineOffer([o["id"] for o in offers], {"refuse_seconds": 3600.0})
        == meseta.DRIVER_RUNNING
    )
    agents = {o["agent_id"]["value"] for o in offers}
    if len(agents) < 2:  # the other agent's offer may come separately
        more = recorder.wait(
            "the other agent's offer",
            lambda e: offers_of(e) if e is not recorder.named("resourceOffers")[0] else None,
        )
        driver.declineOffer([o["id"] for o in more], {"refuse_seconds": 3600.0})
    recorder.clear()
    driver.reviveOffers()
    recorder.wait("offers after revive", offers_of)

    driver.suppressOffers()
    time.sleep(0)  # suppression is asynchronous; offers in flight may still land
    for event in recorder.named("resourceOffers"):
        driver.declineOffer([o["id"] for o in event[1]])
    recorder.clear()
    with pytest.raises(AssertionError):
        recorder.wait("no offers while suppressed", offers_of, deadline=1.5)
    driver.reviveOffers()
    recorder.wait("offers after reviving again", offers_of)
    driver.stop()
    driver.join()


def test_framework_messages_with_a_python_executor(cluster):
    import subprocess
    import sys

    from conftest import EXAMPLES

    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "ping_pong" / "scheduler.py"),
            "--master",
            cluster.master.address,
            "--rounds",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pongs=4 final=TASK_FINISHED" in result.stdout


def test_rescinded_offers_and_a_lost_agent(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(recorder, framework("loser"), cluster.master.address)
    driver.start()
    held = {}

    def all_offers(event):
        if event[0] == "resourceOffers":
            for offer in event[1]:
                held[offer["agent_id"]["value"]] = offer
        return len(held) == 2

    recorder.wait("offers from both agents", all_offers)
    victim = cluster.agents[1]
    victim_id = get_json(victim.address, "/state")["id"]
    victim.kill()
    rescinded = recorder.wait(
        "the dead agent's offer rescinded", lambda e: e[1] if e[0] == "offerRescinded" else None
    )
    assert rescinded.value == held[victim_id]["id"]["value"]
    lost = recorder.wait("slaveLost", lambda e: e[1] if e[0] == "slaveLost" else None)
    assert lost.value == victim_id
    driver.stop()
    driver.join()


def test_executor_lost(cluster, tmp_path):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder, framework("doomed-executor"), cluster.master.address
    )
    driver.start()
    offer = recorder.wait("offers", offers_of)[0]
    task = command_task("crasher", offer, "unused")
    del task["command"]
    task["executor"] = {
        "executor_id": {"value": "crashing-executor"},
        "command": {"value": "exit 3", "shell": True},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}},
        ],
    }
    driver.launchTasks(offer["id"], [task])
    executor_id, agent_id, status = recorder.wait(
        "executorLost", lambda e: e[1:] if e[0] == "executorLost" else None
    )
    assert executor_id.value == "crashing-executor"
    assert agent_id.value == offer.agent_id.value
    assert isinstance(status, int)
    recorder.wait(
        "the task fails",
        lambda e: (
            e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == "crasher"
            and e[1]["state"] in ("TASK_FAILED", "TASK_LOST")
        ),
    )
    driver.stop()
    driver.join()


def test_failover_keeps_tasks_and_a_torn_down_framework_gets_an_error(cluster):
    recorder = Recorder()
    info = framework("phoenix", failover_timeout=3600.0)
    first = meseta.MesosSchedulerDriver(recorder, info, cluster.master.address)
    first.start()
    offer = recorder.wait("offers", offers_of)[0]
    first.launchTasks(offer["id"], [command_task("kept", offer, "sleep 600")])
    recorder.wait("kept running", update("kept", "TASK_RUNNING"))
    framework_id = first.framework_id
    assert first.stop(failover=True) == meseta.DRIVER_STOPPED
    first.join()

    second_recorder = Recorder()
    second = meseta.MesosSchedulerDriver(
        second_recorder, {**info, "id": {"value": framework_id}}, cluster.master.address
    )
    second.start()
    second_recorder.wait("subscribed again", lambda e: e[0] in ("registered", "reregistered"))
    assert second.framework_id == framework_id
    second.reconcileTasks([{"task_id": {"value": "kept"}}])
    second_recorder.wait("the task is still running", update("kept", "TASK_RUNNING"))
    second.stop()  # tears the framework down
    second.join()

    third_recorder = Recorder()
    third = meseta.MesosSchedulerDriver(
        third_recorder, {**info, "id": {"value": framework_id}}, cluster.master.address
    )
    third.start()
    message = third_recorder.wait("error", lambda e: e[1] if e[0] == "error" else None)
    assert framework_id in message or "removed" in message
    third.stop()
    third.join()


def test_calls_from_many_threads_while_callbacks_run(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(recorder, framework("threads"), cluster.master.address)
    recorder.on["resourceOffers"] = lambda d, offers: d.declineOffer(
        [o["id"] for o in offers], {"refuse_seconds": 0.1}
    )
    driver.start()
    recorder.wait("registered", lambda e: e[0] == "registered")
    errors = []

    def hammer():
        try:
            for _ in range(200):
                assert driver.reconcileTasks([]) == meseta.DRIVER_RUNNING
                assert driver.reviveOffers() == meseta.DRIVER_RUNNING
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert driver.stop() == meseta.DRIVER_STOPPED
    assert driver.join() == meseta.DRIVER_STOPPED


def test_abort_stops_callbacks_without_tearing_down(cluster):
    recorder = Recorder()
    info = framework("aborted", failover_timeout=3600.0)
    driver = meseta.MesosSchedulerDriver(recorder, info, cluster.master.address)
    driver.start()
    framework_id = recorder.wait("registered", lambda e: e[1] if e[0] == "registered" else None)
    assert driver.abort() == meseta.DRIVER_ABORTED
    assert driver.join() == meseta.DRIVER_ABORTED
    assert driver.launchTasks([], []) == meseta.DRIVER_ABORTED
    # Aborting is not a teardown: the master still has the framework.
    frameworks = get_json(cluster.master.address, "/master/frameworks")
    assert any(f["id"] == framework_id.value for f in frameworks["frameworks"])
    assert driver.stop() == meseta.DRIVER_ABORTED
