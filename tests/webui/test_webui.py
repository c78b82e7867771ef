"""The web UI in a real browser (headless Chromium through Selenium) against
real clusters: every page shows what the master says, changes arrive over
the operator event stream without a reload, the sandbox tail follows a
task's output, the management actions work, and the page survives a leader
failover. Each page's screenshot is saved under target/webui-screenshots/;
`MESETA_UPDATE_DOCS=1` also refreshes docs/webui-overview.png (the README's).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import ROOT, Cluster, operator_call, wait_for

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is not installed").By
Keys = pytest.importorskip("selenium.webdriver.common.keys").Keys
StaleElement = pytest.importorskip("selenium.common.exceptions").StaleElementReferenceException


# ------------------------------------------------------------------ helpers


def main_text(browser) -> str:
    return browser.find_element(By.ID, "main").text


def table_text(browser, table_id: str) -> str:
    return browser.find_element(By.ID, table_id).text


def go(browser, fragment: str) -> None:
    """Navigates inside the page (the hash router; no reload)."""
    browser.execute_script("location.hash = arguments[0]", fragment)


def shot(browser, screenshots: Path, name: str) -> Path:
    path = screenshots / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


UNLABELLED = """
const named = (e) => (e.textContent || '').trim() || e.getAttribute('aria-label');
const labelled = (e) => e.getAttribute('aria-label') || e.closest('label')
  || (e.id && document.querySelector(`label[for="${CSS.escape(e.id)}"]`));
