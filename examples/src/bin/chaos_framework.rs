//! A framework built to be killed: the Rust half of the chaos test
//! (`tests/compat/test_chaos.py`, issue 16).
//!
//! The test SIGKILLs masters, agents and this scheduler while it launches a
//! stream of short and long tasks, and then has to decide whether anything
//! was lost. It can only decide that from a record kept as things happen,
//! so this framework writes a ledger (JSON lines, one `write` each, never
//! buffered in the process): every task it launches *before* the `ACCEPT`
//! leaves, every status update it receives, and every acknowledgement it
//! sends (acknowledgements are explicit and follow the update's line, so
//! an acknowledged update is always in the ledger).
//!
//! Killed and started again with the same flags, it re-subscribes with the
//! FrameworkID it wrote to `--framework-id-file`, reads the ledger back
//! (so a TaskID is never launched twice), and reconciles. The framework
//! checkpoints and is partition-aware (the pymesos half of the test is
//! not, so both behaviours of an unreachable agent are exercised).
//!
//! Each task first makes `<runs-dir>/<task id>` with `mkdir` (atomic: it
//! fails if the directory exists), so a second run of one TaskID leaves a
//! `<task id>.twice` marker and fails.
//!
//! It exits 0 once every task is launched, the test has created
//! `--quiet-file` (faults over, every agent back), a final explicit
//! reconciliation of every task not closed by its agent was answered, and
//! every task is terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use meseta_core::scheduler::is_terminal;
use meseta_core::{Scheduler, SchedulerConfig, SchedulerDriver, Status};
use meseta_examples::{framework_info, init_logging, parse_master, state_name, Packer};
use meseta_proto::v1::{self, framework_info::capability, task_status, TaskState};

/// A framework for the chaos test: launches a paced stream of tasks,
/// survives being killed, and keeps a ledger of everything it saw.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Master address (`zk://HOST:PORT/PATH`, `HOST:PORT`, ...).
    #[arg(long, value_parser = parse_master)]
    master: String,
    /// How many tasks to launch in all (across restarts).
    #[arg(long)]
    tasks: usize,
    /// The ledger (JSON lines; appended to, and read back at start).
    #[arg(long)]
    ledger: PathBuf,
    /// Where each task makes its run marker.
    #[arg(long)]
    runs_dir: PathBuf,
    /// Where the FrameworkID is kept between runs.
    #[arg(long)]
    framework_id_file: PathBuf,
    /// Exists once the test's faults are over; starts the final round.
    #[arg(long)]
    quiet_file: PathBuf,
    /// Unix time (seconds) at which the stream of launches starts.
    #[arg(long)]
    stream_start: f64,
    /// Seconds over which the launches are spread.
    #[arg(long, default_value_t = 60.0)]
    stream_secs: f64,
    /// Seed for each task's kind and duration (same seed, same tasks).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Prefix of the TaskIDs.
    #[arg(long, default_value = "rs")]
    prefix: String,
    /// Framework name.
    #[arg(long, default_value = "chaos-rust")]
    name: String,
    /// Share of long tasks, in percent.
    #[arg(long, default_value_t = 20)]
    long_percent: u64,
    /// CPUs per task.
    #[arg(long, default_value_t = 0.05)]
    cpus: f64,
    /// Memory per task, in MB.
    #[arg(long, default_value_t = 16.0)]
    mem: f64,
}

