//! Starts a cluster of real processes: one `meseta master` and N
//! `meseta agent`s on loopback, each with its own work directory and log
//! file, and stops them all when dropped.
//!
//! Ports are never guessed: every process binds port 0 and writes the
//! address it got to `<work_dir>/address`, which the launcher waits for.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Errors bringing a cluster up.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A process could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// Which process.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// A process exited or did not get ready in time.
    #[error("{what} did not become ready within {timeout:?}; see its log at {log}")]
    NotReady {
        /// Which process.
        what: String,
        /// The deadline.
        timeout: Duration,
        /// Its log file.
        log: String,
    },
    /// The work directory could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The `meseta` binary.
    pub binary: PathBuf,
    /// Root of every work dir and log of the cluster.
    pub root: PathBuf,
    /// Number of agents.
    pub agents: usize,
    /// Master port (0 = any free port).
    pub master_port: u16,
    /// `--resources` of each agent (None = a share of the machine).
    pub agent_resources: Option<String>,
    /// Extra flags for the master.
    pub master_args: Vec<String>,
    /// Extra flags for every agent.
    pub agent_args: Vec<String>,
    /// How long to wait for each process.
    pub timeout: Duration,
    /// Number of masters (more than one needs `zk`).
    pub masters: usize,
    /// ZooKeeper group (`zk://...`) for leader election; agents find the
    /// leader through it too.
    pub zk: Option<String>,
}

impl ClusterSpec {
    /// A spec with defaults: agents get an equal share of this machine.
    pub fn new(binary: impl Into<PathBuf>, root: impl Into<PathBuf>, agents: usize) -> Self {
        Self {
            binary: binary.into(),
            root: root.into(),
            agents,
            master_port: 0,
            agent_resources: None,
            master_args: Vec::new(),
            agent_args: Vec::new(),
            timeout: Duration::from_secs(30),
            masters: 1,
            zk: None,
        }
    }
}

/// One running process of the cluster.
#[derive(Debug)]
pub struct Process {
    /// `master` or `agent-N`.
    pub name: String,
    /// Its `host:port`.
    pub address: String,
    /// Its work dir.
    pub work_dir: PathBuf,
    /// Its log file (stdout and stderr).
    pub log: PathBuf,
    child: Option<Child>,
    args: Vec<String>,
}

impl Process {
    /// The OS process ID, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process hard (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Freezes the process (SIGSTOP): it stays alive but silent, as in a
    /// network partition.
    pub fn pause(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGSTOP);
        }
    }

    /// Thaws a process frozen by [`Process::pause`] (SIGCONT).
    pub fn resume(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGCONT);
        }
    }
}

/// A running cluster; dropping it stops every process.
#[derive(Debug)]
pub struct Cluster {
    /// The (first) master.
    pub master: Process,
    /// Further masters, when the cluster has several.
    pub standby_masters: Vec<Process>,
    /// The agents.
    pub agents: Vec<Process>,
    spec: ClusterSpec,
}

/// The machine's share for one of `agents` agents, in `--resources` syntax.
pub fn machine_share(agents: usize) -> String {
    let agents = agents.max(1) as f64;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let mem = total_memory_mb().unwrap_or(4096.0) / 2.0;
    let share = |x: f64| ((x / agents) * 100.0).floor() / 100.0;
    format!(
        "cpus:{};mem:{};disk:{}",
        share(cpus).max(0.1),
        share(mem).max(128.0).floor(),
        10240
    )
}

fn total_memory_mb() -> Option<f64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

impl Cluster {
    /// Starts the master(s), then the agents, and waits for each to bind.
    pub fn start(spec: ClusterSpec) -> Result<Cluster, LaunchError> {
        let master = launch(&spec, "master", master_args(&spec, spec.master_port))?;
        let mut cluster = Cluster {
            master,
            standby_masters: Vec::new(),
            agents: Vec::new(),
            spec,
        };
        for index in 1..cluster.spec.masters.max(1) {
            let args = master_args(&cluster.spec, 0);
            let process = launch(&cluster.spec, &format!("master-{index}"), args)?;
            cluster.standby_masters.push(process);
        }
        for index in 0..cluster.spec.agents {
            cluster.add_agent(index)?;
        }
        Ok(cluster)
    }

    /// Every master process, the first one first.
    pub fn masters_mut(&mut self) -> impl Iterator<Item = &mut Process> {
        std::iter::once(&mut self.master).chain(self.standby_masters.iter_mut())
    }

    /// Starts agent number `index` (its work dir is reused if it exists).
    pub fn add_agent(&mut self, index: usize) -> Result<&Process, LaunchError> {
        self.add_agent_with(index, &[])
    }