return [
  ...[...document.querySelectorAll('input, select')].filter((e) => !labelled(e)),
  ...[...document.querySelectorAll('button, a[href]')]
    .filter((e) => !named(e) && !e.querySelector('img[alt]')),
].map((e) => e.outerHTML.slice(0, 120));
"""


def unlabelled(browser) -> list:
    """Controls without an accessible name on the page."""
    return browser.execute_script(UNLABELLED)


def not_reloaded(browser) -> bool:
    return browser.execute_script("return window.__marker === 'kept'")


def banner_shown(browser) -> bool:
    return browser.execute_script("return !document.getElementById('banner').hidden")


def leader_shown(browser) -> str:
    return browser.execute_script(
        "const e = document.getElementById('leader-address'); return e ? e.textContent : ''"
    )


def settled(browser, read):
    """``read()`` of elements the live page may replace while it is read:
    the pages re-render when the cluster changes, and an element found just
    before a re-render is stale by the time it is used; read again then."""
    end = time.monotonic() + 10
    while True:
        try:
            return read()
        except StaleElement:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def click(browser, css: str) -> None:
    wait_for(f"{css} to be shown", lambda: browser.find_element(By.CSS_SELECTOR, css))

    def press():
        element = browser.find_element(By.CSS_SELECTOR, css)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    settled(browser, press)


def confirm(browser, screenshots: Path = None, name: str = None) -> None:
    """Confirms the open dialog (after checking it is a real modal one)."""
    wait_for(
        "the confirmation dialog",
        lambda: browser.execute_script("return document.getElementById('confirm-dialog').open"),
    )
    if screenshots is not None:
        shot(browser, screenshots, name)
    settled(browser, lambda: browser.find_element(By.ID, "confirm-ok").click())


def tasks_of(cluster: Cluster):
    answer = cluster.call({"type": "GET_TASKS"})["get_tasks"]
    for key in ("tasks", "unreachable_tasks", "completed_tasks"):
        yield from answer.get(key, [])


def task_named(cluster: Cluster, prefix: str):
    for task in tasks_of(cluster):
        if task["task_id"]["value"].startswith(prefix):
            return task
    return None


def master_state_of(cluster: Cluster, task_id: str) -> str:
    for task in tasks_of(cluster):
        if task["task_id"]["value"] == task_id:
            return task["state"]
    return ""


def frameworks_of(cluster: Cluster):
    return cluster.call({"type": "GET_FRAMEWORKS"})["get_frameworks"]


def agents_of(cluster: Cluster):
    return cluster.call({"type": "GET_AGENTS"})["get_agents"].get("agents", [])


RECORDS = ['{"type":"HEARTBEAT"}', '{"name":"caf\u00e9 \u2713 \U0001f680"}', "", "{}"]

RECORDIO_CHECK = """
const done = arguments[arguments.length - 1];
const records = arguments[0];
import('/webui/stream.js').then(({ RecordReader }) => {
  const encoder = new TextEncoder();
  const parts = [];
  for (const r of records) {
    const body = encoder.encode(r);
    parts.push(encoder.encode(`${body.length}\\n`), body);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  const bytewise = [];
  const one = new RecordReader((t) => bytewise.push(t));
  for (let i = 0; i < all.length; i += 1) one.push(all.subarray(i, i + 1));
  const whole = [];
  new RecordReader((t) => whole.push(t)).push(all);
  done({ bytewise, whole });
}, (e) => done(String(e)));
"""


# -------------------------------------------------------------------- tests


def test_every_page_follows_the_cluster_and_acts_on_it(cluster, browser, screenshots, tmp_path):
    base = f"http://{cluster.leader}"
    agents = agents_of(cluster)
    assert len(agents) == 2
    agent_ids = sorted(a["agent_info"]["id"]["value"] for a in agents)
    hostnames = {a["agent_info"]["hostname"] for a in agents}

    # Overview, before any framework.
    browser.get(f"{base}/")
    browser.execute_script("window.__marker = 'kept'")
    wait_for(
        "two active agents on the overview",
        lambda: browser.find_element(By.ID, "agents-active").text == "2",
    )
    assert leader_shown(browser) == cluster.leader

    # The RecordIO reader: records split anywhere across chunks (one byte at
    # a time, or all at once), multi-byte characters, empty records.
    split = browser.execute_async_script(RECORDIO_CHECK, RECORDS)
    assert split == {"bytewise": RECORDS, "whole": RECORDS}, split

    # A task launched after the page opened shows up without a reload.
    go(browser, "#/tasks")
    wait_for("the tasks page", lambda: "0 tasks" in main_text(browser))
    cluster.execute(
        "ui-live",
        "echo hello-ui; for i in $(seq 1 600); do echo tick-$i; sleep 1; done",
        tmp_path / "execute-live.log",
    )
    task = wait_for(
        "the master to launch the task", lambda: task_named(cluster, "ui-live"), deadline=60
    )
    known = time.monotonic()
    task_id = task["task_id"]["value"]
    framework_id = task["framework_id"]["value"]
    agent_id = task["agent_id"]["value"]
    wait_for("the new task in the tasks table", lambda: task_id in main_text(browser), deadline=2.0)
    print(f"task shown {time.monotonic() - known:.3f}s after the master reported it")
    wait_for(
        "the task running in the table",
        lambda: "Running" in table_text(browser, "tasks"),
        deadline=30,
    )
    assert not_reloaded(browser)
    shot(browser, screenshots, "tasks")

    # Filters and sorting live in the URL.
    go(browser, "#/tasks?state=TASK_FINISHED")
    wait_for(
        "the state filter",
        lambda: "0 tasks" in main_text(browser) and task_id not in main_text(browser),
    )
    wait_for(
        "the state filter's field to show it",
        lambda: (
            browser.find_element(By.ID, "filter-state").get_attribute("value") == "TASK_FINISHED"
        ),
        deadline=5,
    )
    go(browser, f"#/tasks?q={task_id[:9]}&state=live")
    wait_for("the name filter", lambda: task_id in main_text(browser))
    # From the keyboard: Enter on a column's sort button.
    settled(
        browser,
        lambda: browser.find_element(By.CSS_SELECTOR, 'button[data-sort="id"]').send_keys(
            Keys.ENTER
        ),
    )
    wait_for("sorting in the hash", lambda: "sort=id" in browser.current_url)
    wait_for(
        "focus kept on the sort button",
        lambda: (
            browser.execute_script("return document.activeElement.dataset.fk") == "tasks-sort-id"
        ),
    )
    assert unlabelled(browser) == []

    # Overview with the task.
    go(browser, "#/")
    wait_for(
        "the live task on the overview",
        lambda: "Running" in main_text(browser) and "Leading master" in main_text(browser),
    )
    overview = shot(browser, screenshots, "overview")
    if os.environ.get("MESETA_UPDATE_DOCS"):  # the README's picture, on request only
        shutil.copyfile(overview, ROOT / "docs" / "webui-overview.png")

    # Frameworks and the framework page.
    go(browser, "#/frameworks")
    wait_for("the framework in the list", lambda: "meseta-execute (ui-live)" in main_text(browser))
    shot(browser, screenshots, "frameworks")
    go(browser, f"#/frameworks/{framework_id}")
    wait_for(
        "the framework page",
        lambda: framework_id in main_text(browser) and task_id in main_text(browser),
    )
    shot(browser, screenshots, "framework")

    # Agents and the agent page with its containers' usage from the agent.
    go(browser, "#/agents")
    wait_for(
        "both agents",
        lambda: (
            all(a in main_text(browser) for a in agent_ids)
            and all(h in main_text(browser) for h in hostnames)
        ),
    )
    shot(browser, screenshots, "agents")
    go(browser, f"#/agents/{agent_id}")
    container = next(
        s["container_status"]["container_id"]["value"]
        for s in reversed(task_named(cluster, task_id)["statuses"])
        if s.get("container_status", {}).get("container_id")
    )
    wait_for(
        "the task's container with its usage",
        lambda: (
            container in main_text(browser)
            and "CPUs" in browser.find_element(By.ID, "containers").text
            and "measuring" not in browser.find_element(By.ID, "containers").text
        ),
        deadline=20,
    )
    shot(browser, screenshots, "agent")
    assert unlabelled(browser) == []

    # The task page.
    go(browser, f"#/tasks/{framework_id}/{task_id}")
    wait_for(
        "the task page",
        lambda: "Status updates" in main_text(browser) and container in main_text(browser),
    )
    shot(browser, screenshots, "task")

    # Roles and offers.
    operator_call(
        cluster.leader,
        {
            "type": "UPDATE_QUOTA",
            "update_quota": {
                "force": True,
                "quota_configs": [
                    {
                        "role": "eng",
                        "guarantees": {"cpus": {"value": 1}},
                        "limits": {"cpus": {"value": 2}},
                    }
                ],
            },
        },
    )
    reserving = agents_of(cluster)[0]["agent_info"]["id"]["value"]
    reserved_mem = {
        "name": "mem",
        "type": "SCALAR",
        "scalar": {"value": 64},
        "reservations": [{"type": "DYNAMIC", "role": "ml"}],
    }
    operator_call(
        cluster.leader,
        {
            "type": "RESERVE_RESOURCES",
            "reserve_resources": {"agent_id": {"value": reserving}, "resources": [reserved_mem]},
        },
    )
    go(browser, "#/roles")
    wait_for("the default role", lambda: "*" in browser.find_element(By.ID, "roles").text)
    wait_for(
        "a role with only a reservation, and what it holds",
        lambda: any(
            line.startswith("ml ") and "mem 64" in line
            for line in table_text(browser, "roles").splitlines()
        ),
    )
    wait_for(
        "the quota of a role",
        lambda: (
            "eng" in table_text(browser, "roles")
            and "cpus 1" in table_text(browser, "roles")
            and "cpus 2" in table_text(browser, "roles")
        ),
    )
    shot(browser, screenshots, "roles")
    go(browser, "#/offers")
    wait_for(
        "the offers page", lambda: "offers" in main_text(browser) and "As of" in main_text(browser)
    )
    shot(browser, screenshots, "offers")

    # The sandbox: listing, and a tail that shows lines written after it opened.
    go(browser, f"#/sandbox?agent={agent_id}&framework={framework_id}&task={task_id}&file=stdout")
    wait_for(
        "the sandbox listing",
        lambda: (
            "stdout" in browser.find_element(By.ID, "files").text
            and "stderr" in browser.find_element(By.ID, "files").text
        ),
    )
    log = lambda: settled(browser, lambda: browser.find_element(By.ID, "log").text)  # noqa: E731
    wait_for("the task's first line in the tail", lambda: "hello-ui" in log())
    ticks = [int(n) for n in re.findall(r"tick-(\d+)", log())]
    opened_at = max(ticks, default=0)
    wait_for(
        "a line written after the tail opened",
        lambda: f"tick-{opened_at + 2}" in log(),
        deadline=15,
    )
    # Every line once, in order, as the task wrote it.
    lines = log().splitlines()
    assert lines[0] == "hello-ui", lines
    ticks = [int(n) for n in re.findall(r"tick-(\d+)", log())]
    assert ticks == list(range(1, len(ticks) + 1)), lines
    shot(browser, screenshots, "sandbox")
    assert unlabelled(browser) == []
    assert not_reloaded(browser)

    # Deactivate and reactivate an agent.
    other = next(a for a in agent_ids if a != agent_id)
    go(browser, "#/agents")
    click(browser, f'button[data-action="deactivate"][data-id="{other}"]')
    confirm(browser, screenshots, "confirm-dialog")
    wait_for(
        "the master to deactivate the agent",
        lambda: any(
            a["agent_info"]["id"]["value"] == other and a.get("deactivated")
            for a in agents_of(cluster)
        ),
    )
    wait_for("the agent shown deactivated", lambda: "Deactivated" in table_text(browser, "agents"))
    click(browser, f'button[data-action="reactivate"][data-id="{other}"]')
    confirm(browser)
    wait_for(
        "the master to reactivate the agent",
        lambda: any(
            a["agent_info"]["id"]["value"] == other and not a.get("deactivated")
            for a in agents_of(cluster)
        ),
    )
    wait_for("the agent shown active", lambda: "Deactivated" not in table_text(browser, "agents"))

    # Kill the task from the UI: the master reports TASK_KILLED.
    go(browser, f"#/tasks?q={task_id}")
    wait_for("the task to kill", lambda: task_id in main_text(browser))
    click(browser, f'button[aria-label="Kill task {task_id}"]')
    confirm(browser)
    wait_for(
        "the master to report TASK_KILLED",
        lambda: master_state_of(cluster, task_id) == "TASK_KILLED",
        deadline=30,
    )
    wait_for(
        "the UI to show it killed", lambda: "Killed" in table_text(browser, "tasks"), deadline=5
    )

    # Tear a framework down from the UI.
    cluster.execute("ui-teardown", "sleep 600", tmp_path / "execute-teardown.log")
    doomed = wait_for(
        "the second framework's task", lambda: task_named(cluster, "ui-teardown"), deadline=60
    )
    doomed_framework = doomed["framework_id"]["value"]
    go(browser, "#/frameworks")
    click(browser, f'button[data-action="teardown"][data-id="{doomed_framework}"]')
    confirm(browser)
    wait_for(
        "the master to remove the framework",
        lambda: all(
            f["framework_info"]["id"]["value"] != doomed_framework
            for f in frameworks_of(cluster).get("frameworks", [])
        ),
        deadline=30,
    )
    wait_for(
        "the framework gone from the list",
        lambda: "ui-teardown" not in table_text(browser, "frameworks"),
        deadline=5,
    )
    go(browser, "#/frameworks?status=completed")
    wait_for(
        "the framework among the completed ones",
        lambda: "ui-teardown" in table_text(browser, "frameworks"),
    )

    # A narrow window: the same pages, rearranged (less important columns hidden).
    browser.set_window_size(500, 900)
    browser.execute_script("document.getElementById('notices').replaceChildren()")
    go(browser, "#/tasks")
    wait_for("the narrow tasks page", lambda: "Killed" in table_text(browser, "tasks"))
    shot(browser, screenshots, "narrow-tasks")
    go(browser, "#/")
    wait_for("the narrow overview", lambda: "Leading master" in main_text(browser))
    shot(browser, screenshots, "narrow-overview")
    browser.set_window_size(1400, 1000)

    # Mark an agent gone: the master removes it, so does the page.
    go(browser, "#/agents")
    click(browser, f'button[data-action="mark-gone"][data-id="{other}"]')
    confirm(browser)
    wait_for(
        "the master to forget the agent",
        lambda: all(a["agent_info"]["id"]["value"] != other for a in agents_of(cluster)),
        deadline=30,
    )
    wait_for(
        "the agent gone from the page",
        lambda: other not in table_text(browser, "agents"),
        deadline=5,
    )
    assert not_reloaded(browser)


def test_the_page_follows_a_leader_failover(ha_cluster, browser, screenshots):
    old_leader = ha_cluster.leader
    follower = next(m for m in ha_cluster.masters if m.address != old_leader)
    # The page comes from a follower; its stream is redirected to the leader.
    browser.get(f"http://{follower.address}/")
    wait_for("the stream from the leader", lambda: leader_shown(browser) == old_leader)
    wait_for("two agents", lambda: browser.find_element(By.ID, "agents-active").text == "2")
    assert not banner_shown(browser)

    leader = next(m for m in ha_cluster.masters if m.address == old_leader)
    ha_cluster.command("kill", leader.name)
    wait_for("the disconnection banner", lambda: banner_shown(browser), deadline=35)
    shot(browser, screenshots, "failover-banner")
    new_leader = wait_for(
        "the page to reconnect to a new leader",
        lambda: (
            not banner_shown(browser)
            and leader_shown(browser) not in ("", old_leader)
            and leader_shown(browser)
        ),
        deadline=90,
    )
    metrics = operator_call(new_leader, {"type": "GET_METRICS"})["get_metrics"]["metrics"]
    assert {m["name"]: m.get("value") for m in metrics}.get("master/elected") == 1.0
    ha_cluster.leader = new_leader
    wait_for(
        "the agents re-registered with the new leader",
        lambda: browser.find_element(By.ID, "agents-active").text == "2",
        deadline=60,
    )
    # The overview re-renders on every event: read it inside the poll, never
    # through an element found before the last render.
    wait_for(
        "the overview to name the new leader",
        lambda: browser.find_element(By.ID, "overview-leader").text == new_leader,
        deadline=10,
    )
    shot(browser, screenshots, "failover-reconnected")
