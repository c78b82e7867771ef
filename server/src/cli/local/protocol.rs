//! The line protocol of `meseta local --control`: what a test harness in
//! another language (Python, Java, C++) writes on the cluster's stdin, and
//! the JSON lines it reads back on stdout.
//!
//! It exists so that only the launcher knows how a cluster is laid out on
//! disk (address files, pid records, work dirs): a harness starts one
//! `meseta local --control`, learns every process's address, pid, work dir
//! and log from the events, and acts on single processes by name.
//!
//! Every output line is one *flat* JSON object (strings, integers, booleans
//! and null; never a nested object or array) with an `"event"` key, so that a
//! harness without a JSON library (the JDK has none, the C++ tests use none)
//! reads it with one regular expression. Commands are `VERB [NAME]`, one a
//! line; every command line gets exactly one reply line, in order, and a bad
//! command gets an `error` reply without harming the cluster.

use serde_json::{json, Map, Value};

/// One process of the cluster, by the name the launcher gives it: `master`
/// (the first master), `master-N` (further masters), `agent-N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Master `N` (0 is the first, named `master`).
    Master(usize),
    /// Agent `N`, named `agent-N`.
    Agent(usize),
}

impl Target {
    /// Parses a process name; only the exact names the events use.
    pub fn parse(name: &str) -> Result<Target, String> {
        let target = if name == "master" {
            Some(Target::Master(0))
        } else if let Some(n) = name.strip_prefix("master-") {
            index(n).filter(|&n| n > 0).map(Target::Master)
        } else if let Some(n) = name.strip_prefix("agent-") {
            index(n).map(Target::Agent)
        } else {
            None
        };
        target.ok_or_else(|| format!("{name:?} is not a process name (master, master-N, agent-N)"))
    }

    /// The process's name, as in the events.
    pub fn name(self) -> String {
        match self {
            Target::Master(0) => "master".into(),
            Target::Master(n) => format!("master-{n}"),
            Target::Agent(n) => format!("agent-{n}"),
        }
    }
}

/// A decimal index written the canonical way (no sign, no leading zero), so
/// that a name maps back to itself.
fn index(text: &str) -> Option<usize> {
    let n: usize = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// A command read on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// SIGKILL, as a crash would; an agent's tasks live on. Idempotent.
    Kill(Target),
    /// Starts a process that is not running, on its work dir (a master on
    /// its port); `agent-N` with N the number of agents adds an agent.
    Start(Target),
    /// Kill, then start on the same work dir (a master on the same port).
    Restart(Target),
    /// SIGSTOP: alive but silent, as in a network partition.
    Pause(Target),
    /// SIGCONT after a pause.
    Resume(Target),
    /// Reports the process, changing nothing.
    Status(Target),
    /// Stops the whole cluster and exits (as EOF on stdin does).
    Stop,
}

/// What the commands look like, for error messages and `--help`.
pub const USAGE: &str = "kill|start|restart|pause|resume|status NAME, or stop";

/// Parses one input line (surrounding whitespace ignored).
pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (verb, rest) = match words.split_first() {
        Some((verb, rest)) => (*verb, rest),
        None => return Err(format!("empty command; expected {USAGE}")),
    };
    if verb == "stop" {
        return match rest {
            [] => Ok(Command::Stop),
            _ => Err("stop takes no argument".into()),
        };
    }
    let make: fn(Target) -> Command = match verb {
        "kill" => Command::Kill,
        "start" => Command::Start,
        "restart" => Command::Restart,
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "status" => Command::Status,
        _ => return Err(format!("unknown command {verb:?}; expected {USAGE}")),
    };
    match rest {
        [name] => Target::parse(name).map(make),
        [] => Err(format!("{verb} needs a process name")),
        _ => Err(format!("{verb} takes one process name")),
    }
}

/// The protocol's view of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// `master`, `master-N` or `agent-N`.
    pub name: String,
    /// `master` or `agent`.
    pub role: &'static str,
    /// Its `host:port` (the last one it had, if it is not running).
    pub address: String,
    /// Its process ID, while running.
    pub pid: Option<u32>,
    /// Its work dir.
    pub work_dir: String,
    /// Its log file.
    pub log: String,
}

/// `{"event": EVENT, "name": ..., "role": ..., "address": ..., "pid": ...,
/// "running": ..., "work_dir": ..., "log": ...}`: the `process` events
/// before `ready`, and the replies to the per-process commands (`killed`,
/// `started`, `restarted`, `paused`, `resumed`, `status`).
pub fn process_event(event: &str, process: &ProcessInfo) -> String {
    line(json!({
        "event": event,
        "name": process.name,
        "role": process.role,
        "address": process.address,
        "pid": process.pid,
        "running": process.pid.is_some(),
        "work_dir": process.work_dir,
        "log": process.log,
    }))
}

/// The cluster is up: `leader` is the elected master's `host:port` (it has
/// every agent), `master` what frameworks should be given (the ZooKeeper
/// group when there is one, else `leader`), `root` the directory holding
/// every work dir and log.
pub fn ready_event(
    leader: &str,
    master: &str,
    root: &str,
    masters: usize,
    agents: usize,
) -> String {
    line(json!({
        "event": "ready",
        "leader": leader,
        "master": master,
        "root": root,
        "masters": masters,
        "agents": agents,
    }))
}

