"""updateFramework: a new FrameworkInfo and set of suppressed roles, as the
master and the framework's offers show them; refusals arrive via error."""

from __future__ import annotations

import meseta
from conftest import Recorder, get_json, wait_for


def offers_of(event):
    return event[1] if event[0] == "resourceOffers" else None


def frameworks_named(cluster, name: str) -> list:
    frameworks = get_json(cluster.master.address, "/master/frameworks")["frameworks"]
    return [f for f in frameworks if f["name"] == name]


def allocation_cycles(cluster, cycles: int) -> None:
    start = cluster.metric("allocator/mesos/allocation_runs")
    assert start is not None, "allocator/mesos/allocation_runs is missing from /metrics/snapshot"
    wait_for(
        f"{cycles} allocation cycles",
        lambda: cluster.metric("allocator/mesos/allocation_runs") >= start + cycles,
    )


def test_update_framework_renames_suppresses_and_reports_refusals(cluster):
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder, {"user": "", "name": "py-before"}, cluster.master.address
    )
    driver.start()
    framework_id = recorder.wait("registered", lambda e: e[1] if e[0] == "registered" else None)
    recorder.wait("offers", offers_of)

    renamed = {"user": "", "name": "py-after", "id": framework_id}
    assert driver.updateFramework(renamed, ["*"]) == meseta.DRIVER_RUNNING
    wait_for("the new name in /master/frameworks", lambda: frameworks_named(cluster, "py-after"))
    assert frameworks_named(cluster, "py-before") == []

    # Suppressed: what it gives back does not come again while the master allocates.
    allocation_cycles(cluster, 2)
    for event in recorder.named("resourceOffers"):
        driver.declineOffer([o["id"] for o in event[1]], {"refuse_seconds": 0.0})
    recorder.clear()
    allocation_cycles(cluster, 5)
    assert recorder.named("resourceOffers") == []

    # Unsuppressed (the ID may be left out: the driver keeps it).
    driver.updateFramework({"user": "", "name": "py-after"}, [])
    recorder.wait("offers once unsuppressed", offers_of)

    # A change the master refuses: reported through error, nothing changes.
    driver.updateFramework({"user": "somebody-else", "name": "py-renamed"})
    message = recorder.wait("error", lambda e: e[1] if e[0] == "error" else None)
    assert "user" in message
    assert frameworks_named(cluster, "py-after") and not frameworks_named(cluster, "py-renamed")
    driver.stop()
    driver.join()
