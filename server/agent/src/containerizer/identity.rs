//! Recognising a process again after the agent restarted.
//!
//! A PID alone is not an identity: once a process ends, the kernel may hand
//! its PID to an unrelated one. So a checkpointed container records its main
//! process as `<pid> <start time> <boot ID>`: the start time is field 22 of
//! `/proc/<pid>/stat` (clock ticks since boot), which a reused PID would not
//! share, and the boot ID (`/proc/sys/kernel/random/boot_id`) tells a
//! record written before a reboot, whose processes are all gone. The
//! record is a plain file next to the supervisor's `termination`; it is not
//! fsync'ed, because only a reboot can lose it, and a reboot ends the
//! process it names anyway.

use std::path::Path;

/// The file holding a container's [`ProcessRecord`].
pub const PID_FILE: &str = "pid";

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Its process group.
    pub pgid: i32,
    /// When it started, in clock ticks since boot.
    pub start_time: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is at index N - 3.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgid: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of a live process, if it exists.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// A process's name (`/proc/<pid>/comm`).
fn name(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(text.trim_end().to_string())
}

/// When a process that started `ticks` clock ticks after boot started.
fn started(ticks: u64) -> Option<std::time::SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|hz| *hz > 0)?;
    let at =
        std::time::Duration::from_secs(boot) + std::time::Duration::from_millis(ticks * 1000 / hz);
    Some(std::time::UNIX_EPOCH + at)
}

/// This boot's ID.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A container's main process, as checkpointed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    /// Its PID, also its process group's ID.
    pub pid: i32,
    /// Its start time (see [`Stat::start_time`]).
    pub start_time: u64,
    /// The boot it started in.
    pub boot_id: String,
}

impl ProcessRecord {
    /// The record of a process that runs now.
    pub fn of(pid: i32) -> Option<Self> {
        Some(Self {
            pid,
            start_time: stat(pid)?.start_time,
            boot_id: boot_id(),
        })
    }

    /// Writes the record into `dir` (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let temporary = dir.join(".pid.tmp");
        let text = format!("{} {} {}\n", self.pid, self.start_time, self.boot_id);
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, dir.join(PID_FILE))
    }

    /// Reads the record in `dir`, if there is a well-formed one.
    pub fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(PID_FILE)).ok()?;
        let mut parts = text.split_whitespace();
        let pid: i32 = parts.next()?.parse().ok()?;
        let start_time: u64 = parts.next()?.parse().ok()?;
        let boot_id = parts.next().unwrap_or_default().to_string();
        (pid > 1).then_some(Self {
            pid,
            start_time,
            boot_id,
        })
    }

    /// The record in `dir`; or, when the agent stopped after starting the
    /// container's supervisor but before recording it, a record made from
    /// the PID the supervisor wrote itself: the process if it is still
    /// that supervisor (its own group leader, named `meseta-superv`,
    /// started at most a minute before it wrote the file, so not a process
    /// of an earlier boot that reused the PID), else a record of a process
    /// that ended (its `termination` file says how).
    pub fn recover(dir: &Path) -> Option<Self> {
        if let Some(record) = Self::read(dir) {
            return Some(record);
        }
        let pid = super::supervisor::read_supervisor(dir)?;
        let written = std::fs::metadata(dir.join(super::supervisor::SUPERVISOR_FILE))
            .and_then(|m| m.modified())
            .ok()?;
        let live = stat(pid).filter(|s| {
            s.state != 'Z'
                && s.pgid == pid
                && name(pid).as_deref() == Some("meseta-superv")
                && started(s.start_time).is_some_and(|at| {
                    at <= written + std::time::Duration::from_secs(1)
                        && written.duration_since(at).unwrap_or_default()
                            < std::time::Duration::from_secs(60)
                })
        });
        let Some(live) = live else {
            return Some(Self {
                pid,
                start_time: u64::MAX,
                boot_id: String::new(),
            });
        };
        let record = Self {
            pid,
            start_time: live.start_time,
            boot_id: boot_id(),
        };
        if let Err(error) = record.write(dir) {
            tracing::warn!(%error, pid, "cannot record a recovered container's process");
        }
        Some(record)
    }

    /// True while the recorded process itself still runs (not a zombie,
    /// not a newer process with the same PID).
    pub fn is_alive(&self) -> bool {
        if self.boot_id != boot_id() {
            return false;
        }
        stat(self.pid).is_some_and(|s| s.state != 'Z' && s.start_time == self.start_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    1 2 0 0 20 0 1 0 987654 1000000 200 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.pgid, 4242);
        assert_eq!(stat.start_time, 987654);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn records_round_trip_and_recognise_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let me = i32::try_from(std::process::id()).unwrap();
        let record = ProcessRecord::of(me).unwrap();
        record.write(dir.path()).unwrap();
        let read = ProcessRecord::read(dir.path()).unwrap();
        assert_eq!(read, record);
        assert!(read.is_alive());
        let reused = ProcessRecord {
            start_time: record.start_time + 1,
            ..record.clone()
        };
        assert!(
            !reused.is_alive(),
            "a different start time is another process"
        );
        let rebooted = ProcessRecord {
            boot_id: "another-boot".into(),
            ..record
        };
        assert!(!rebooted.is_alive());
    }
}
