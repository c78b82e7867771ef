#!/usr/bin/env python3
"""Events per second through the Python binding, side by side with pymesos.

    target/pyvenv/bin/python bench/python_events.py            # needs target/debug/meseta
    target/pyvenv/bin/python bench/python_events.py --tasks 400 --rounds 20

Starts one `meseta local` cluster and runs the same scheduler code twice in
fresh processes, once on `meseta` and once on `pymesos` (alternating, so
drift of the shared machine hits both). Each run measures:

* **launch**: offers handled and status updates acknowledged per second
  while N short tasks (`true`) go from offer to TASK_FINISHED (real
  processes on the agents, so the agents' spawning bounds both drivers);
* **reconcile**: status updates delivered per second when the master answers
  R implicit reconciliations of N running tasks in a row (the driver's own
  event path: parsing, dispatch to Python, no process spawning).

The figures are medians over --repeat runs; the ratio column is
meseta / pymesos.
"""

from __future__ import annotations

import argparse
import importlib
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
MESETA = Path(
    os.environ.get(
        "MESETA_BINARY",
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "meseta",
    )
)
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}


def scalar(offer, name):
    return sum(
        r["scalar"]["value"]
        for r in offer.get("resources", [])
        if r["name"] == name and "scalar" in r
    )


class Bench:
    """Launches tasks into offers and counts what the driver delivers."""

    def __init__(self, tasks, command):
        self.tasks = tasks
        self.command = command
        self.launched = 0
        self.offers = 0
        self.updates = 0
        self.finished = set()
        self.running = set()
        self.lock = threading.Lock()
        self.all_done = threading.Event()
        self.all_running = threading.Event()
        self.reconciled = 0
        self.reconcile_target = None
        self.reconcile_done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            self.offers += 1
            cpus, mem = scalar(offer, "cpus"), scalar(offer, "mem")
            batch = []
            while self.launched < self.tasks and cpus >= 0.01 and mem >= 8:
                task_id = f"t{self.launched}"
                self.launched += 1
                cpus -= 0.01
                mem -= 8
                batch.append(
                    {
                        "name": task_id,
                        "task_id": {"value": task_id},
                        "agent_id": offer["agent_id"],
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.01}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 8.0}},
                        ],
                        "command": {"value": self.command, "shell": True},
                    }
                )
            if batch:
                driver.launchTasks(offer["id"], batch)
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 3600.0})

    def statusUpdate(self, driver, status):
        with self.lock:
            self.updates += 1
            task_id = status["task_id"]["value"]
            state = status["state"]
            if self.reconcile_target is not None and status.get("reason") == (
                "REASON_RECONCILIATION"
            ):
                self.reconciled += 1
                if self.reconciled >= self.reconcile_target:
                    self.reconcile_done.set()
                return
            if state == "TASK_RUNNING":
                self.running.add(task_id)
                if len(self.running) == self.tasks:
                    self.all_running.set()
            if state in TERMINAL:
                self.finished.add(task_id)
                if len(self.finished) == self.tasks:
                    self.all_done.set()


def worker(api_name, master, tasks, rounds):
    """One measurement in this process; prints a JSON line."""
    api = importlib.import_module(api_name)
    results = {}

    # Launch throughput: short tasks.
    bench = type("LaunchBench", (Bench, api.Scheduler), {})(tasks, "true")
    driver = api.MesosSchedulerDriver(
        bench, {"user": "", "name": f"bench-launch-{api_name}"}, master
    )
    start = time.perf_counter()
    driver.start()
    if not bench.all_done.wait(300):
        raise SystemExit(f"{api_name}: only {len(bench.finished)} of {tasks} tasks ended")
    elapsed = time.perf_counter() - start
    results["launch_events_per_s"] = (bench.offers + bench.updates) / elapsed
    driver.stop()
    driver.join()

    # Reconciliation throughput: long tasks, then R implicit reconciliations.
    bench = type("ReconcileBench", (Bench, api.Scheduler), {})(tasks, "sleep 600")
    driver = api.MesosSchedulerDriver(
        bench, {"user": "", "name": f"bench-reconcile-{api_name}"}, master
    )
    driver.start()
    if not bench.all_running.wait(300):
        raise SystemExit(f"{api_name}: only {len(bench.running)} of {tasks} tasks running")
    with bench.lock:
        bench.reconcile_target = rounds * tasks
    start = time.perf_counter()
    for _ in range(rounds):
        driver.reconcileTasks([])
    if not bench.reconcile_done.wait(300):
        raise SystemExit(f"{api_name}: {bench.reconciled} reconciliation updates arrived")
    elapsed = time.perf_counter() - start
    results["reconcile_updates_per_s"] = bench.reconciled / elapsed
    driver.stop()
    driver.join()
    print(json.dumps(results), flush=True)


def start_cluster(root):
    log = open(root / "local.log", "wb")
    proc = subprocess.Popen(
        [
            str(MESETA),
            "local",
            "--port",
            "0",
            "--agents",
            "2",
            "--work-dir",
            str(root / "cluster"),
            "--resources",
            "cpus:8;mem:16384;disk:1024",
            "--log",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = root / "cluster" / "master_url"
    for _ in range(600):
        if url.exists() and url.read_text().strip():
            return proc, url.read_text().strip()
        time.sleep(0.05)
    raise SystemExit(f"the cluster did not start; see {root / 'local.log'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", choices=["meseta", "pymesos"], help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.master, args.tasks, args.rounds)
        return 0
    if not MESETA.exists():
        raise SystemExit(f"{MESETA} is missing: run `cargo build --bins` first")
    with tempfile.TemporaryDirectory() as tmp:
        proc, master = start_cluster(Path(tmp))
        try:
            samples = {"meseta": [], "pymesos": []}
            for _ in range(args.repeat):
                for api in ("meseta", "pymesos"):
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--worker",
                            api,
                            "--master",
                            master,
                            "--tasks",
                            str(args.tasks),
                            "--rounds",
                            str(args.rounds),
                        ],
                        capture_output=True,
                        text=True,
                        timeout=900,
                    )
                    if out.returncode != 0:
                        raise SystemExit(f"{api} run failed:\n{out.stderr[-3000:]}")
                    samples[api].append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"python drivers: {args.tasks} tasks, {args.rounds} reconciliations, "
        f"median of {args.repeat} runs"
    )
    print(f"{'measure':<28}{'meseta':>12}{'pymesos':>12}{'ratio':>8}")
    for key in ("launch_events_per_s", "reconcile_updates_per_s"):
        ours = statistics.median(s[key] for s in samples["meseta"])
        theirs = statistics.median(s[key] for s in samples["pymesos"])
        print(f"{key:<28}{ours:>12.0f}{theirs:>12.0f}{ours / theirs:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