    /// [`Cluster::add_agent`] with flags for this agent alone (after the
    /// spec's, so they win), e.g. its `--attributes`.
    pub fn add_agent_with(
        &mut self,
        index: usize,
        own_args: &[&str],
    ) -> Result<&Process, LaunchError> {
        let resources = self
            .spec
            .agent_resources
            .clone()
            .unwrap_or_else(|| machine_share(self.spec.agents));
        let master = self
            .spec
            .zk
            .clone()
            .unwrap_or_else(|| self.master.address.clone());
        let mut args = vec![
            "agent".to_string(),
            "--master".into(),
            master,
            "--ip".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "--resources".into(),
            resources,
        ];
        if !self.spec.agent_args.iter().any(|a| a == "--cgroups-root") {
            args.push("--cgroups-root".into());
            args.push(self.agent_cgroups_root(index));
        }
        args.extend(self.spec.agent_args.iter().cloned());
        args.extend(own_args.iter().map(|a| a.to_string()));
        let process = launch(&self.spec, &format!("agent-{index}"), args)?;
        if index < self.agents.len() {
            self.agents[index] = process;
        } else {
            self.agents.push(process);
        }
        Ok(&self.agents[index.min(self.agents.len() - 1)])
    }

    /// Kills master `index` (0 is the first) hard, as a crash would, and
    /// starts it again with the same work dir on the same port, so agents
    /// and frameworks given its address find it again.
    pub fn restart_master(&mut self, index: usize) -> Result<(), LaunchError> {
        let spec = self.spec.clone();
        let Some(process) = self.masters_mut().nth(index) else {
            return Ok(());
        };
        process.kill();
        let mut args = process.args.clone();
        let port = process
            .address
            .rsplit(':')
            .next()
            .unwrap_or("0")
            .to_string();
        if let Some(at) = args.iter().position(|a| a == "--port") {
            if let Some(value) = args.get_mut(at + 1) {
                *value = port;
            }
        }
        *process = launch(&spec, &process.name.clone(), args)?;
        Ok(())
    }

    /// The master's `host:port`.
    pub fn master_address(&self) -> &str {
        &self.master.address
    }

    /// The directory holding every work dir and log of the cluster.
    pub fn root(&self) -> &Path {
        &self.spec.root
    }

    /// Kills agent `index` hard (SIGKILL), as a crash would.
    pub fn kill_agent(&mut self, index: usize) {
        if let Some(process) = self.agents.get_mut(index) {
            process.kill();
        }
    }

    /// Freezes agent `index` (SIGSTOP): it stays alive but silent, as in a
    /// network partition.
    pub fn pause_agent(&self, index: usize) {
        if let Some(process) = self.agents.get(index) {
            process.pause();
        }
    }

    /// Thaws an agent frozen by [`Cluster::pause_agent`] (SIGCONT).
    pub fn resume_agent(&self, index: usize) {
        if let Some(process) = self.agents.get(index) {
            process.resume();
        }
    }

    /// Restarts agent `index` with the same flags and work dir.
    pub fn restart_agent(&mut self, index: usize) -> Result<(), LaunchError> {
        self.restart_agent_with_resources(index, None)
    }

    /// Like [`Cluster::restart_agent`], but with other `--resources` when
    /// given (an agent whose configuration changed across a restart).
    pub fn restart_agent_with_resources(
        &mut self,
        index: usize,
        resources: Option<&str>,
    ) -> Result<(), LaunchError> {
        let Some(process) = self.agents.get_mut(index) else {
            return Ok(());
        };
        process.kill();
        let mut args = process.args.clone();
        if let Some(resources) = resources {
            if let Some(at) = args.iter().position(|a| a == "--resources") {
                if let Some(value) = args.get_mut(at + 1) {
                    *value = resources.to_string();
                }
            }
        }
        let fresh = launch(&self.spec, &process.name, args)?;
        *process = fresh;
        Ok(())
    }

