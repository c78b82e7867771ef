//! The status update journal: one append-only file per task stream.
//!
//! Each change the [status update manager](crate::status_updates) makes to a
//! stream of a checkpointing framework is appended to
//! `meta/frameworks/<framework>/tasks/<task>/updates` and fsync'ed before
//! the manager applies it, so an update the agent acknowledged to an
//! executor (or generated itself) survives an agent crash.
//!
//! A record is `[length: u32 LE][checksum: u32 LE][kind: u8][payload]`,
//! where `length` counts kind and payload and `checksum` is FNV-1a over
//! them. Kinds: 1 = update accepted (a `meseta.cluster.StatusUpdate` in
//! protobuf), 2 = acknowledged (the UUID). Closing a stream removes the
//! task's whole checkpoint directory instead of writing a record: the task
//! is then complete and nothing of it needs recovering.
//!
//! A crash can cut the last record short (or leave garbage where it should
//! be); replay stops at the first record that is incomplete or fails its
//! checksum, and truncates the file there so later appends follow good
//! data. Records before it are intact because each was fsync'ed before the
//! next was written.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use meseta_proto::{cluster, Message};

use super::{sync_dir, task_dir};
use crate::error::AgentError;
use crate::status_updates::{JournalRecord, ReplayedRecord, StreamKey, UpdateJournal};

/// The journal file's name inside a task's checkpoint directory.
pub const UPDATES_FILE: &str = "updates";
const KIND_UPDATE: u8 = 1;
const KIND_ACKNOWLEDGED: u8 = 2;
const HEADER: usize = 8;
/// Larger records are not ours (a status update is well under this).
const MAX_RECORD: usize = 64 << 20;

/// FNV-1a, enough to tell a torn record from a whole one.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The bytes of one record, or `None` for records not written to files.
pub fn encode(record: &JournalRecord<'_>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    match record {
        JournalRecord::Update(update) => {
            body.push(KIND_UPDATE);
            body.extend(update.encode_to_vec());
        }
        JournalRecord::Acknowledged(uuid) => {
            body.push(KIND_ACKNOWLEDGED);
            body.extend_from_slice(uuid);
        }
        JournalRecord::Closed => return None,
    }
    let length = u32::try_from(body.len()).ok()?;
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend(length.to_le_bytes());
    out.extend(checksum(&body).to_le_bytes());
    out.extend(body);
    Some(out)
}

/// Decodes the records of a journal's bytes. Returns them and the length
/// of the intact prefix (shorter than `bytes` when the tail is torn).
pub fn decode(bytes: &[u8]) -> (Vec<ReplayedRecord>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let word = |i: usize| {
            let mut four = [0u8; 4];
            four.copy_from_slice(&header[i..i + 4]);
            u32::from_le_bytes(four)
        };
        let length = word(0) as usize;
        if length == 0 || length > MAX_RECORD {
            break;
        }
        let Some(body) = bytes.get(at + HEADER..at + HEADER + length) else {
            break;
        };
        if checksum(body) != word(4) {
            break;
        }
        let record = match body[0] {
            KIND_UPDATE => match cluster::StatusUpdate::decode(&body[1..]) {
                Ok(update) => ReplayedRecord::Update(Box::new(update)),
                Err(_) => break,
            },
            KIND_ACKNOWLEDGED => ReplayedRecord::Acknowledged(body[1..].to_vec()),
            _ => break,
        };
        records.push(record);
        at += HEADER + length;
    }
    (records, at)
}

/// Reads a journal file back; a torn tail is logged and cut off.
pub fn replay(path: &Path) -> Result<Vec<ReplayedRecord>, AgentError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AgentError::io("cannot read journal", path, e)),
    };
    let (records, intact) = decode(&bytes);
    if intact < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            dropped_bytes = bytes.len() - intact,
            "status update journal ends in a torn record; cutting it off"
        );
        let truncated = OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|file| file.set_len(intact as u64).and_then(|()| file.sync_all()));
        truncated.map_err(|e| AgentError::io("cannot truncate journal", path, e))?;
    }
    Ok(records)
}

/// The [`UpdateJournal`] of a real agent: files under
/// `meta/frameworks/`. Once sealed (the agent was dropped without a
/// shutdown, as a crash would leave it) it refuses to write, so an agent
/// started on the same work dir owns the files alone.
#[derive(Debug)]
pub struct FileJournal {
    meta: PathBuf,
    sealed: Arc<AtomicBool>,
}

