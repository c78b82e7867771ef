"""The web UI with a large cluster: a real `meseta master`, N simulated
agents and M running tasks (`bench/examples/webui_cluster.rs`), and the UI
in headless Chromium. Reports, from navigation start, when the SUBSCRIBED
state was applied and when the page first rendered it (agents and tasks
pages), how long re-rendering takes when sorting, filtering and paging the
big tables, and how long a burst of task updates takes from the simulated
agents to the page's model and to the screen.

    cargo build -p meseta --bins && cargo build -p meseta-bench --example webui_cluster
    target/pyvenv/bin/python bench/webui.py                  # 10,000 agents, 100,000 tasks
    target/pyvenv/bin/python bench/webui.py --agents 1000 --tasks 10000 --runs 2

Needs Debian's chromium and chromium-driver and selenium in the venv
(`make test-deps` installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MESETA = TARGET / "debug" / "meseta"
SIMULATOR = TARGET / "debug" / "examples" / "webui_cluster"


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in [
        "--no-sandbox",
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--enable-precise-memory-info",
    ]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(what, predicate, deadline=600.0, every=0.02):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def shown_count(driver):
    return driver.execute_script(
        "const e = document.querySelector('#main .count'); return e ? Number(e.dataset.count) : -1"
    )


def first_render(driver, url, page, expected):
    """Loads the page afresh; returns where the time to the first picture went
    (milliseconds) and the JS heap (MB)."""
    driver.get("about:blank")
    driver.get(f"{url}/#/{page}")
    wait(
        f"the {page} page to show {expected} rows",
        lambda: shown_count(driver) == expected,
        every=0.05,
    )
    t = driver.execute_script("return window.meseta.timings")
    s = t["stream"]
    heap = driver.execute_script(
        "return performance.memory ? performance.memory.usedJSHeapSize : 0"
    )
    return {
        "total": t["firstRender"],
        "until SUBSCRIBE sent": s["requested"],
        "master: first byte": s["firstChunk"] - s["requested"],
        "transfer": s["received"] - s["firstChunk"],
        "JSON.parse": s["parsed"] - s["received"],
        "apply to model": s["applyMs"],
        "first render": t["firstRenderMs"],
        "MB of JSON": s["bytes"] / 1e6,
        "JS heap MB": heap / 1e6,
    }


def interaction(driver, changes):
    """Milliseconds to apply `changes` to the view's parameters and render."""
    return driver.execute_script(
        "const t = performance.now(); window.meseta.ctx.setParams(arguments[0]);"
        " return performance.now() - t;",
        changes,
    )


