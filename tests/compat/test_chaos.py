"""Chaos: nothing is lost when masters, agents and schedulers die (issue 16).

Three masters elect a leader on a real ZooKeeper, three real agents run the
tasks, and two frameworks launch a paced stream of short and long tasks:
`chaos_framework` (Rust, on meseta-core's SchedulerDriver, partition-aware)
and `chaos_pymesos.py` (pymesos from PyPI, not partition-aware). Both keep a
ledger of every launch, status update and acknowledgement, and every task
marks its run with an atomic `mkdir` in a shared runs dir.

During the stream, at moments drawn from a printed seed (`MESETA_CHAOS_SEED`
replays a schedule), the test SIGKILLs the leading master (and starts it
again as a follower), SIGKILLs agents and starts them again on their work
dirs, SIGKILLs each scheduler and starts it again with its FrameworkID, and
SIGSTOPs an agent until the leader declares it unreachable, then SIGCONTs
it. Afterwards it waits for the cluster to heal, lets the frameworks run
their final reconciliation, and checks:

1. every launched task ended in a terminal state its framework saw;
2. no acknowledged update was contradicted later, the agents' updates of
   each task went forward only, each task's final state is consistent with
   whether it ran, and the leading master's view agrees with the ledgers;
3. no TaskID ran twice (and none was launched twice);
4. the leader's agents are exactly the three running agents, under the IDs
   each agent reports itself, none unreachable and nothing left running;
5. no process logged an ERROR outside a short allow-list.

A failure prints the seed, the fault schedule as applied, and the tail of
every process's log.
"""

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from chaos_pymesos import TERMINAL  # the pymesos framework's own set, beside this file

pytest.importorskip("pymesos", reason="pymesos is not installed; `make test` installs it")
pytest.importorskip("kazoo", reason="pymesos needs kazoo for zk://; `make test` installs it")

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MESETA = TARGET / "debug" / "meseta"
RUST_FRAMEWORK = TARGET / "debug" / "chaos_framework"
PY_FRAMEWORK = Path(__file__).resolve().parent / "chaos_pymesos.py"

SEED = int(os.environ.get("MESETA_CHAOS_SEED") or random.SystemRandom().randrange(1 << 31))
# 500 tasks in all, half per framework, launched over STREAM_SECS.
TASKS_PER_FRAMEWORK = int(os.environ.get("MESETA_CHAOS_TASKS", "500")) // 2
STREAM_SECS = float(os.environ.get("MESETA_CHAOS_STREAM_SECS", "60"))

# Short failure detection, so that a SIGSTOPped agent becomes unreachable
# in seconds and a killed leader is replaced in a few.
PING_TIMEOUT_SECS = 1
MAX_PING_TIMEOUTS = 6
MASTER_FLAGS = [
    "--allocation-interval=100ms",
    f"--agent-ping-timeout={PING_TIMEOUT_SECS}secs",
    f"--max-agent-ping-timeouts={MAX_PING_TIMEOUTS}",
    "--zk-session-timeout=3secs",
]
AGENT_FLAGS = [
    "--status-update-retry-interval=1secs",
    "--registration-backoff-factor=500ms",
]
AGENT_RESOURCES = "cpus:4;mem:4096;disk:1024"

RANK = {"TASK_STAGING": 0, "TASK_STARTING": 1, "TASK_RUNNING": 2, "TASK_KILLING": 2}
# What a framework that is not partition-aware is told instead of the
# states added after Mesos 1.0.
NOT_PARTITION_AWARE = {
    "TASK_DROPPED": "TASK_LOST",
    "TASK_UNREACHABLE": "TASK_LOST",
    "TASK_GONE": "TASK_LOST",
    "TASK_GONE_BY_OPERATOR": "TASK_LOST",
    "TASK_UNKNOWN": "TASK_LOST",
}

