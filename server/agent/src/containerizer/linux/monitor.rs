//! Watching a container until it ends, and ending it cleanly.
//!
//! While it runs: the isolators' periodic checks (each at its own
//! interval) and, on cgroup v1, the memory cgroup's OOM eventfd, which
//! wakes the memory check at once. A limitation found is recorded and the
//! container killed; its first process then exits and the limitation is
//! part of the termination. When the first process has ended, the checks
//! that only look at what happened (the OOM count) run once more, the rest
//! of the container is killed, its cgroup removed, the isolators cleaned
//! up, its root filesystem (from an image) removed, and the termination
//! published.

use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::{kill_cgroup, launch::leave_group, Shared};
use crate::containerizer::cgroups::{v1, Cgroup, Controller};
use crate::containerizer::identity::ProcessRecord;
use crate::containerizer::spawn::{recorded_termination, termination_of};
use crate::containerizer::Termination;

/// How often a recovered container's first process is looked for.
const RECOVERED_POLL: Duration = Duration::from_millis(200);

/// Watches a container whose first process the agent started.
pub(super) async fn watch_process(
    shared: Arc<Shared>,
    key: String,
    mut child: tokio::process::Child,
    tx: watch::Sender<Option<Termination>>,
) {
    let status = watch(&shared, &key, child.wait()).await;
    finish(&shared, &key, termination_of(status), tx).await;
}

/// Watches a container taken back after an agent restart: the agent is
/// not its parent, so it polls for its first process.
pub(super) async fn watch_recovered(
    shared: Arc<Shared>,
    key: String,
    record: ProcessRecord,
    checkpoint_dir: std::path::PathBuf,
    tx: watch::Sender<Option<Termination>>,
) {
    let gone = async {
        while record.is_alive() {
            tokio::time::sleep(RECOVERED_POLL).await;
        }
    };
    watch(&shared, &key, gone).await;
    let killed = shared
        .lock()
        .containers
        .get(&key)
        .is_some_and(|e| e.killed.load(std::sync::atomic::Ordering::SeqCst));
    let termination = recorded_termination(&checkpoint_dir, killed);
    finish(&shared, &key, termination, tx).await;
}

/// Watches a group until its last member has gone, then removes it.
pub(super) async fn watch_group(
    shared: Arc<Shared>,
    key: String,
    changed: Arc<Notify>,
    tx: watch::Sender<Option<Termination>>,
) {
    let empty = async {
        loop {
            if remove_if_empty(&shared, &key) {
                return;
            }
            changed.notified().await;
        }
    };
    watch(&shared, &key, empty).await;
    tracing::debug!(container = %key, "container group removed");
    let _ = tx.send(Some(Termination::unknown()));
}

/// Removes an empty group, cgroup and all (serialised with new members
/// joining); true when it is gone.
fn remove_if_empty(shared: &Shared, key: &str) -> bool {
    let _serial = shared.groups.lock().unwrap_or_else(|p| p.into_inner());
    let mut table = shared.lock();
    let Some(entry) = table.containers.get(key) else {
        return true;
    };
    if entry.members > 0 {
        return false;
    }
    let Some(entry) = table.containers.remove(key) else {
        return true;
    };
    drop(table);
    if let Err(error) = entry.cgroup.kill_all(super::KILL_TIMEOUT) {
        tracing::warn!(container = %key, %error, "cannot empty the container group");
    }
    if let Err(error) = entry.cgroup.remove() {
        tracing::warn!(container = %key, %error, "cannot remove the container group's cgroup");
    }
    for isolator in &shared.isolators {
        isolator.cleanup(&entry.id);
    }
    true
}

/// Runs the checks until `ended` resolves; returns its value.
async fn watch<T>(shared: &Arc<Shared>, key: &str, ended: impl Future<Output = T>) -> T {
    tokio::pin!(ended);
    let known = shared
        .lock()
        .containers
        .get(key)
        .map(|entry| (entry.cgroup.clone(), entry.parent.is_none()));
    let Some((cgroup, top_level)) = known else {
        return ended.await;
    };
    let oom = if top_level { oom_events(&cgroup) } else { None };
    let now = Instant::now();
    let mut due: Vec<(usize, Duration, Instant)> = if top_level {
        shared
            .isolators
            .iter()
            .enumerate()
            .filter_map(|(i, isolator)| {
                isolator
                    .watch_interval()
                    .map(|every| (i, every, now + every))
            })
            .collect()
    } else {
        Vec::new()
    };
    loop {
        let next = due.iter().map(|(_, _, at)| *at).min();
        tokio::select! {
            value = &mut ended => return value,
            () = oom_event(oom.as_ref()) => {
                check(shared, key, event_driven(shared)).await;
            }
            () = sleep_until(next) => {
                let now = Instant::now();
                let mut which = Vec::new();
                for (index, every, at) in &mut due {
                    if *at <= now {
                        which.push(*index);
                        *at = now + *every;
                    }
                }
                check(shared, key, which).await;
            }
        }
    }
}