    /// Stops every process: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let mut all: Vec<&mut Process> = self.agents.iter_mut().collect();
        all.push(&mut self.master);
        all.extend(self.standby_masters.iter_mut());
        for process in all.iter_mut() {
            if let Some(child) = process.child.as_ref() {
                signal(child.id(), libc::SIGCONT);
                terminate(child.id());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for process in all {
            if let Some(mut child) = process.child.take() {
                while Instant::now() < deadline {
                    if !matches!(child.try_wait(), Ok(None)) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for agent in &self.agents {
            kill_leftover_containers(&agent.work_dir);
        }
        for index in 0..self.agents.len() {
            remove_agent_cgroups(&self.agent_cgroups_root(index));
        }
    }

    /// The `--cgroups-root` of agent `index`: one of its own, so that the
    /// agents of a cluster (and of clusters started side by side) never take
    /// each other's containers for orphans.
    pub fn agent_cgroups_root(&self, index: usize) -> String {
        let cluster: String = self
            .spec
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "meseta-local/{cluster}-{}-agent-{index}",
            std::process::id()
        )
    }
}

/// Kills what an agent killed hard left in its cgroups, and removes them.
fn remove_agent_cgroups(root: &str) {
    use meseta_agent::containerizer::cgroups::{Controller, Hierarchy};
    let (cpu, memory, pids, devices) = (
        Controller::Cpu,
        Controller::Memory,
        Controller::Pids,
        Controller::Devices,
    );
    let candidates: [&[Controller]; 3] = [&[cpu, memory, pids, devices], &[cpu, memory, pids], &[]];
    let Some(hierarchy) = candidates.iter().find_map(|controllers| {
        Hierarchy::detect(Path::new("/sys/fs/cgroup"), root, controllers).ok()
    }) else {
        return;
    };
    for name in hierarchy.top_level() {
        let cgroup = hierarchy.cgroup(&name);
        let _ = cgroup.kill_all(Duration::from_secs(10));
        let _ = cgroup.remove();
    }
    for dir in hierarchy.base_dirs() {
        let _ = fs::remove_dir(&dir);
        if let Some(parent) = dir.parent() {
            // The shared `meseta-local` level goes once no cluster uses it.
            let _ = fs::remove_dir(parent);
        }
    }
}

/// Kills what an agent left running: the tasks of an agent that was killed
/// (and not restarted) survive it by design, but a stopped cluster must not
/// leak them. Uses the agent's own records of its containers' processes.
fn kill_leftover_containers(work_dir: &Path) {
    use meseta_agent::containerizer::identity::ProcessRecord;
    let Ok(entries) = fs::read_dir(work_dir.join("meta").join("containers")) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(record) = ProcessRecord::read(&entry.path()) else {
            continue;
        };
        if record.is_alive() {
            // SAFETY: killpg(2) on a live process group the agent created
            // (its leader's start time matches the record).
            unsafe {
                libc::killpg(record.pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            self.print_log_tails(40);
        }
    }
}

impl Cluster {
    /// Prints the last `lines` of every process's log to stderr (a failing
    /// test shows what the processes said before its temp dir goes away).
    pub fn print_log_tails(&self, lines: usize) {
        let all = std::iter::once(&self.master)
            .chain(self.standby_masters.iter())
            .chain(self.agents.iter());
        for process in all {
            let text = fs::read_to_string(&process.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(lines).collect();
            eprintln!(
                "---- last {} lines of {} ----",
                tail.len(),
                process.log.display()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

fn master_args(spec: &ClusterSpec, port: u16) -> Vec<String> {
    let mut args = vec![
        "master".to_string(),
        "--ip".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
    ];
    if let Some(zk) = &spec.zk {
        args.push("--zk".into());
        args.push(zk.clone());
    }
    args.extend(spec.master_args.iter().cloned());
    args
}

fn terminate(pid: u32) {
    signal(pid, libc::SIGTERM);
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a PID we spawned and a valid signal number has no memory effects.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn launch(spec: &ClusterSpec, name: &str, mut args: Vec<String>) -> Result<Process, LaunchError> {
    let work_dir = spec.root.join(name);
    fs::create_dir_all(&work_dir).map_err(|source| LaunchError::Io {
        path: work_dir.display().to_string(),
        source,
    })?;
    let address_file = work_dir.join("address");
    let _ = fs::remove_file(&address_file);
    let log = spec.root.join(format!("{name}.log"));
    let log_file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|source| LaunchError::Io {
            path: log.display().to_string(),
            source,
        })?;
    let err_file = log_file.try_clone().map_err(|source| LaunchError::Io {
        path: log.display().to_string(),
        source,
    })?;
    if !args.iter().any(|a| a == "--work-dir") {
        args.push("--work-dir".into());
        args.push(work_dir.display().to_string());
    }
    let child = Command::new(&spec.binary)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err_file)
        .spawn()
        .map_err(|source| LaunchError::Spawn {
            what: format!("{name} ({})", spec.binary.display()),
            source,
        })?;
    let mut process = Process {
        name: name.to_string(),
        address: String::new(),
        work_dir,
        log: log.clone(),
        child: Some(child),
        args,
    };
    match wait_for_address(&mut process, &address_file, spec.timeout) {
        Ok(address) => process.address = address,
        Err(error) => {
            // Not left running unseen: the caller has no handle on it.
            process.kill();
            return Err(error);
        }
    }
    Ok(process)
}

fn wait_for_address(
    process: &mut Process,
    file: &Path,
    timeout: Duration,
) -> Result<String, LaunchError> {
    let deadline = Instant::now() + timeout;
    let not_ready = |p: &Process| LaunchError::NotReady {
        what: p.name.clone(),
        timeout,
        log: p.log.display().to_string(),
    };
    loop {
        if let Ok(text) = fs::read_to_string(file) {
            let address = text.trim().to_string();
            if !address.is_empty() {
                return Ok(address);
            }
        }
        if process.exited() || Instant::now() > deadline {
            return Err(not_ready(process));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