# ERROR lines a process may log under these faults, each with why. Nothing
# else at ERROR passes.
PYMESOS_IO_ERROR = r"\[ERROR\] \[Process IO\] \[pymesos\.process:\d+\] "
# pymesos logs at ERROR when the master it streams from goes away under it:
# the connection closed, or reset (pymesos/process.py). The address must be
# a master the test SIGKILLed.
MASTER_GONE_ERRORS = [
    re.compile(PYMESOS_IO_ERROR + r"Remote \('([\d.]+)', (\d+)\) closed$"),
    re.compile(PYMESOS_IO_ERROR + r"Failed to recv from \('([\d.]+)', (\d+)\)$"),
]
# pymesos asks each master it is told of for its version, and logs a
# refused connection at ERROR (as "Error", with the traceback below it):
# ZooKeeper still named a leader the test had just SIGKILLed.
VERSION_ERROR = re.compile(r"\[ERROR\] \[[\w ]+\] \[pymesos\.scheduler:\d+\] Error$")
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")


def rank(state):
    return 3 if state in TERMINAL else RANK.get(state, -1)


def http_json(address, path, timeout=5):
    with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as response:
        return json.load(response)


def wait_for(what, predicate, deadline, failure=None):
    """Polls `predicate` until it returns something true, or fails."""
    end = time.monotonic() + deadline
    while True:
        try:
            value = predicate()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(
                f"timed out after {deadline}s waiting for {what}"
                + (f": {failure()}" if failure else "")
            )
        time.sleep(0.1)


def tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text.splitlines()[-lines:])


class Cluster:
    """`meseta local --control` with 3 masters (and its own ZooKeeper) and
    3 agents, driven through its line protocol."""

    def __init__(self, root):
        assert MESETA.exists(), f"{MESETA} is missing: run `cargo build --workspace --bins` first"
        self.root = root
        self.stderr = open(root / "local.log", "wb")
        flags = [f"--master-arg={flag}" for flag in MASTER_FLAGS]
        flags += [f"--agent-arg={flag}" for flag in AGENT_FLAGS]
        self.proc = subprocess.Popen(
            [
                str(MESETA),
                "local",
                "--control",
                "--masters",
                "3",
                "--agents",
                "3",
                "--port",
                "0",
                "--work-dir",
                str(root / "cluster"),
                "--resources",
                AGENT_RESOURCES,
                *flags,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.processes = {}
        while True:
            event = self._next_event(120)
            if event["event"] == "process":
                self.processes[event["name"]] = event
            elif event["event"] == "ready":
                self.zk_url = event["master"]
                break
            else:
                raise AssertionError(f"meseta local did not start: {event}")

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "eof"})

    def _next_event(self, timeout):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"meseta local said nothing for {timeout}s") from None

    def command(self, verb, name):
        self.proc.stdin.write(f"{verb} {name}\n")
        self.proc.stdin.flush()
        reply = self._next_event(60)
        assert reply["event"] != "error", f"{verb} {name}: {reply}"
        self.processes[reply["name"]] = reply
        return reply

    def masters(self):
        return sorted(n for n, p in self.processes.items() if p["role"] == "master")

    def agents(self):
        return sorted(n for n, p in self.processes.items() if p["role"] == "agent")

    def address(self, name):
        return self.processes[name]["address"]

    def leader(self):
        """The name of the master that says it is elected, if one does."""
        for name in self.masters():
            if not self.processes[name]["running"]:
                continue
            try:
                metrics = http_json(self.address(name), "/metrics/snapshot", timeout=2)
            except OSError:
                continue
            if metrics.get("master/elected") == 1.0:
                return name
        return None

    def logs(self):
        return {name: p["log"] for name, p in sorted(self.processes.items())}

    def stop(self):
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


class Framework:
    """One scheduler process, restartable with the same flags (so with its
    ledger and FrameworkID file)."""

    def __init__(self, name, argv, root):
        self.name = name
        self.argv = argv
        self.log = root / f"{name}.log"
        self.ledger = root / f"{name}.ledger"
        self.framework_id_file = root / f"{name}.framework_id"
        self.proc = None

    def start(self):
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def framework_id(self):
        try:
            return self.framework_id_file.read_text().strip() or None
        except OSError:
            return None

    def records(self):
        out = []
        for line in self.ledger.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line cut short by a SIGKILL
        return out


