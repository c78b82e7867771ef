"""Failure paths: bad input, a master that dies and comes back, user code
that raises, Ctrl-C, an executor started outside an agent."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap

import meseta
import pytest
from conftest import Recorder, command_task, get_json, wait_for


def offers_of(event):
    return event[1] if event[0] == "resourceOffers" else None


def test_a_bad_master_address_is_refused_at_once():
    with pytest.raises(ValueError, match="invalid master address"):
        meseta.MesosSchedulerDriver(Recorder(), {"user": "", "name": "x"}, "zk://")


def test_malformed_messages_raise_and_change_nothing(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder, {"user": "", "name": "sloppy"}, cluster.master.address
    )
    driver.start()
    offer = recorder.wait("offers", offers_of)[0]
    with pytest.raises(ValueError, match="TaskInfo"):
        driver.launchTasks(offer["id"], [{"name": "t", "resources": "plenty"}])
    with pytest.raises(ValueError, match="offer ID"):
        driver.declineOffer({"value": 42})
    # The driver is unaffected and the offer still usable.
    driver.launchTasks(offer["id"], [command_task("fine", offer, "true")])
    recorder.wait(
        "the task finishes",
        lambda e: (
            e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == "fine"
            and e[1]["state"] == "TASK_FINISHED"
        ),
    )
    driver.stop()
    driver.join()


def test_an_unreachable_master_keeps_the_driver_retrying_until_stopped():
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(recorder, {"user": "", "name": "patient"}, "127.0.0.1:9")
    assert driver.start() == meseta.DRIVER_RUNNING
    assert driver.stop() == meseta.DRIVER_STOPPED
    assert driver.join() == meseta.DRIVER_STOPPED
    assert not recorder.named("registered")


def test_master_killed_and_restarted(cluster):
    recorder = Recorder()
    info = {"user": "", "name": "survivor", "failover_timeout": 3600.0}
    driver = meseta.MesosSchedulerDriver(recorder, info, cluster.master.address)
    driver.start()
    offer = recorder.wait("offers", offers_of)[0]
    driver.launchTasks(offer["id"], [command_task("steady", offer, "sleep 600")])
    recorder.wait("running", lambda e: e[0] == "statusUpdate" and e[1]["state"] == "TASK_RUNNING")
    cluster.restart_master()
    recorder.wait("disconnected", lambda e: e[0] == "disconnected")
    recorder.wait("reregistered", lambda e: e[0] == "reregistered")
    cluster.wait_for_agents(2)
    recorder.clear()
    driver.reconcileTasks([{"task_id": {"value": "steady"}}])
    recorder.wait(
        "the task survived",
        lambda e: (
            e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == "steady"
            and e[1]["state"] == "TASK_RUNNING"
        ),
    )
    driver.stop()
    driver.join()


def test_an_exception_in_a_callback_is_logged_and_reported(cluster, caplog):
    recorder = Recorder()
    calls = []

    def explode(driver, offers):
        calls.append(offers)
        if len(calls) == 1:
            raise RuntimeError("boom in resourceOffers")
        driver.declineOffer([o["id"] for o in offers])

    recorder.on["resourceOffers"] = explode
    driver = meseta.MesosSchedulerDriver(
        recorder, {"user": "", "name": "clumsy"}, cluster.master.address
    )
    with caplog.at_level(logging.ERROR, logger="meseta"):
        driver.start()
        message = recorder.wait("error", lambda e: e[1] if e[0] == "error" else None)
        assert "resourceOffers raised RuntimeError: boom in resourceOffers" in message
        # The driver goes on: give the offers back, and new ones arrive.
        driver.declineOffer([o["id"] for o in calls[0]], {"refuse_seconds": 0.0})
        wait_for("another offer", lambda: len(calls) >= 2)
    assert "Traceback" in caplog.text and "boom in resourceOffers" in caplog.text
    assert driver.stop() == meseta.DRIVER_STOPPED
    driver.join()


def test_ctrl_c_stops_run_with_failover(cluster, tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(
        textwrap.dedent(f"""
        import meseta
        class Quiet(meseta.Scheduler):
            def registered(self, driver, framework_id, master_info):
                print("registered", framework_id["value"], flush=True)
        info = {{"user": "", "name": "interrupted", "failover_timeout": 3600.0}}
        meseta.MesosSchedulerDriver(Quiet(), info, "{cluster.master.address}").run()
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    assert line.startswith("registered"), line
    framework_id = line.split()[1]
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr

    # Stopped with failover: the framework is disconnected, not torn down.
    def disconnected():
        frameworks = get_json(cluster.master.address, "/master/frameworks")["frameworks"]
        return any(f["id"] == framework_id and not f["active"] for f in frameworks)

    wait_for("the framework to be disconnected but kept", disconnected)


def test_an_executor_driver_outside_an_agent_says_why():
    with pytest.raises(RuntimeError, match="MESOS_"):
        meseta.MesosExecutorDriver(meseta.Executor())