impl FileJournal {
    /// A journal under the agent's `meta` directory.
    pub fn new(meta: PathBuf, sealed: Arc<AtomicBool>) -> Self {
        Self { meta, sealed }
    }

    fn append(&self, dir: &Path, bytes: &[u8]) -> Result<(), AgentError> {
        let path = dir.join(UPDATES_FILE);
        let created = !path.exists();
        if created {
            std::fs::create_dir_all(dir).map_err(|e| AgentError::io("cannot create", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| AgentError::io("cannot open journal", &path, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| AgentError::io("cannot append to journal", &path, e))?;
        if created {
            sync_dir(dir);
        }
        Ok(())
    }
}

impl UpdateJournal for FileJournal {
    fn record(&mut self, key: &StreamKey, record: JournalRecord<'_>) -> Result<(), AgentError> {
        if self.sealed.load(Ordering::SeqCst) {
            return Err(AgentError::ShuttingDown);
        }
        let dir = task_dir(&self.meta, &key.framework_id, &key.task_id);
        match encode(&record) {
            Some(bytes) => self.append(&dir, &bytes),
            None => {
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(AgentError::io("cannot remove", &dir, e)),
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::v1;

    fn update(task: &str, state: v1::TaskState, uuid: u8) -> cluster::StatusUpdate {
        cluster::StatusUpdate {
            framework_id: v1::FrameworkId { value: "F".into() },
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: task.into() },
                state: state as i32,
                uuid: Some(vec![uuid; 16]),
                ..Default::default()
            },
            latest_state: Some(state as i32),
        }
    }

    fn key() -> StreamKey {
        StreamKey {
            framework_id: "F".into(),
            task_id: "t".into(),
        }
    }

    #[test]
    fn journal_writes_and_replays_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = FileJournal::new(dir.path().into(), Arc::default());
        let running = update("t", v1::TaskState::TaskRunning, 1);
        let finished = update("t", v1::TaskState::TaskFinished, 2);
        journal
            .record(&key(), JournalRecord::Update(&running))
            .unwrap();
        journal
            .record(&key(), JournalRecord::Acknowledged(&[1; 16]))
            .unwrap();
        journal
            .record(&key(), JournalRecord::Update(&finished))
            .unwrap();
        let path = task_dir(dir.path(), "F", "t").join(UPDATES_FILE);
        assert_eq!(
            replay(&path).unwrap(),
            vec![
                ReplayedRecord::Update(Box::new(running)),
                ReplayedRecord::Acknowledged(vec![1; 16]),
                ReplayedRecord::Update(Box::new(finished)),
            ]
        );
        journal.record(&key(), JournalRecord::Closed).unwrap();
        assert!(!task_dir(dir.path(), "F", "t").exists());
        assert_eq!(replay(&path).unwrap(), Vec::new());
    }

    #[test]
    fn journal_tolerates_a_torn_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(UPDATES_FILE);
        let first = update("t", v1::TaskState::TaskRunning, 1);
        let second = update("t", v1::TaskState::TaskFinished, 2);
        let whole = encode(&JournalRecord::Update(&first)).unwrap();
        let next = encode(&JournalRecord::Update(&second)).unwrap();
        for cut in [1, HEADER - 1, HEADER + 3, next.len() - 1] {
            let mut bytes = whole.clone();
            bytes.extend_from_slice(&next[..cut]);
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(
                replay(&path).unwrap(),
                vec![ReplayedRecord::Update(Box::new(first.clone()))],
                "cut at {cut}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), whole, "torn tail removed");
        }
        // A whole-length record with garbage inside fails its checksum.
        let mut bytes = whole.clone();
        let mut garbage = next.clone();
        let last = garbage.len() - 1;
        garbage[last] ^= 0xff;
        bytes.extend(garbage);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(replay(&path).unwrap().len(), 1);
        // Appending after a repaired tail works.
        let mut journal = FileJournal::new(dir.path().join("meta"), Arc::default());
        journal
            .record(&key(), JournalRecord::Update(&first))
            .unwrap();
    }

    #[test]
    fn sealed_journal_refuses_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = Arc::new(AtomicBool::new(true));
        let mut journal = FileJournal::new(dir.path().into(), sealed);
        let running = update("t", v1::TaskState::TaskRunning, 1);
        assert!(journal
            .record(&key(), JournalRecord::Update(&running))
            .is_err());
        assert!(!task_dir(dir.path(), "F", "t").exists());
    }
}