def fault_schedule(rng):
    """Which faults, and the earliest moment of each (seconds after the
    stream starts), all from the seed."""
    faults = (
        [("kill-leader", None)] * 3
        + [("restart-agent", f"agent-{rng.randrange(3)}") for _ in range(3)]
        + [("restart-scheduler", "rust")] * 2
        + [("restart-scheduler", "pymesos")] * 2
        + [("pause-agent", f"agent-{rng.randrange(3)}")]
    )
    rng.shuffle(faults)
    span = STREAM_SECS * 0.9
    moments = sorted(rng.uniform(STREAM_SECS * 0.05, span) for _ in faults)
    # Each fault gets a seeded pause of its own: how long the process stays
    # down, or how long past unreachable the agent stays stopped. A killed
    # agent stays down well under the unreachable timeout (it is meant to
    # come back as itself; the paused agent is the one that goes away).
    return [
        (at, kind, target, rng.uniform(0.0, 1.0 if kind == "restart-agent" else 2.0))
        for at, (kind, target) in zip(moments, faults)
    ]


class Chaos:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.runs = tmp_path / "runs"
        self.runs.mkdir()
        self.quiet = tmp_path / "quiet"
        self.timeline = []
        self.paused_agents = {}  # agent ID -> when it was resumed (Unix time)
        self.killed_masters = set()
        self.unexpected_exits = []
        self.cluster = None
        self.frameworks = {}
        self.t0 = time.monotonic()

    def note(self, text):
        line = f"[{time.monotonic() - self.t0:7.2f}s] {text}"
        self.timeline.append(line)
        print(line, flush=True)

    def start(self):
        self.cluster = Cluster(self.tmp)
        self.note(f"cluster up; frameworks use {self.cluster.zk_url}")
        self.stream_start = time.time() + 2.0
        common = [
            "--master",
            self.cluster.zk_url,
            "--tasks",
            str(TASKS_PER_FRAMEWORK),
            "--runs-dir",
            str(self.runs),
            "--quiet-file",
            str(self.quiet),
            "--stream-start",
            f"{self.stream_start:.3f}",
            "--stream-secs",
            str(STREAM_SECS),
            "--seed",
            str(SEED),
        ]
        for name, program, prefix in [
            ("rust", [str(RUST_FRAMEWORK)], "rs"),
            ("pymesos", [sys.executable, str(PY_FRAMEWORK)], "py"),
        ]:
            framework = Framework(name, [], self.tmp)
            framework.argv = (
                program
                + common
                + [
                    "--prefix",
                    prefix,
                    "--ledger",
                    str(framework.ledger),
                    "--framework-id-file",
                    str(framework.framework_id_file),
                ]
            )
            framework.start()
            self.frameworks[name] = framework

    def agent_id(self, name):
        return http_json(self.cluster.address(name), "/state")["id"]

    def leader_state(self):
        leader = self.cluster.leader()
        return leader and http_json(self.cluster.address(leader), "/master/state")

    def apply(self, kind, target, hold):
        cluster = self.cluster
        if kind == "kill-leader":
            leader = wait_for("an elected master", cluster.leader, 60)
            self.killed_masters.add(cluster.address(leader))
            cluster.command("kill", leader)
            self.note(f"SIGKILLed the leading master {leader}")
            time.sleep(hold)
            cluster.command("start", leader)
            self.note(f"started {leader} again (after {hold:.1f}s)")
        elif kind == "restart-agent":
            cluster.command("kill", target)
            self.note(f"SIGKILLed {target}")
            time.sleep(hold)
            cluster.command("start", target)
            self.note(f"started {target} again on its work dir (after {hold:.1f}s)")
        elif kind == "restart-scheduler":
            framework = self.frameworks[target]
            framework.kill()
            self.note(f"SIGKILLed the {target} scheduler (FrameworkID {framework.framework_id()})")
            time.sleep(hold)
            framework.start()
            self.note(f"started the {target} scheduler again (after {hold:.1f}s)")
        elif kind == "pause-agent":
            agent_id = wait_for(f"{target}'s ID", lambda: self.agent_id(target), 60)

            def registered():
                # Only an agent the leader has registered is pinged (one it
                # recovered from the registry waits to re-register instead).
                state = self.leader_state()
                return state and any(a["id"] == agent_id and a["active"] for a in state["slaves"])

            wait_for(f"the leader to have {target} registered", registered, 60)
            cluster.command("pause", target)
            self.paused_agents[agent_id] = float("inf")
            self.note(f"SIGSTOPped {target} ({agent_id})")

            def unreachable():
                # /master/state counts unreachable agents and lists only the
                # registered ones.
                state = self.leader_state()
                return (
                    state
                    and state["unreachable_slaves"] > 0
                    and all(
                        a["id"] != agent_id for a in state["slaves"] + state["recovered_slaves"]
                    )
                )

            wait_for(f"the leader to declare {target} unreachable", unreachable, 60)
            self.note(f"the leader declared {target} unreachable")
            time.sleep(hold)
            cluster.command("resume", target)
            self.paused_agents[agent_id] = time.time()
            self.note(f"SIGCONTed {target} (after {hold:.1f}s more)")
        else:
            raise AssertionError(kind)

    def run_faults(self):
        schedule = fault_schedule(random.Random(SEED))
        self.note(
            "fault schedule: "
            + ", ".join(
                f"{at:.1f}s {kind} {target or ''}".strip() for at, kind, target, _ in schedule
            )
        )
        for at, kind, target, hold in schedule:
            delay = self.stream_start + at - time.time()
            if delay > 0:
                time.sleep(delay)  # the schedule itself, not a wait for an event
            for framework in self.frameworks.values():
                code = framework.proc.poll()
                assert code is None, f"the {framework.name} scheduler exited early with {code}"
            self.apply(kind, target, hold)

    def heal(self):
        """Every process running, a leader with all three agents active
        under their own IDs; then the frameworks may finish."""
        for name in self.cluster.masters() + self.cluster.agents():
            if not self.cluster.command("status", name)["running"]:
                # Every kill above starts its process again at once.
                self.unexpected_exits.append(name)
                self.cluster.command("start", name)

        def healed():
            state = self.leader_state()
            if not state:
                return None
            ids = {self.agent_id(name) for name in self.cluster.agents()}
            active = {a["id"] for a in state["slaves"] if a["active"]}
            return (
                active == ids
                and not state.get("unreachable_slaves")
                and not state.get("recovered_slaves")
            )

        wait_for(
            "a leader with every agent back",
            healed,
            90,
            failure=lambda: json.dumps(self.leader_state())[:2000],
        )
        self.quiet.touch()
        self.note("cluster healed; frameworks run their final reconciliation")

    def registry_after_failover(self):
        """Kills the leader once more and returns the new leader's state as
        soon as it leads: a new leader starts from the registry alone, so
        its registered and recovered agents are what the registry holds."""
        old = wait_for("an elected master", self.cluster.leader, 60)
        self.killed_masters.add(self.cluster.address(old))
        self.cluster.command("kill", old)
        self.cluster.command("start", old)
        self.note(f"SIGKILLed the leading master {old} (and started it): a last failover")
        state = wait_for("a new leader", self.leader_state, 60)
        self.note(f"{self.cluster.leader()} leads, from the registry")
        return state

    def wait_for_frameworks(self):
        def finished():
            return all(f.proc.poll() is not None for f in self.frameworks.values())

        wait_for(
            "both frameworks to finish",
            finished,
            120,
            failure=lambda: {n: f.proc.poll() for n, f in self.frameworks.items()},
        )
        for framework in self.frameworks.values():
            assert framework.proc.returncode == 0, (
                f"the {framework.name} scheduler exited {framework.proc.returncode}"
            )
            self.note(f"the {framework.name} scheduler finished")

    def logs(self):
        logs = {"meseta local": self.tmp / "local.log"}
        if self.cluster:
            logs.update(self.cluster.logs())
        for name, framework in self.frameworks.items():
            logs[f"{name} scheduler"] = framework.log
        return logs

    def report(self, problems):
        out = [
            f"chaos seed {SEED} (replay with MESETA_CHAOS_SEED={SEED})",
            "",
            "what happened:",
            *self.timeline,
            "",
        ]
        out += [f"ledgers, runs dir and every log are under {self.tmp}", ""]
        out += ["problems:", *[f"  - {p}" for p in problems[:60]]]
        if len(problems) > 60:
            out.append(f"  ... and {len(problems) - 60} more")
        for name, path in self.logs().items():
            out += ["", f"---- last 40 lines of {name} ({path}) ----", tail(path)]
        return "\n".join(out)

    def stop(self):
        for framework in self.frameworks.values():
            if framework.proc and framework.proc.poll() is None:
                framework.kill()
        if self.cluster:
            self.cluster.stop()