/// Seconds since the Unix epoch.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A value in one flat JSON ledger line.
enum J<'a> {
    S(&'a str),
    N(f64),
    B(bool),
    Null,
    List(&'a [String]),
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One JSON object on one line (no newline).
fn json_line(fields: &[(&str, J<'_>)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(key, value)| {
            let value = match value {
                J::S(s) => quote(s),
                J::N(n) if n.is_finite() => format!("{n}"),
                J::N(_) | J::Null => "null".to_string(),
                J::B(b) => b.to_string(),
                J::List(items) => {
                    let items: Vec<String> = items.iter().map(|i| quote(i)).collect();
                    format!("[{}]", items.join(","))
                }
            };
            format!("{}:{value}", quote(key))
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Reads the string and number fields of one flat JSON object written by
/// [`json_line`] (lists and nested values are skipped). `None` for a line
/// that is not such an object, e.g. one cut short by a SIGKILL.
fn parse_flat(line: &str) -> Option<BTreeMap<String, String>> {
    let mut chars = line.trim().chars().peekable();
    let mut fields = BTreeMap::new();
    if chars.next()? != '{' {
        return None;
    }
    fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
        let mut out = String::new();
        loop {
            match chars.next()? {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.next()? {
            '}' => return Some(fields),
            '"' => {}
            _ => return None,
        }
        let key = string(&mut chars)?;
        if chars.next()? != ':' {
            return None;
        }
        match chars.peek()? {
            '"' => {
                chars.next();
                let value = string(&mut chars)?;
                fields.insert(key, value);
            }
            '[' => {
                // A list of strings: skipped (no ']' inside our strings'
                // quotes is taken for the end).
                let mut quoted = false;
                let mut escaped = false;
                loop {
                    let c = chars.next()?;
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        quoted = !quoted;
                    } else if c == ']' && !quoted {
                        break;
                    }
                }
            }
            _ => {
                let mut value = String::new();
                while chars.peek().is_some_and(|c| *c != ',' && *c != '}') {
                    value.extend(chars.next());
                }
                fields.insert(key, value.trim().to_string());
            }
        }
    }
}

/// The append-only ledger: one `write` per line, straight to the kernel, so
/// a SIGKILL loses at most the line being written.
struct Ledger {
    file: File,
}

impl Ledger {
    /// Opens (creating) the ledger and returns it with the lines already
    /// in it; a last line cut short by a kill is closed with a newline.
    fn open(path: &Path) -> std::io::Result<(Ledger, Vec<String>)> {
        let mut text = String::new();
        if let Ok(mut file) = File::open(path) {
            file.read_to_string(&mut text)?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        if !text.is_empty() && !text.ends_with('\n') {
            file.write_all(b"\n")?;
        }
        let lines = text.lines().map(str::to_string).collect();
        Ok((Ledger { file }, lines))
    }

    fn append(&mut self, fields: &[(&str, J<'_>)]) {
        let mut line = json_line(fields);
        line.push('\n');
        if let Err(error) = self.file.write_all(line.as_bytes()) {
            // A ledger that cannot be written makes the run meaningless.
            eprintln!("chaos_framework: cannot write the ledger: {error}");
            std::process::exit(2);
        }
    }
}

/// A 64-bit mix of `seed` and `n` (splitmix64), for per-task choices that
/// a restarted scheduler makes again identically.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed
        .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What the framework knows of one launched task.
struct TaskView {
    agent: String,
    state: Option<TaskState>,
    /// The agent (or executor) itself reported a terminal state: the task
    /// is settled, and later answers from the master do not change that
    /// (the master forgets a task once its end is acknowledged, so it would
    /// call it unknown).
    closed_by_agent: bool,
    /// When the last update (or the launch) was seen.
    news: Instant,
    /// When it was last named in a reconciliation.
    reconciled: Option<Instant>,
}

impl TaskView {
    fn terminal(&self) -> bool {
        self.state.is_some_and(is_terminal)
    }
}

/// The final round: after `--quiet-file` appears, every task its agent did
/// not close is reconciled until the master has answered for each.
#[derive(Default)]
struct FinalRound {
    started: Option<Instant>,
    /// Tasks to hear about again.
    pending: BTreeSet<String>,
    last_sent: Option<Instant>,
}

struct State {
    args: Args,
    ledger: Ledger,
    tasks: BTreeMap<String, TaskView>,
    /// Index of the next task to launch.
    next: usize,
    subscribed: bool,
    final_round: FinalRound,
    done: bool,
    failure: Option<String>,
}

impl State {
    fn task_id(&self, index: usize) -> String {
        format!("{}-{index:04}", self.args.prefix)
    }

    /// How many launches are due by now (the stream is paced by the clock,
    /// so restarts do not change its shape).
    fn due(&self, now: f64) -> usize {
        let elapsed = now - self.args.stream_start;
        if elapsed < 0.0 {
            return 0;
        }
        let interval = self.args.stream_secs / self.args.tasks.max(1) as f64;
        let due = (elapsed / interval.max(1e-6)).floor() as usize + 1;
        due.min(self.args.tasks)
    }

    /// The shell command of task `index`: mark the run (once), then sleep.
    fn command(&self, index: usize, task_id: &str) -> (String, &'static str, f64) {
        let roll = mix(self.args.seed, index as u64);
        let long = roll % 100 < self.args.long_percent;
        let secs = if long {
            3.0 + ((roll >> 8) % 40) as f64 / 10.0
        } else {
            0.1 + ((roll >> 8) % 8) as f64 / 10.0
        };
        let marker = self.args.runs_dir.join(task_id);
        let marker = marker.display();
        let command =
            format!("mkdir '{marker}' || {{ touch '{marker}.twice'; exit 3; }}; sleep {secs:.1}");
        (command, if long { "long" } else { "short" }, secs)
    }

    fn reconcile(&mut self, driver: &SchedulerDriver, ids: &[String], why: &str) {
        if ids.is_empty() {
            return;
        }
        let now = Instant::now();
        let statuses: Vec<v1::TaskStatus> = ids
            .iter()
            .filter_map(|id| {
                let view = self.tasks.get_mut(id)?;
                view.reconciled = Some(now);
                Some(v1::TaskStatus {
                    task_id: v1::TaskId { value: id.clone() },
                    agent_id: Some(v1::AgentId {
                        value: view.agent.clone(),
                    }),
                    state: view.state.unwrap_or(TaskState::TaskStaging) as i32,
                    ..Default::default()
                })
            })
            .collect();
        self.ledger.append(&[
            ("ev", J::S("reconcile")),
            ("why", J::S(why)),
            ("tasks", J::List(ids)),
            ("t", J::N(unix_now())),
        ]);
        driver.reconcile_tasks(&statuses);
    }

    /// Tasks whose state the framework cannot vouch for.
    fn not_terminal(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter(|(_, view)| !view.terminal())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Called by the main thread a few times a second.
    fn tick(&mut self, driver: &SchedulerDriver) {
        let now = Instant::now();
        if !self.subscribed {
            return;
        }
        // A launch that never reached an agent (the ACCEPT died with a
        // master, or with this scheduler) has no update to wait for: ask.
        let quiet_for = Duration::from_secs(3);
        let stale: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, v)| !v.terminal())
            .filter(|(_, v)| now.duration_since(v.news) > quiet_for)
            .filter(|(_, v)| {
                v.reconciled
                    .is_none_or(|t| now.duration_since(t) > quiet_for)
            })
            .map(|(id, _)| id.clone())
            .collect();
        self.reconcile(driver, &stale, "stale");

        let launched_all = self.next >= self.args.tasks;
        if launched_all && self.final_round.started.is_none() && self.args.quiet_file.exists() {
            // Every task its agent did not close: those the master (or
            // the driver) spoke for (lost with an unreachable agent,
            // dropped launches, reconciliation answers) and any still
            // running.
            let pending: BTreeSet<String> = self
                .tasks
                .iter()
                .filter(|(_, v)| !v.closed_by_agent)
                .map(|(id, _)| id.clone())
                .collect();
            self.ledger.append(&[
                ("ev", J::S("final_round")),
                ("pending", J::N(pending.len() as f64)),
                ("t", J::N(unix_now())),
            ]);
            self.final_round = FinalRound {
                started: Some(now),
                pending,
                last_sent: None,
            };
        }
        if self.final_round.started.is_some() {
            let resend = self
                .final_round
                .last_sent
                .is_none_or(|t| now.duration_since(t) > Duration::from_secs(2));
            if resend && !self.final_round.pending.is_empty() {
                self.final_round.last_sent = Some(now);
                let ids: Vec<String> = self.final_round.pending.iter().cloned().collect();
                self.reconcile(driver, &ids, "final");
            }
            let open = self.not_terminal();
            if self.final_round.pending.is_empty() && open.is_empty() && !self.done {
                self.done = true;
                self.ledger.append(&[
                    ("ev", J::S("done")),
                    ("tasks", J::N(self.tasks.len() as f64)),
                    ("t", J::N(unix_now())),
                ]);
            }
        }
    }
}

fn state_of(status: &v1::TaskStatus) -> Option<TaskState> {
    TaskState::try_from(status.state).ok()
}

fn source_name(status: &v1::TaskStatus) -> &'static str {
    status
        .source
        .and_then(|s| task_status::Source::try_from(s).ok())
        .map(|s| s.as_str_name())
        .unwrap_or("")
}

fn reason_name(status: &v1::TaskStatus) -> &'static str {
    status
        .reason
        .and_then(|r| task_status::Reason::try_from(r).ok())
        .map(|r| r.as_str_name())
        .unwrap_or("")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct ChaosScheduler {
    state: Arc<Mutex<State>>,
}

impl ChaosScheduler {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn subscribed(&self, driver: &SchedulerDriver, framework_id: Option<&str>, again: bool) {
        let mut state = self.state();
        state.subscribed = true;
        if let Some(id) = framework_id {
            write_framework_id(&state.args.framework_id_file, id);
        }
        state.ledger.append(&[
            (
                "ev",
                J::S(if again { "reregistered" } else { "registered" }),
            ),
            ("framework_id", framework_id.map_or(J::Null, J::S)),
            ("t", J::N(unix_now())),
        ]);
        let open = state.not_terminal();
        state.reconcile(driver, &open, "subscribed");
        if state.next >= state.args.tasks {
            driver.suppress_offers();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes the FrameworkID where a restarted scheduler finds it (a whole
/// file or none: written aside, then renamed).
fn write_framework_id(path: &Path, id: &str) {
    let aside = path.with_extension("tmp");
    let written = std::fs::write(&aside, format!("{id}\n")).and_then(|()| {
        File::open(&aside)?.sync_all()?;
        std::fs::rename(&aside, path)
    });
    if let Err(error) = written {
        eprintln!("chaos_framework: cannot write {}: {error}", path.display());
        std::process::exit(2);
    }
}

impl Scheduler for ChaosScheduler {
    fn registered(
        &mut self,
        driver: &SchedulerDriver,
        framework_id: &v1::FrameworkId,
        master: &v1::MasterInfo,
    ) {
        tracing::info!(
            framework_id = %framework_id.value,
            master = %master.id,
            "registered"
        );
        self.subscribed(driver, Some(&framework_id.value), false);
    }

    fn reregistered(&mut self, driver: &SchedulerDriver, master: &v1::MasterInfo) {
        tracing::info!(master = %master.id, "re-registered");
        let id = driver.framework_id().map(|id| id.value);
        self.subscribed(driver, id.as_deref(), true);
    }

    fn disconnected(&mut self, _driver: &SchedulerDriver) {
        tracing::info!("disconnected from the master");
        self.state().subscribed = false;
    }

    fn resource_offers(&mut self, driver: &SchedulerDriver, offers: &[v1::Offer]) {
        let mut state = self.state();
        let now = unix_now();
        let due = state.due(now);
        for offer in offers {
            let mut packer = Packer::new(offer);
            let mut tasks = Vec::new();
            while state.next < due {
                let Some(resources) = packer.take(state.args.cpus, state.args.mem) else {
                    break;
                };
                let index = state.next;
                let task_id = state.task_id(index);
                let (command, kind, secs) = state.command(index, &task_id);
                // Written before the ACCEPT leaves: a TaskID in the ledger
                // is never launched again, whatever happens next.
                state.ledger.append(&[
                    ("ev", J::S("launch")),
                    ("task", J::S(&task_id)),
                    ("index", J::N(index as f64)),
                    ("agent", J::S(&offer.agent_id.value)),
                    ("kind", J::S(kind)),
                    ("secs", J::N(secs)),
                    ("t", J::N(now)),
                ]);
                state.next += 1;
                state.tasks.insert(
                    task_id.clone(),
                    TaskView {
                        agent: offer.agent_id.value.clone(),
                        state: None,
                        closed_by_agent: false,
                        news: Instant::now(),
                        reconciled: None,
                    },
                );
                tasks.push(v1::TaskInfo {
                    name: format!("chaos {task_id}"),
                    task_id: v1::TaskId { value: task_id },
                    agent_id: offer.agent_id.clone(),
                    resources,
                    command: Some(v1::CommandInfo {
                        value: Some(command),
                        shell: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            let launched_all = state.next >= state.args.tasks;
            let refuse = Some(v1::Filters {
                refuse_seconds: Some(if launched_all { 3600.0 } else { 0.5 }),
            });
            if tasks.is_empty() {
                driver.decline_offer(&offer.id, refuse);
            } else {
                tracing::info!(
                    count = tasks.len(),
                    agent = %offer.agent_id.value,
                    launched = state.next,
                    "launching"
                );
                driver.launch_tasks(std::slice::from_ref(&offer.id), tasks, refuse);
            }
        }
        if state.next >= state.args.tasks {
            driver.suppress_offers();
        }
    }

    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {
        let mut state = self.state();
        let task_id = status.task_id.value.clone();
        let uuid = status.uuid.as_deref().map(hex);
        let agent = status.agent_id.as_ref().map(|a| a.value.clone());
        let name = state_name(status.state);
        let source = source_name(status);
        let known = state.tasks.contains_key(&task_id);
        state.ledger.append(&[
            ("ev", J::S("update")),
            ("task", J::S(&task_id)),
            ("state", J::S(name)),
            ("source", J::S(source)),
            ("reason", J::S(reason_name(status))),
            ("uuid", uuid.as_deref().map_or(J::Null, J::S)),
            ("agent", agent.as_deref().map_or(J::Null, J::S)),
            ("message", J::S(status.message.as_deref().unwrap_or(""))),
            ("known", J::B(known)),
            ("t", J::N(unix_now())),
        ]);
        let started = state.final_round.started;
        if let Some(view) = state.tasks.get_mut(&task_id) {
            view.news = Instant::now();
            if !view.closed_by_agent {
                view.state = state_of(status);
                view.closed_by_agent = source != "SOURCE_MASTER" && view.terminal();
                if let Some(agent) = agent {
                    view.agent = agent;
                }
            }
        }
        if started.is_some() {
            // Answered (or moved on by its agent) since the final round began.
            state.final_round.pending.remove(&task_id);
        }
        if let Some(uuid) = uuid {
            driver.acknowledge_status_update(status);
            state.ledger.append(&[
                ("ev", J::S("ack")),
                ("task", J::S(&task_id)),
                ("state", J::S(name)),
                ("uuid", J::S(&uuid)),
                ("t", J::N(unix_now())),
            ]);
        }
    }

    fn slave_lost(&mut self, _driver: &SchedulerDriver, agent_id: &v1::AgentId) {
        self.state().ledger.append(&[
            ("ev", J::S("agent_lost")),
            ("agent", J::S(&agent_id.value)),
            ("t", J::N(unix_now())),
        ]);
    }

    fn error(&mut self, driver: &SchedulerDriver, message: &str) {
        let mut state = self.state();
        state.ledger.append(&[
            ("ev", J::S("error")),
            ("message", J::S(message)),
            ("t", J::N(unix_now())),
        ]);
        if driver.status() != Status::Running {
            state.failure = Some(format!("the driver ended: {message}"));
        } else {
            tracing::warn!("a call failed: {message}");
        }
    }
}

/// Rebuilds what a previous run of this scheduler knew from its ledger.
fn replay(lines: &[String], tasks: &mut BTreeMap<String, TaskView>) -> usize {
    let mut next = 0;
    for line in lines {
        let Some(fields) = parse_flat(line) else {
            continue;
        };
        let field = |name: &str| fields.get(name).map(String::as_str);
        let Some(task_id) = field("task") else {
            continue;
        };
        match field("ev") {
            Some("launch") => {
                if let Some(index) = field("index").and_then(|i| i.parse::<f64>().ok()) {
                    next = next.max(index as usize + 1);
                }
                tasks.insert(
                    task_id.to_string(),
                    TaskView {
                        agent: field("agent").unwrap_or_default().to_string(),
                        state: None,
                        closed_by_agent: false,
                        news: Instant::now(),
                        reconciled: None,
                    },
                );
            }
            Some("update") => {
                if let Some(view) = tasks.get_mut(task_id).filter(|v| !v.closed_by_agent) {
                    view.state = field("state").and_then(TaskState::from_str_name);
                    view.closed_by_agent =
                        field("source") != Some("SOURCE_MASTER") && view.terminal();
                    if let Some(agent) = field("agent").filter(|a| !a.is_empty() && *a != "null") {
                        view.agent = agent.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    next
}

fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    let (mut ledger, lines) = match Ledger::open(&args.ledger) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("cannot open {}: {error}", args.ledger.display());
            return ExitCode::from(2);
        }
    };
    let mut tasks = BTreeMap::new();
    let next = replay(&lines, &mut tasks);
    let framework_id = std::fs::read_to_string(&args.framework_id_file)
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty());
    ledger.append(&[
        ("ev", J::S("start")),
        ("pid", J::N(f64::from(std::process::id()))),
        (
            "framework_id",
            framework_id.as_deref().map_or(J::Null, J::S),
        ),
        ("launched", J::N(next as f64)),
        ("t", J::N(unix_now())),
    ]);
    tracing::info!(
        launched = next,
        framework_id = framework_id.as_deref().unwrap_or("(new)"),
        "starting"
    );

    let mut info = framework_info(&args.name, "*", None);
    info.checkpoint = Some(true);
    info.failover_timeout = Some(86_400.0);
    info.capabilities.push(v1::framework_info::Capability {
        r#type: Some(capability::Type::PartitionAware as i32),
    });
    info.id = framework_id.map(|value| v1::FrameworkId { value });
    let mut config = SchedulerConfig::new(args.master.clone(), info);
    config.implicit_acknowledgements = false;
    // Masters come and go every few seconds here: retry quickly.
    config.reconnect_backoff_initial = Duration::from_millis(200);
    config.reconnect_backoff_max = Duration::from_secs(2);
    if next >= args.tasks {
        config.suppressed_roles = vec!["*".to_string()];
    }

    let state = Arc::new(Mutex::new(State {
        args,
        ledger,
        tasks,
        next,
        subscribed: false,
        final_round: FinalRound::default(),
        done: false,
        failure: None,
    }));
    let driver = SchedulerDriver::new(
        ChaosScheduler {
            state: Arc::clone(&state),
        },
        config,
    );
    if driver.start() != Status::Running {
        eprintln!("the driver did not start");
        return ExitCode::FAILURE;
    }
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut state = lock(&state);
        if let Some(failure) = state.failure.take() {
            eprintln!("chaos_framework: {failure}");
            drop(state);
            driver.stop(true);
            driver.join();
            return ExitCode::FAILURE;
        }
        if driver.status() != Status::Running {
            eprintln!("chaos_framework: the driver is {}", driver.status());
            return ExitCode::FAILURE;
        }
        state.tick(&driver);
        if state.done {
            let count = state.tasks.len();
            drop(state);
            // Failover, not teardown: the master keeps the framework and
            // its tasks for the test to compare with the ledger.
            driver.stop(true);
            driver.join();
            println!("chaos_framework: all {count} task(s) are terminal");
            return ExitCode::SUCCESS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_lines_read_back() {
        let tasks = vec!["a".to_string(), "b\"]".to_string()];
        let line = json_line(&[
            ("ev", J::S("update")),
            ("task", J::S("rs-0001")),
            ("message", J::S("a \"quoted\"\nline\\")),
            ("tasks", J::List(&tasks)),
            ("n", J::N(3.5)),
            ("none", J::Null),
            ("yes", J::B(true)),
        ]);
        let fields = parse_flat(&line).expect("parses");
        assert_eq!(fields["ev"], "update");
        assert_eq!(fields["task"], "rs-0001");
        assert_eq!(fields["message"], "a \"quoted\"\nline\\");
        assert_eq!(fields["n"], "3.5");
        assert_eq!(fields["none"], "null");
        assert_eq!(fields["yes"], "true");
        assert!(!fields.contains_key("tasks"));
        assert!(parse_flat(&line[..line.len() - 5]).is_none(), "cut short");
    }

    #[test]
    fn replay_restores_launches_and_states() {
        let lines: Vec<String> = vec![
            json_line(&[
                ("ev", J::S("launch")),
                ("task", J::S("rs-0000")),
                ("index", J::N(0.0)),
                ("agent", J::S("A")),
            ]),
            json_line(&[
                ("ev", J::S("launch")),
                ("task", J::S("rs-0001")),
                ("index", J::N(1.0)),
                ("agent", J::S("B")),
            ]),
            json_line(&[
                ("ev", J::S("update")),
                ("task", J::S("rs-0000")),
                ("state", J::S("TASK_FINISHED")),
                ("source", J::S("SOURCE_EXECUTOR")),
            ]),
            "{\"ev\":\"launch\",\"task\":\"rs-00".to_string(),
        ];
        let mut tasks = BTreeMap::new();
        assert_eq!(replay(&lines, &mut tasks), 2);
        assert!(tasks["rs-0000"].terminal());
        assert!(!tasks["rs-0001"].terminal());
        assert_eq!(tasks["rs-0001"].agent, "B");
    }
}
