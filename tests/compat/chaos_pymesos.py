"""The pymesos half of the chaos test (`test_chaos.py`, issue 16).

A framework written with pymesos (PyPI), started, SIGKILLed and started
again by the test while masters and agents are killed under it. It keeps
the same ledger as `examples/src/bin/chaos_framework.rs` (JSON lines, each
written with one `write` and flushed): every task before its ACCEPT leaves,
every status update it receives, and every acknowledgement it sends after
the update's line. Restarted, it re-subscribes with the FrameworkID from
`--framework-id-file`, reads its ledger back so no TaskID is launched twice,
and reconciles.

Unlike the Rust framework it is not partition-aware: an unreachable agent's
tasks are reported TASK_LOST to it, and killed if the agent comes back.

It exits 0 once every task is launched, the test created `--quiet-file`
(faults over, every agent back), a final explicit reconciliation of every
task not closed by its agent was answered, and every task is terminal.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

TERMINAL = {
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_LOST",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
}

log = logging.getLogger("chaos_pymesos")


def mix(seed, n):
    """splitmix64 of seed and n, as the Rust framework computes it."""
    mask = (1 << 64) - 1
    z = (seed + n * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


class Ledger:
    """Append-only JSON lines; one os.write per line, so a SIGKILL loses at
    most the line being written (and a restart closes that one)."""

    def __init__(self, path):
        lines = []
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            for raw in data.splitlines():
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    pass  # cut short by a kill
        else:
            data = b""
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if data and not data.endswith(b"\n"):
            os.write(self.fd, b"\n")
        self.previous = lines

    def append(self, **fields):
        fields.setdefault("t", time.time())
        os.write(self.fd, (json.dumps(fields) + "\n").encode())


class ChaosDriver(MesosSchedulerDriver):
    """pymesos's driver, with the agent named in RECONCILE.

    pymesos's reconcileTasks sends task IDs only. Without the agent a master
    answers "unknown" (TASK_LOST) for a task whose agent has not
    re-registered after a failover yet; with it, it waits for the agent, as
    Mesos advises frameworks to reconcile."""

    def reconcileTasks(self, tasks):
        if not self.connected:
            return
        body = dict(
            type="RECONCILE",
            framework_id=dict(value=self.framework_id),
            reconcile=dict(
                tasks=[dict(task_id=t["task_id"], agent_id=t["agent_id"]) for t in tasks]
            ),
        )
        self._send(body)


class ChaosScheduler(Scheduler):
    def __init__(self, args, ledger):
        self.args = args
        self.ledger = ledger
        self.lock = threading.RLock()
        # task id -> {"agent", "state", "master", "news", "reconciled"}
        self.tasks = {}
        self.next = 0
        self.subscribed = False
        self.final_started = None
        self.final_pending = set()
        self.final_sent = None
        self.done = False
        self.replay(ledger.previous)

    def replay(self, records):
        for record in records:
            task = record.get("task")
            if record.get("ev") == "launch":
                self.next = max(self.next, int(record["index"]) + 1)
                self.tasks[task] = dict(
                    agent=record["agent"],
                    state=None,
                    closed=False,
                    news=time.monotonic(),
                    reconciled=None,
                )
            elif record.get("ev") == "update" and task in self.tasks:
                self.saw(
                    self.tasks[task], record["state"], record.get("source"), record.get("agent")
                )

    @staticmethod
    def saw(view, state, source, agent):
        """Once its agent reported a terminal state, a task is settled:
        later answers from the master do not change that (the master
        forgets a task once its end is acknowledged, so it would call it
        unknown)."""
        if view["closed"]:
            return
        view["state"] = state
        view["closed"] = source != "SOURCE_MASTER" and state in TERMINAL
        if agent:
            view["agent"] = agent

    # -- helpers --

    def call(self, what, fn, *args):
        """A driver call that fails (no master, a master that died) is only
        logged: the next reconciliation or offer makes up for it."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - pymesos raises bare RuntimeError/OSError
            log.warning("%s failed: %s", what, e)

    def due(self, now):
        elapsed = now - self.args.stream_start
        if elapsed < 0:
            return 0
        interval = self.args.stream_secs / max(self.args.tasks, 1)
        return min(self.args.tasks, int(elapsed / interval) + 1)

    def command(self, index, task_id):
        roll = mix(self.args.seed, index)
        long = roll % 100 < self.args.long_percent
        secs = 3.0 + ((roll >> 8) % 40) / 10.0 if long else 0.1 + ((roll >> 8) % 8) / 10.0
        marker = os.path.join(self.args.runs_dir, task_id)
        command = f"mkdir '{marker}' || {{ touch '{marker}.twice'; exit 3; }}; sleep {secs:.1f}"
        return command, ("long" if long else "short"), secs

    def not_terminal(self):
        return [t for t, v in self.tasks.items() if v["state"] not in TERMINAL]

    def reconcile(self, driver, ids, why):
        if not ids:
            return
        now = time.monotonic()
        for task in ids:
            self.tasks[task]["reconciled"] = now
        self.ledger.append(ev="reconcile", why=why, tasks=sorted(ids))
        statuses = [
            dict(task_id=dict(value=t), agent_id=dict(value=self.tasks[t]["agent"])) for t in ids
        ]
        self.call("RECONCILE", driver.reconcileTasks, statuses)

    def write_framework_id(self, framework_id):
        aside = self.args.framework_id_file + ".tmp"
        with open(aside, "w") as f:
            f.write(framework_id + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(aside, self.args.framework_id_file)

    def on_subscribed(self, driver, again):
        with self.lock:
            self.subscribed = True
            framework_id = driver.framework_id
            if framework_id:
                self.write_framework_id(framework_id)
            self.ledger.append(
                ev="reregistered" if again else "registered", framework_id=framework_id
            )
            self.reconcile(driver, self.not_terminal(), "subscribed")
            if self.next >= self.args.tasks:
                self.call("SUPPRESS", driver.suppressOffers)

    # -- pymesos callbacks (on pymesos's I/O thread) --

    def registered(self, driver, framework_id, master_info):
        log.info("registered as %s", framework_id.value)
        self.on_subscribed(driver, again=False)

    def reregistered(self, driver, master_info):
        log.info("re-registered with %s:%s", master_info.hostname, master_info.port)
        self.on_subscribed(driver, again=True)

    def disconnected(self, driver):
        log.info("disconnected")
        with self.lock:
            self.subscribed = False

    def resourceOffers(self, driver, offers):
        with self.lock:
            now = time.time()
            due = self.due(now)
            for offer in offers:
                cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
                mem = sum(r.scalar.value for r in offer.resources if r.name == "mem")
                tasks = []
                while self.next < due and cpus >= self.args.cpus - 1e-9 and mem >= self.args.mem:
                    index = self.next
                    task_id = f"{self.args.prefix}-{index:04d}"
                    command, kind, secs = self.command(index, task_id)
                    # Before the ACCEPT leaves: never launched again.
                    self.ledger.append(
                        ev="launch",
                        task=task_id,
                        index=index,
                        agent=offer.agent_id.value,
                        kind=kind,
                        secs=secs,
                    )
                    self.next += 1
                    self.tasks[task_id] = dict(
                        agent=offer.agent_id.value,
                        state=None,
                        closed=False,
                        news=time.monotonic(),
                        reconciled=None,
                    )
                    cpus = round(cpus - self.args.cpus, 3)
                    mem -= self.args.mem
                    tasks.append(
                        dict(
                            name=f"chaos {task_id}",
                            task_id=dict(value=task_id),
                            agent_id=dict(value=offer.agent_id.value),
                            resources=[
                                dict(name="cpus", type="SCALAR", scalar=dict(value=self.args.cpus)),
                                dict(name="mem", type="SCALAR", scalar=dict(value=self.args.mem)),
                            ],
                            command=dict(value=command, shell=True),
                        )
                    )
                refuse = dict(refuse_seconds=3600.0 if self.next >= self.args.tasks else 0.5)
                if tasks:
                    log.info(
                        "launching %d task(s) on %s (%d launched)",
                        len(tasks),
                        offer.agent_id.value,
                        self.next,
                    )
                    self.call("ACCEPT", driver.launchTasks, offer.id, tasks, refuse)
                else:
                    self.call("DECLINE", driver.declineOffer, offer.id, refuse)
            if self.next >= self.args.tasks:
                self.call("SUPPRESS", driver.suppressOffers)

    def statusUpdate(self, driver, update):
        with self.lock:
            task = update.task_id.value
            uuid = update.uuid or None
            agent = update.agent_id.value or None
            self.ledger.append(
                ev="update",
                task=task,
                state=update.state,
                source=update.source or "",
                reason=update.reason or "",
                uuid=uuid,
                agent=agent,
                message=update.message or "",
                known=task in self.tasks,
            )
            view = self.tasks.get(task)
            if view is not None:
                view["news"] = time.monotonic()
                self.saw(view, update.state, update.source, agent)
            if self.final_started is not None:
                self.final_pending.discard(task)
            if uuid:
                self.call("ACKNOWLEDGE", driver.acknowledgeStatusUpdate, update)
                self.ledger.append(ev="ack", task=task, state=update.state, uuid=uuid)

    def slaveLost(self, driver, agent_id):
        with self.lock:
            self.ledger.append(ev="agent_lost", agent=agent_id.value)

    def error(self, driver, message):
        with self.lock:
            self.ledger.append(ev="error", message=message)
        log.warning("error from the master: %s", message)

    # -- the main thread's periodic work --

    def tick(self, driver):
        with self.lock:
            if not self.subscribed:
                return
            now = time.monotonic()
            # A launch that never reached an agent has no update to wait
            # for: ask the master about tasks that have been quiet a while.
            stale = [
                t
                for t, v in self.tasks.items()
                if v["state"] not in TERMINAL
                and now - v["news"] > 3
                and (v["reconciled"] is None or now - v["reconciled"] > 3)
            ]
            self.reconcile(driver, stale, "stale")
            if (
                self.next >= self.args.tasks
                and self.final_started is None
                and os.path.exists(self.args.quiet_file)
            ):
                self.final_started = now
                # Every task its agent did not close: those the master spoke
                # for (lost with an unreachable agent, launches that never
                # arrived, reconciliation answers) and any still running.
                self.final_pending = {t for t, v in self.tasks.items() if not v["closed"]}
                self.ledger.append(ev="final_round", pending=len(self.final_pending))
            if self.final_started is not None:
                if self.final_pending and (self.final_sent is None or now - self.final_sent > 2):
                    self.final_sent = now
                    self.reconcile(driver, sorted(self.final_pending), "final")
                if not self.final_pending and not self.not_terminal() and not self.done:
                    self.done = True
                    self.ledger.append(ev="done", tasks=len(self.tasks))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--framework-id-file", required=True)
    parser.add_argument("--quiet-file", required=True)
    parser.add_argument("--stream-start", type=float, required=True)
    parser.add_argument("--stream-secs", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefix", default="py")
    parser.add_argument("--name", default="chaos-pymesos")
    parser.add_argument("--long-percent", type=int, default=20)
    parser.add_argument("--cpus", type=float, default=0.05)
    parser.add_argument("--mem", type=float, default=16.0)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pymesos has a handler of its own: its lines once, in its format.
    logging.getLogger("pymesos").propagate = False

    ledger = Ledger(args.ledger)
    framework_id = None
    if os.path.exists(args.framework_id_file):
        framework_id = open(args.framework_id_file).read().strip() or None
    scheduler = ChaosScheduler(args, ledger)
    ledger.append(ev="start", pid=os.getpid(), framework_id=framework_id, launched=scheduler.next)
    log.info("starting: %d launched, framework %s", scheduler.next, framework_id or "(new)")

    framework = Dict(
        user="root",
        name=args.name,
        hostname=os.uname().nodename,
        checkpoint=True,
        failover_timeout=86400.0,
    )
    if framework_id:
        framework.id = dict(value=framework_id)
    driver = ChaosDriver(
        scheduler, framework, args.master, use_addict=True, implicit_acknowledgements=False
    )
    driver.start()
    while True:
        time.sleep(0.2)
        if driver.aborted:
            log.error("the pymesos driver stopped")
            return 1
        scheduler.tick(driver)
        if scheduler.done:
            # Failover, not teardown: the master keeps the framework and its
            # tasks for the test to compare with the ledger.
            driver.stop(failover=True)
            driver.join()
            print(f"chaos_pymesos: all {len(scheduler.tasks)} task(s) are terminal")
            return 0


if __name__ == "__main__":
    sys.exit(main())