def reported_unreachable(update, on_paused_agent, unreachable_states):
    """Whether `update` reports its task unreachable with its agent. Only
    the agent SIGSTOPped past the ping timeout may have its tasks reported
    so (TASK_UNREACHABLE, or TASK_LOST to a framework that is not
    partition-aware): by the master when it removed the agent, or by a
    reconciliation while the agent was away."""
    return (
        on_paused_agent
        and update["source"] == "SOURCE_MASTER"
        and update["state"] in unreachable_states
        and update["reason"] in ("REASON_AGENT_REMOVED", "REASON_RECONCILIATION")
    )


def check_framework(name, records, partition_aware, runs, paused_agents, master_tasks):
    """The ledger of one framework against the runs dir and the master's
    view; returns the problems found."""
    problems = []
    launched = {}
    finals = {}
    for r in records:
        if r["ev"] == "launch":
            if r["task"] in launched:
                problems.append(f"{name}: {r['task']} was launched twice")
            launched[r["task"]] = r
    history = {task: [] for task in launched}
    for r in records:
        if r["ev"] in ("update", "ack"):
            if r["task"] not in history:
                problems.append(f"{name}: {r['ev']} for {r['task']}, which it never launched")
                continue
            history[r["task"]].append(r)

    # Master-sourced states that an unreachable agent's tasks get, and
    # that do not stand against what was acknowledged before: the agent
    # comes back and its tasks go on (partition-aware) or are killed.
    if partition_aware:
        unreachable_states = {"TASK_UNREACHABLE"}
    else:
        unreachable_states = {"TASK_LOST"}

    for task, events in sorted(history.items()):
        launch = launched[task]
        # Launched on the paused agent before it came back.
        on_paused_agent = launch["t"] <= paused_agents.get(launch["agent"], 0.0)
        updates = [e for e in events if e["ev"] == "update"]
        ran = (runs / task).is_dir()
        if not updates:
            problems.append(f"{name}: {task} never got a status update")
            continue

        def exempt(u, on_paused_agent=on_paused_agent):
            return reported_unreachable(u, on_paused_agent, unreachable_states)

        # 2a. No acknowledged update is contradicted by a later one.
        for i, ack in enumerate(events):
            if ack["ev"] != "ack":
                continue
            for later in events[i + 1 :]:
                if later["ev"] != "update" or exempt(later):
                    continue
                acked, seen = ack["state"], later["state"]
                if acked in TERMINAL and seen != acked:
                    problems.append(
                        f"{name}: {task} was acknowledged {acked}, later reported {seen} ({later})"
                    )
                elif acked not in TERMINAL and rank(seen) < rank(acked):
                    problems.append(
                        f"{name}: {task} was acknowledged {acked}, later reported {seen} ({later})"
                    )

        # 2b. The agent's own updates go forward and end at most once.
        from_agent = [u for u in updates if u["source"] != "SOURCE_MASTER"]
        for a, b in zip(from_agent, from_agent[1:]):
            if rank(b["state"]) < rank(a["state"]) or (
                a["state"] in TERMINAL and b["state"] != a["state"]
            ):
                problems.append(f"{name}: {task}'s agent reported {a['state']} then {b['state']}")

        # Once its agent reported an end, nothing may say otherwise: the
        # frameworks take that end as final (and stop asking about it).
        closing = next((u for u in from_agent if u["state"] in TERMINAL), None)
        if closing is not None:
            for later in updates[updates.index(closing) + 1 :]:
                if later["state"] != closing["state"] and not exempt(later):
                    problems.append(
                        f"{name}: {task} ended {closing['state']} by its agent, "
                        f"later reported {later['state']} ({later})"
                    )

        # 1. It ended, and the framework saw how.
        final = (closing or updates[-1])["state"]
        finals[task] = final
        if final not in TERMINAL:
            problems.append(f"{name}: {task} did not end: last seen {final} ({updates[-1]})")
            continue

        # 2c. The end is consistent with whether it ran.
        lost_with_agent = any(exempt(u) for u in updates)
        if final == "TASK_FINISHED":
            if not ran:
                problems.append(f"{name}: {task} was reported TASK_FINISHED but never ran")
        elif final == "TASK_KILLED" and not partition_aware and lost_with_agent:
            # Mesos's rule, kept by Meseta: a task reported TASK_LOST to a
            # framework that is not partition-aware is killed when its
            # agent comes back.
            pass
        elif ran:
            problems.append(
                f"{name}: {task} ran, but its framework was told {final} last ({updates[-1]})"
            )
        elif final not in ("TASK_LOST", "TASK_DROPPED", "TASK_GONE"):
            # Never ran: its launch died with a master or a scheduler, and
            # the master (or the driver) said so.
            problems.append(f"{name}: {task} never ran and ended {final} ({updates[-1]})")
        elif any(u["state"] == "TASK_RUNNING" and u["source"] != "SOURCE_MASTER" for u in updates):
            problems.append(
                f"{name}: {task} was reported running by its agent, never ran, and ended {final}"
            )

        # 2d. The leading master agrees (for the tasks it still knows).
        if task in master_tasks:
            state = master_tasks[task]
            if not partition_aware:
                state = NOT_PARTITION_AWARE.get(state, state)
            if state != final:
                problems.append(
                    f"{name}: {task} is {state} at the master but {final} in its framework"
                )
    for task in master_tasks:
        if task not in launched:
            problems.append(f"{name}: the master knows {task}, which the framework never launched")
    return problems, launched, finals