/// The isolators that only look when asked (no interval): the OOM count.
fn event_driven(shared: &Shared) -> Vec<usize> {
    shared
        .isolators
        .iter()
        .enumerate()
        .filter(|(_, isolator)| isolator.watch_interval().is_none())
        .map(|(i, _)| i)
        .collect()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The OOM eventfd of a v1 memory cgroup, readable on each OOM.
fn oom_events(cgroup: &Cgroup) -> Option<AsyncFd<OwnedFd>> {
    let Cgroup::V1(_) = cgroup else {
        return None;
    };
    let dir = cgroup.dir(Controller::Memory)?;
    let registered = v1::oom_eventfd(dir).and_then(|fd| {
        // SAFETY: the AsyncFd owns the eventfd, which stays open (and the
        // same) until the AsyncFd is dropped.
        unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(std::io::Error::from)
    });
    match registered {
        Ok(fd) => Some(fd),
        Err(error) => {
            tracing::warn!(cgroup = %dir.display(), %error, "cannot watch for OOM events; checking when the container ends instead");
            None
        }
    }
}

async fn oom_event(fd: Option<&AsyncFd<OwnedFd>>) {
    let Some(fd) = fd else {
        return std::future::pending().await;
    };
    match fd.readable().await {
        Ok(mut guard) => {
            let mut counter = [0u8; 8];
            // SAFETY: reading at most 8 bytes into an 8-byte buffer from
            // an eventfd we own (non-blocking).
            unsafe { libc::read(fd.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
            guard.clear_ready();
        }
        Err(_) => std::future::pending().await,
    }
}

/// Runs the isolators `which` on the container; a limitation found is
/// recorded (the first one wins) and the container killed.
pub(super) async fn check(shared: &Arc<Shared>, key: &str, which: Vec<usize>) {
    if which.is_empty() {
        return;
    }
    let (owned, name) = (Arc::clone(shared), key.to_string());
    let found = tokio::task::spawn_blocking(move || {
        owned.with_container(&name, |container| {
            which
                .iter()
                .filter_map(|i| owned.isolators.get(*i))
                .find_map(|isolator| isolator.check(container))
        })
    })
    .await
    .ok()
    .flatten()
    .flatten();
    let Some(limitation) = found else {
        return;
    };
    let known = shared.lock().containers.get(key).map(|entry| {
        (
            Arc::clone(&entry.limitation),
            entry.cgroup.clone(),
            Arc::clone(&entry.killed),
        )
    });
    let Some((slot, cgroup, killed)) = known else {
        return;
    };
    {
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return;
        }
        tracing::warn!(container = %key, reason = ?limitation.reason, message = %limitation.message.lines().next().unwrap_or(""), "container limitation; killing the container");
        *slot = Some(limitation);
    }
    killed.store(true, std::sync::atomic::Ordering::SeqCst);
    kill_cgroup(key, cgroup).await;
}

/// After a container's first process ended: last checks, kill the rest,
/// remove the cgroup, publish the termination.
async fn finish(
    shared: &Arc<Shared>,
    key: &str,
    mut termination: Termination,
    tx: watch::Sender<Option<Termination>>,
) {
    let Some((id, cgroup, parent, slot)) = shared.lock().containers.get(key).map(|e| {
        (
            e.id.clone(),
            e.cgroup.clone(),
            e.parent.clone(),
            Arc::clone(&e.limitation),
        )
    }) else {
        let _ = tx.send(Some(termination));
        return;
    };
    // The OOM killer may have struck just before the process ended.
    let owner = parent.clone().unwrap_or_else(|| key.to_string());
    check(shared, &owner, event_driven(shared)).await;
    let group_slot = parent.as_ref().and_then(|group| {
        shared
            .lock()
            .containers
            .get(group)
            .map(|e| Arc::clone(&e.limitation))
    });
    let limitation = slot
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .or_else(|| group_slot.and_then(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone()));
    termination.limitation = limitation;
    // Whatever the first process left behind goes, then its cgroup (one
    // blocking call: a burst of ends should not grow a thread per step).
    let emptied = tokio::task::spawn_blocking(move || {
        cgroup
            .kill_all(super::KILL_TIMEOUT)
            .and_then(|()| cgroup.remove())
    })
    .await;
    if let Ok(Err(error)) = emptied {
        tracing::warn!(container = %key, %error, "cannot empty and remove the container's cgroup");
    }
    for isolator in &shared.isolators {
        isolator.cleanup(&id);
    }
    if let Ok(provisioner) = &shared.images {
        provisioner.destroy(key).await;
    }
    if let Some(group) = &parent {
        leave_group(shared, group);
    }
    tracing::debug!(container = %key, ?termination, "container ended");
    let _ = tx.send(Some(termination));
    shared.retire(key.to_string());
}
