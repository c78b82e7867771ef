//! The local registry of a lone master: `registry.snapshot` (a whole
//! [`Registry`]) plus `registry.log`, an append-only log of the operations
//! applied since, each record `len: u32 LE | crc32: u32 LE | Operation`.
//!
//! A write appends its records and fsyncs once. A crash can only tear the
//! last record; recovery stops at the first record that is short or fails
//! its checksum and truncates the log there (that write was never
//! acknowledged, since acknowledgements wait for the fsync). When the log
//! outgrows the snapshot it is folded into a new snapshot, written to a
//! temporary file and renamed over the old one; the log is emptied after.
//! Operations are idempotent, so a crash between the two only replays
//! records the snapshot already holds.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use meseta_proto::registry::{Operation, Registry};
use prost::Message;

use super::{RegistryError, RegistryState};

const SNAPSHOT: &str = "registry.snapshot";
const LOG: &str = "registry.log";
const LOCK: &str = "registry.lock";
/// The log is compacted when it is larger than this and than the snapshot.
const COMPACT_AT: u64 = 4 << 20;

/// A registry in a directory, held under an exclusive lock.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    state: RegistryState,
    log: Option<File>,
    log_bytes: u64,
    snapshot_bytes: u64,
    /// Held for the store's lifetime; the lock goes with the descriptor.
    _lock: File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl FileStore {
    /// Opens (creating if needed) the registry in `dir` and locks it.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            return Err(RegistryError::Locked {
                path: lock_path.display().to_string(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            state: RegistryState::default(),
            log: None,
            log_bytes: 0,
            snapshot_bytes: 0,
            _lock: lock,
        })
    }

    /// The directory holding the registry.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the snapshot and replays the log over it.
    pub fn recover(&mut self) -> Result<RegistryState, RegistryError> {
        let snapshot_path = self.dir.join(SNAPSHOT);
        let mut state = match std::fs::read(&snapshot_path) {
            Ok(bytes) => {
                self.snapshot_bytes = bytes.len() as u64;
                let registry =
                    Registry::decode(bytes.as_slice()).map_err(|e| RegistryError::Corrupt {
                        path: snapshot_path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                RegistryState::from_proto(registry)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => RegistryState::default(),
            Err(error) => return Err(io(&snapshot_path)(error)),
        };
        let log_path = self.dir.join(LOG);
        let mut log = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes).map_err(io(&log_path))?;
        let (operations, valid) = read_records(&bytes);
        if valid < bytes.len() {
            tracing::warn!(
                path = %log_path.display(),
                kept = valid,
                dropped = bytes.len() - valid,
                "registry log ends in a torn record (a write cut short by a crash); dropping it"
            );
            log.set_len(valid as u64).map_err(io(&log_path))?;
            log.sync_all().map_err(io(&log_path))?;
        }
        for operation in &operations {
            state.apply(operation);
        }
        tracing::info!(
            agents = state.agents.len(),
            unreachable = state.unreachable.len(),
            gone = state.gone.len(),
            frameworks = state.frameworks.len(),
            replayed = operations.len(),
            "recovered the local registry"
        );
        self.log_bytes = valid as u64;
        self.log = Some(log);
        self.state = state.clone();
        Ok(state)
    }

    /// Appends `operations` and fsyncs.
    pub fn apply(&mut self, operations: &[Operation]) -> Result<(), RegistryError> {
        if self.log.is_none() {
            self.recover()?;
        }
        let log_path = self.dir.join(LOG);
        let mut buffer = Vec::new();
        for operation in operations {
            let body = operation.encode_to_vec();
            let len = u32::try_from(body.len()).map_err(|_| RegistryError::TooLarge {
                bytes: body.len(),
                limit: u32::MAX as usize,
            })?;
            buffer.extend_from_slice(&len.to_le_bytes());
            buffer.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            buffer.extend_from_slice(&body);
            self.state.apply(operation);
        }
        let Some(log) = self.log.as_mut() else {
            return Ok(());
        };
        log.write_all(&buffer).map_err(io(&log_path))?;
        log.sync_data().map_err(io(&log_path))?;
        self.log_bytes += buffer.len() as u64;
        if self.log_bytes > COMPACT_AT && self.log_bytes > self.snapshot_bytes {
            self.compact()?;
        }
        Ok(())
    }

    /// Folds the log into a new snapshot.
    fn compact(&mut self) -> Result<(), RegistryError> {
        let bytes = self.state.to_proto().encode_to_vec();
        let snapshot_path = self.dir.join(SNAPSHOT);
        let temporary = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let mut file = File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(&bytes).map_err(io(&temporary))?;
        file.sync_all().map_err(io(&temporary))?;
        std::fs::rename(&temporary, &snapshot_path).map_err(io(&snapshot_path))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io(&self.dir))?;
        let log_path = self.dir.join(LOG);
        if let Some(log) = self.log.as_mut() {
            log.set_len(0).map_err(io(&log_path))?;
            log.sync_all().map_err(io(&log_path))?;
        }
        tracing::debug!(bytes = bytes.len(), "compacted the registry log");
        self.snapshot_bytes = bytes.len() as u64;
        self.log_bytes = 0;
        Ok(())
    }
}

/// Decodes whole, valid records; returns them and how many bytes they span.
fn read_records(bytes: &[u8]) -> (Vec<Operation>, usize) {
    let mut operations = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(body) != crc {
            break;
        }
        let Ok(operation) = Operation::decode(body) else {
            break;
        };
        operations.push(operation);
        at += 8 + len;
    }
    (operations, at)
}