def master_tasks_of(state, framework_id):
    """task ID -> the master's latest state for it (a task re-admitted after
    being reported lost appears twice: the later record wins)."""
    tasks = {}
    for framework in state.get("frameworks", []) + state.get("completed_frameworks", []):
        if framework["id"] != framework_id:
            continue
        for task in framework.get("completed_tasks", []):
            tasks[task["id"]] = task["state"]
        for task in framework.get("unreachable_tasks", []):
            tasks[task["id"]] = task["state"]
        for task in framework.get("tasks", []):
            tasks[task["id"]] = task["state"]
    return tasks


def error_lines(path, killed_masters):
    """ERROR lines of one log that the allow-list does not explain."""
    lines = Path(path).read_text(errors="replace").splitlines()
    unexplained = []
    for i, line in enumerate(lines):
        if not re.search(r"\bERROR\b", line):
            continue
        matches = (p.search(line) for p in MASTER_GONE_ERRORS)
        if any(m and f"{m.group(1)}:{m.group(2)}" in killed_masters for m in matches):
            continue
        if VERSION_ERROR.search(line) and killed_masters:
            traceback = []
            for following in lines[i + 1 : i + 60]:
                if TIMESTAMPED.match(following):
                    break
                traceback.append(following)
            text = "\n".join(traceback)
            if "in _get_version" in text and traceback[-1].startswith("ConnectionRefusedError"):
                continue
        unexplained.append(line)
    return unexplained