WATCH_BURST = """
const [target] = arguments;
const m = window.meseta.model;
const b = window.__burst = {applied: 0, rendered: 0, version: 0, subscribedAt: m.subscribedAt};
m.listen(() => {
  if (!b.applied && (m.stateCounts.get('TASK_FINISHED') || 0) >= target) {
    b.applied = Date.now();
    b.version = m.version;
  }
});
const timer = setInterval(() => {
  if (b.applied && window.meseta.timings.renderedVersion >= b.version) {
    b.rendered = Date.now();
    clearInterval(timer);
  }
}, 2);
"""


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10000)
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3, help="fresh page loads per page")
    parser.add_argument("--bursts", default="1000,5000,10000", help="task updates per burst")
    args = parser.parse_args()
    for binary, build in [
        (MESETA, "cargo build -p meseta --bins"),
        (SIMULATOR, "cargo build -p meseta-bench --example webui_cluster"),
    ]:
        if not binary.exists():
            raise SystemExit(f"{binary} is missing: {build}")

    work = Path(tempfile.mkdtemp(prefix="meseta-webui-bench-"))
    master_log = open(work / "master.log", "wb")
    master = subprocess.Popen(
        [
            str(MESETA),
            "master",
            "--port",
            "0",
            "--work-dir",
            str(work / "master"),
            "--allocation-interval",
            "100ms",
            "--log",
            "warn",
        ],
        stdout=master_log,
        stderr=subprocess.STDOUT,
    )
    simulator = None
    driver = None
    results = {"agents": args.agents, "tasks": args.tasks}
    try:
        address = wait(
            "the master's address",
            lambda: (
                (work / "master" / "address").exists()
                and (work / "master" / "address").read_text().strip()
            ),
            60,
        )
        url = f"http://{address}"
        print(
            f"master at {url}; starting {args.agents} simulated agents and {args.tasks} tasks ...",
            flush=True,
        )
        simulator = subprocess.Popen(
            [
                str(SIMULATOR),
                "--master",
                address,
                "--agents",
                str(args.agents),
                "--tasks",
                str(args.tasks),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        lines = []
        threading.Thread(
            target=lambda: [lines.append(json.loads(line)) for line in simulator.stdout],
            daemon=True,
        ).start()
        ready = wait(
            "every task running",
            lambda: next((e for e in lines if e["event"] == "ready"), None),
            1800,
            0.2,
        )
        print(
            f"cluster ready: {ready['tasks']} tasks running"
            f" after {ready['launch_seconds']} s of launching",
            flush=True,
        )
        results["launch_seconds"] = ready["launch_seconds"]

        driver = browser()
        for page, expected in [("agents", args.agents), ("tasks", args.tasks)]:
            samples = [first_render(driver, url, page, expected) for _ in range(args.runs)]
            median = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
            results[f"{page} page load"] = median
            parts = ", ".join(
                f"{key} {value:.0f}" for key, value in median.items() if key != "total"
            )
            print(
                f"{page:>6} page: first render {median['total']:.0f} ms after navigation start"
                f" (median of {args.runs}): {parts}",
                flush=True,
            )

        # Re-rendering the big table: sort, filter, page (the tasks page is open).
        for name, changes in [
            ("sort tasks by name", {"sort": "name"}),
            ("sort tasks by ID, descending", {"sort": "-id"}),
            ("next page", {"page": "2"}),
            ("filter by state", {"state": "TASK_RUNNING", "page": ""}),
            ("filter by ID prefix", {"q": "t0999", "state": ""}),
            ("clear filters", {"q": "", "sort": ""}),
        ]:
            ms = interaction(driver, changes)
            results[f"interaction: {name}"] = ms
            print(f"  {name:<30} {ms:8.1f} ms", flush=True)

        finished = 0
        for count in [int(n) for n in args.bursts.split(",") if n]:
            finished += count
            driver.execute_script(WATCH_BURST, finished)
            before = len(lines)
            simulator.stdin.write(f"burst {count}\n")
            simulator.stdin.flush()
            sent = wait(
                "the burst to be sent",
                lambda before=before: next(
                    (e for e in lines[before:] if e["event"] == "burst"), None
                ),
                60,
            )
            burst = wait(
                "the page to render the burst",
                lambda: driver.execute_script(
                    "return window.__burst.rendered ? window.__burst : null"
                ),
                300,
                0.05,
            )
            applied = burst["applied"] - sent["sent_at"] * 1000
            rendered = burst["rendered"] - sent["sent_at"] * 1000
            resubscribed = (
                driver.execute_script("return window.meseta.model.subscribedAt")
                != burst["subscribedAt"]
            )
            results[f"burst {count}: applied ms"] = applied
            results[f"burst {count}: rendered ms"] = rendered
            results[f"burst {count}: resubscribed"] = resubscribed
            note = " (the stream was dropped and resubscribed)" if resubscribed else ""
            print(
                f"burst of {count:>6} TASK_FINISHED: all in the page's model after"
                f" {applied:8.0f} ms, on screen after {rendered:8.0f} ms{note}",
                flush=True,
            )
        out = TARGET / "webui-bench.json"
        out.write_text(json.dumps(results, indent=2))
        print(f"results in {out}")
    finally:
        if driver is not None:
            driver.quit()
        if simulator is not None:
            try:
                simulator.stdin.write("stop\n")
                simulator.stdin.flush()
            except OSError:
                pass
            try:
                simulator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                simulator.kill()
        master.terminate()
        master.wait(timeout=30)
        master_log.close()


if __name__ == "__main__":
    sys.exit(main())