/// A command failed (`command` is the line as read), or the cluster could
/// not start (no `command`).
pub fn error_event(command: Option<&str>, message: &str) -> String {
    let mut object = Map::new();
    object.insert("event".into(), "error".into());
    if let Some(command) = command {
        object.insert("command".into(), command.trim().into());
    }
    object.insert("message".into(), message.into());
    line(Value::Object(object))
}

/// Every process has stopped; the last line.
pub fn stopped_event() -> String {
    line(json!({ "event": "stopped" }))
}

/// The object as one line, `"event"` first for people reading along.
fn line(value: Value) -> String {
    let Value::Object(mut object) = value else {
        return value.to_string();
    };
    let event = object.remove("event").unwrap_or(Value::Null);
    let rest = Value::Object(object).to_string();
    match rest.strip_prefix('{').filter(|r| *r != "}") {
        Some(fields) => format!("{{\"event\":{event},{fields}"),
        None => format!("{{\"event\":{event}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in ["master", "master-1", "master-12", "agent-0", "agent-7"] {
            assert_eq!(Target::parse(name).unwrap().name(), name);
        }
        assert_eq!(Target::parse("agent-3"), Ok(Target::Agent(3)));
        assert_eq!(Target::parse("master"), Ok(Target::Master(0)));
    }

    #[test]
    fn unknown_names_are_refused() {
        for name in [
            "master-0",
            "agent",
            "agent-",
            "agent--1",
            "agent-01",
            "agent-x",
            "Agent-0",
            "slave-0",
            "agent-1a",
            "zookeeper",
        ] {
            let error = Target::parse(name).unwrap_err();
            assert!(error.contains("not a process name"), "{name}: {error}");
        }
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse("kill agent-1"), Ok(Command::Kill(Target::Agent(1))));
        assert_eq!(
            parse("  restart   master \n"),
            Ok(Command::Restart(Target::Master(0)))
        );
        assert_eq!(parse("start agent-2"), Ok(Command::Start(Target::Agent(2))));
        assert_eq!(parse("pause agent-0"), Ok(Command::Pause(Target::Agent(0))));
        assert_eq!(
            parse("resume master-1"),
            Ok(Command::Resume(Target::Master(1)))
        );
        assert_eq!(
            parse("status agent-0"),
            Ok(Command::Status(Target::Agent(0)))
        );
        assert_eq!(parse("stop"), Ok(Command::Stop));
    }

    #[test]
    fn bad_commands_say_why() {
        let cases = [
            ("", "empty command"),
            ("   ", "empty command"),
            ("explode agent-0", "unknown command \"explode\""),
            ("KILL agent-0", "unknown command"),
            ("kill", "kill needs a process name"),
            ("kill agent-0 agent-1", "kill takes one process name"),
            ("restart agent-x", "not a process name"),
            ("stop now", "stop takes no argument"),
        ];
        for (input, expected) in cases {
            let error = parse(input).unwrap_err();
            assert!(error.contains(expected), "{input:?}: {error}");
        }
    }

    fn flat(text: &str) -> Map<String, Value> {
        assert!(!text.contains('\n'), "one line: {text}");
        let value: Value = serde_json::from_str(text).unwrap();
        let object = value.as_object().unwrap().clone();
        for (key, value) in &object {
            assert!(!value.is_object() && !value.is_array(), "{key} is nested");
        }
        object
    }

    #[test]
    fn events_are_flat_json_lines() {
        let process = ProcessInfo {
            name: "agent-0".into(),
            role: "agent",
            address: "127.0.0.1:1234".into(),
            pid: Some(42),
            work_dir: "/tmp/a \"quoted\"\ndir/agent-0".into(),
            log: "/tmp/a/agent-0.log".into(),
        };
        let event = flat(&process_event("restarted", &process));
        assert_eq!(event["event"], "restarted");
        assert_eq!(event["pid"], 42);
        assert_eq!(event["running"], true);
        assert_eq!(event["work_dir"], "/tmp/a \"quoted\"\ndir/agent-0");

        let gone = ProcessInfo {
            pid: None,
            ..process
        };
        let event = flat(&process_event("killed", &gone));
        assert_eq!(event["pid"], Value::Null);
        assert_eq!(event["running"], false);

        let ready = flat(&ready_event("127.0.0.1:5050", "zk://x/y", "/tmp/a", 1, 2));
        assert_eq!(ready["event"], "ready");
        assert_eq!(ready["leader"], "127.0.0.1:5050");
        assert_eq!(ready["agents"], 2);

        let error = flat(&error_event(Some("kill agent-9\n"), "no agent-9"));
        assert_eq!(error["command"], "kill agent-9");
        assert!(!flat(&error_event(None, "x")).contains_key("command"));
        assert_eq!(stopped_event(), r#"{"event":"stopped"}"#);
        assert!(ready_event("a", "b", "c", 1, 1).starts_with(r#"{"event":"ready","#));
    }
}