def test_chaos_loses_nothing(tmp_path):
    print(f"\nchaos seed {SEED} (replay with MESETA_CHAOS_SEED={SEED})", flush=True)
    assert RUST_FRAMEWORK.exists(), (
        f"{RUST_FRAMEWORK} is missing: run `cargo build --workspace --bins` first"
    )
    chaos = Chaos(tmp_path)
    problems = []
    try:
        chaos.start()
        chaos.run_faults()
        chaos.heal()
        chaos.wait_for_frameworks()

        leader = chaos.cluster.leader()
        assert leader, "no leading master at the end"
        state = http_json(chaos.cluster.address(leader), "/master/state")
        agent_states = {
            name: http_json(chaos.cluster.address(name), "/state")
            for name in chaos.cluster.agents()
        }

        # 1, 2 and 3: the ledgers, against the runs dir and the master.
        all_launched = set()
        for name, partition_aware in [("rust", True), ("pymesos", False)]:
            framework = chaos.frameworks[name]
            at_master = master_tasks_of(state, framework.framework_id())
            found, launched, finals = check_framework(
                name,
                framework.records(),
                partition_aware,
                chaos.runs,
                chaos.paused_agents,
                at_master,
            )
            problems += found
            all_launched |= set(launched)
            outcome = Counter(finals.values())
            chaos.note(
                f"{name}: {len(launched)} tasks launched, ended "
                + ", ".join(f"{n} {s}" for s, n in sorted(outcome.items()))
                + f"; {len(at_master)} of them still known to the leader, and compared"
            )
            if len(launched) != TASKS_PER_FRAMEWORK:
                problems.append(
                    f"{name}: launched {len(launched)} tasks, not {TASKS_PER_FRAMEWORK}"
                )
        for entry in sorted(os.listdir(chaos.runs)):
            if entry.endswith(".twice"):
                problems.append(f"task {entry[: -len('.twice')]} ran twice")
            elif entry not in all_launched:
                problems.append(f"{entry} ran but no framework launched it")

        # Nothing is left running, on the agents or at the master.
        for name, agent_state in agent_states.items():
            for framework in agent_state.get("frameworks", []):
                for executor in framework.get("executors", []):
                    for task in executor.get("tasks", []) + executor.get("queued_tasks", []):
                        problems.append(f"{name} still runs {task.get('id')} ({task.get('state')})")
        for framework in state.get("frameworks", []):
            for task in framework.get("tasks", []):
                if task["state"] not in TERMINAL:
                    problems.append(f"the master still has {task['id']} {task['state']}")

        # 4: the registry agrees with the agents: the agents a new leader
        # recovers from it are exactly the three, under the IDs they report
        # themselves, none unreachable; and all three re-register.
        ids = {name: s["id"] for name, s in agent_states.items()}
        recovered = chaos.registry_after_failover()
        in_registry = [a["id"] for a in recovered["slaves"] + recovered["recovered_slaves"]]
        if sorted(in_registry) != sorted(ids.values()):
            problems.append(
                f"the registry holds agents {sorted(in_registry)}, the agents are {ids}"
            )
        if recovered["unreachable_slaves"]:
            problems.append(
                f"the registry holds {recovered['unreachable_slaves']} unreachable agent(s)"
            )

        def reregistered():
            state = chaos.leader_state()
            active = state and {a["id"] for a in state["slaves"] if a["active"]}
            return active == set(ids.values()) and not state["recovered_slaves"] and state

        final = wait_for("every agent to re-register with the new leader", reregistered, 60)
        if final["unreachable_slaves"]:
            problems.append(
                f"the new leader has {final['unreachable_slaves']} unreachable agent(s)"
            )
        for name in chaos.unexpected_exits:
            problems.append(f"{name} exited without being killed")

        # 5: no unexpected ERROR in any log.
        for name, path in chaos.logs().items():
            for line in error_lines(path, chaos.killed_masters)[:10]:
                problems.append(f"{name} logged: {line}")
    except BaseException as error:
        problems.append(f"the run failed: {error!r}")
        raise AssertionError(chaos.report(problems)) from error
    finally:
        chaos.stop()
    if problems:
        pytest.fail(chaos.report(problems), pytrace=False)
    chaos.note(f"passed: {2 * TASKS_PER_FRAMEWORK} tasks, {len(chaos.timeline)} events")


