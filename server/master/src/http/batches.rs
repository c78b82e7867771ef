//! Requests for the legacy endpoints answered in batches, as Mesos batches
//! its `/state` requests: every request waiting when a [`Snapshot`] is
//! taken shares it. A request always gets a snapshot taken after it
//! arrived (so it sees everything acknowledged before it), yet ten clients
//! fetching `/master/state` in a loop cost the loop one snapshot per round,
//! not ten, and the whole `/master/state` document is rendered once per
//! batch.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::snapshot::Snapshot;
use crate::handle::Command;

/// Requests queued for the next snapshot before their senders wait.
const QUEUE: usize = 1024;

/// One snapshot and what was rendered of it.
pub(crate) struct Batch {
    pub snapshot: Snapshot,
    state: OnceLock<Bytes>,
}

impl Batch {
    /// The `/master/state` document, rendered by the first request of the
    /// batch that needs it (the others wait for it).
    pub fn state(&self, render: impl FnOnce(&Snapshot) -> Bytes) -> Bytes {
        self.state.get_or_init(|| render(&self.snapshot)).clone()
    }
}

/// The way to the batching task.
#[derive(Clone)]
pub(crate) struct Batches {
    requests: mpsc::Sender<oneshot::Sender<Arc<Batch>>>,
}

impl Batches {
    /// Starts the task that takes snapshots through the loop's `commands`.
    pub fn start(commands: mpsc::Sender<Command>) -> Self {
        let (requests, queued) = mpsc::channel(QUEUE);
        tokio::spawn(take_in_batches(queued, commands));
        Self { requests }
    }

    /// A batch whose snapshot was taken after this call; `None` when the
    /// master is stopping.
    pub async fn next(&self) -> Option<Arc<Batch>> {
        let (reply, batch) = oneshot::channel();
        self.requests.send(reply).await.ok()?;
        batch.await.ok()
    }
}

async fn take_in_batches(
    mut queued: mpsc::Receiver<oneshot::Sender<Arc<Batch>>>,
    commands: mpsc::Sender<Command>,
) {
    while let Some(first) = queued.recv().await {
        let mut waiting = vec![first];
        while let Ok(more) = queued.try_recv() {
            waiting.push(more);
        }
        let (taken, snapshot) = oneshot::channel();
        let take = Command::Inspect(Box::new(move |master| {
            let _ = taken.send(Snapshot::take(master));
        }));
        if commands.send(take).await.is_err() {
            return;
        }
        let Ok(mut snapshot) = snapshot.await else {
            return;
        };
        let sorted = tokio::task::spawn_blocking(move || {
            snapshot.sort();
            snapshot
        })
        .await;
        let Ok(snapshot) = sorted else { continue };
        let batch = Arc::new(Batch {
            snapshot,
            state: OnceLock::new(),
        });
        for reply in waiting {
            let _ = reply.send(Arc::clone(&batch));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use meseta_allocator::AllocatorConfig;

    use super::*;
    use crate::config::Settings;
    use crate::state::{Ids, Master};

    fn master() -> Master {
        Master::new(
            Settings::default(),
            meseta_proto::v1::MasterInfo::default(),
            AllocatorConfig::default(),
            Ids::seeded(1),
            Duration::from_secs(1_700_000_000),
        )
    }

    /// The next snapshot the loop is asked for, taken.
    async fn take(inbox: &mut mpsc::Receiver<Command>, master: &Master) {
        match inbox.recv().await {
            Some(Command::Inspect(take)) => take(master),
            _ => panic!("expected a snapshot to be asked for"),
        }
    }

    #[tokio::test]
    async fn requests_waiting_while_a_snapshot_is_taken_share_the_next_one() {
        let (commands, mut inbox) = mpsc::channel(16);
        let batches = Batches::start(commands);
        let master = master();
        let first = tokio::spawn({
            let batches = batches.clone();
            async move { batches.next().await }
        });
        // The first snapshot is being taken; four more requests arrive.
        let asked = inbox.recv().await;
        let later: Vec<_> = (0..4)
            .map(|_| {
                let batches = batches.clone();
                tokio::spawn(async move { batches.next().await })
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while batches.requests.capacity() > QUEUE - 4 {
            assert!(tokio::time::Instant::now() < deadline, "the requests queue");
            tokio::task::yield_now().await;
        }
        match asked {
            Some(Command::Inspect(take)) => take(&master),
            _ => panic!("expected a snapshot to be asked for"),
        }
        let first = first.await.expect("joins").expect("a batch");
        // They were not served the snapshot taken before they came, but
        // one taken after, together.
        take(&mut inbox, &master).await;
        let mut batches_seen = Vec::new();
        for request in later {
            batches_seen.push(request.await.expect("joins").expect("a batch"));
        }
        assert!(batches_seen
            .iter()
            .all(|b| Arc::ptr_eq(b, &batches_seen[0])));
        assert!(!Arc::ptr_eq(&first, &batches_seen[0]));
        assert!(inbox.try_recv().is_err(), "two snapshots for five requests");
    }
}