def test_the_checks_catch_what_they_claim(tmp_path):
    """The ledger checks on made-up ledgers: each kind of loss is found, and
    what the faults legitimately cause is not (a test that cannot fail
    proves nothing)."""
    runs = tmp_path / "runs"
    runs.mkdir()

    def update(task, state, source="SOURCE_EXECUTOR", reason="", uuid=None):
        return dict(ev="update", task=task, state=state, source=source, reason=reason, uuid=uuid)

    def ack(task, state, uuid):
        return dict(ev="ack", task=task, state=state, uuid=uuid)

    def launch(task, agent="A1", t=10.0):
        return dict(ev="launch", task=task, agent=agent, t=t)

    def ran(task):
        (runs / task).mkdir(exist_ok=True)

    def finished(task, agent="A1"):
        return [
            launch(task, agent),
            update(task, "TASK_STARTING", uuid="u1"),
            ack(task, "TASK_STARTING", "u1"),
            update(task, "TASK_RUNNING", uuid="u2"),
            ack(task, "TASK_RUNNING", "u2"),
            update(task, "TASK_FINISHED", uuid="u3"),
            ack(task, "TASK_FINISHED", "u3"),
        ]

    never_ran = [
        launch("b"),
        update("b", "TASK_GONE", "SOURCE_MASTER", "REASON_RECONCILIATION"),
    ]

    def problems(records, master=None, partition_aware=True, paused=None):
        found, _, _ = check_framework(
            "fw", records, partition_aware, runs, paused or {}, master or {}
        )
        return found

    ran("a")
    assert problems(finished("a") + never_ran, master={"a": "TASK_FINISHED"}) == []

    lost_after_ack = finished("a") + [
        update("a", "TASK_GONE", "SOURCE_MASTER", "REASON_RECONCILIATION")
    ]
    assert any("later reported TASK_GONE" in p for p in problems(lost_after_ack))
    assert any("never ran" in p for p in problems(finished("x")))
    ran("b")
    assert any("ran, but its framework was told TASK_GONE" in p for p in problems(never_ran))
    assert any("launched twice" in p for p in problems(finished("a") + [launch("a")]))
    assert any("did not end" in p for p in problems(finished("a")[:5]))
    assert any("at the master" in p for p in problems(finished("a"), {"a": "TASK_FAILED"}))
    backwards = finished("a")[:5] + [update("a", "TASK_STARTING", uuid="u9")]
    assert any("agent reported TASK_RUNNING then TASK_STARTING" in p for p in problems(backwards))
    assert any("never launched" in p for p in problems([update("z", "TASK_RUNNING")]))

    # The paused agent's tasks may be reported lost, then killed when it
    # comes back (not partition-aware); any other agent's may not.
    lost_then_killed = finished("c", agent="A2")[:5] + [
        update("c", "TASK_LOST", "SOURCE_MASTER", "REASON_AGENT_REMOVED"),
        update("c", "TASK_KILLED", uuid="u4"),
    ]
    ran("c")
    assert problems(lost_then_killed, partition_aware=False, paused={"A2": 20.0}) == []
    assert problems(lost_then_killed, partition_aware=False, paused={"A2": 5.0}) != []
    assert problems(lost_then_killed, partition_aware=False) != []
