//! Requests for the legacy endpoints answered in batches, as Mesos batches
//! its `/state` requests: every request waiting when a [`Snapshot`] is
//! taken shares it. A request always gets a snapshot taken after it
//! arrived (so it sees everything acknowledged before it), yet ten clients
//! fetching `/master/state` in a loop cost the loop one snapshot per round,
//! not ten, and the whole `/master/state` document is rendered once per
//! batch.
//!
//! One batch is in flight at a time: the next snapshot is taken once every
//! request of the previous batch has been rendered (on the low-priority
//! [`Renderer`]). However many clients read, the loop takes one snapshot
//! per render, and at most two snapshots are alive.
//!
//! And reading costs the master a bounded share of its time: after a batch
//! whose snapshot and renders took CPU time `c`, the next snapshot waits
//! until [`PAUSE_PER_COST`]` × c` has passed (a tenth of a core while
//! clients read back to back). A reader now and then never waits for it
//! (the pause has passed when it asks). The share is what scheduling can
//! spare: at 50,000 agents with 100,000 tasks on two cores, ten clients
//! fetching `/master/state` (74 MB) in a loop kept offers at 0.95 of their
//! rate with a tenth (0.83-0.89 with a quarter), and shared a document
//! about once a second.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::rendering::{thread_cpu_time, Renderer};
use crate::handle::Command;
use crate::state::snapshot::Snapshot;

/// Requests queued for the next snapshot before their senders wait.
const QUEUE: usize = 1024;

/// The pause after a batch, per unit of the CPU time it took.
const PAUSE_PER_COST: u32 = 9;

/// One snapshot and what was rendered of it.
pub(crate) struct Batch {
    pub snapshot: Snapshot,
    state: OnceLock<Bytes>,
    /// Dropped with the batch: the next one may be taken.
    _finished: oneshot::Sender<()>,
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
    renderer: Renderer,
}

impl Batches {
    /// Starts the task that takes snapshots through the loop's `commands`,
    /// and the rendering thread.
    pub fn start(commands: mpsc::Sender<Command>) -> std::io::Result<Self> {
        let renderer = Renderer::start()?;
        let (requests, queued) = mpsc::channel(QUEUE);
        tokio::spawn(take_in_batches(queued, commands, renderer.clone()));
        Ok(Self { requests, renderer })
    }

    /// Runs `work` (a render) on the rendering thread.
    pub async fn render<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        self.renderer.run(work).await
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
    renderer: Renderer,
) {
    while let Some(first) = queued.recv().await {
        let mut waiting = vec![first];
        while let Ok(more) = queued.try_recv() {
            waiting.push(more);
        }
        let rendered_before = renderer.spent();
        let (taken, snapshot) = oneshot::channel();
        let take = Command::Inspect(Box::new(move |master| {
            let began = thread_cpu_time();
            let snapshot = Snapshot::take(master);
            let _ = taken.send((snapshot, thread_cpu_time().saturating_sub(began)));
        }));
        if commands.send(take).await.is_err() {
            return;
        }
        let Ok((mut snapshot, taking)) = snapshot.await else {
            return;
        };
        let sorted = renderer
            .run(move || {
                snapshot.sort();
                snapshot
            })
            .await;
        let Some(snapshot) = sorted else { continue };
        let (finished, rendered) = oneshot::channel();
        let batch = Arc::new(Batch {
            snapshot,
            state: OnceLock::new(),
            _finished: finished,
        });
        for reply in waiting {
            let _ = reply.send(Arc::clone(&batch));
        }
        drop(batch);
        let _ = rendered.await;
        // The batch ends inside its last render; once a job queued after
        // it has run, that render's time is counted.
        let _ = renderer.run(|| ()).await;
        let cost = taking + renderer.spent().saturating_sub(rendered_before);
        tokio::time::sleep(cost * PAUSE_PER_COST).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use meseta_allocator::AllocatorConfig;

    use super::*;
    use crate::config::Settings;
    use crate::state::{Ids, Master};

    fn master(started: u64) -> Master {
        Master::new(
            Settings::default(),
            meseta_proto::v1::MasterInfo::default(),
            AllocatorConfig::default(),
            Ids::seeded(1),
            Duration::from_secs(started),
        )
    }

    /// The next snapshot the loop is asked for, taken.
    async fn take(inbox: &mut mpsc::Receiver<Command>, master: &Master) {
        match inbox.recv().await {
            Some(Command::Inspect(take)) => take(master),
            _ => panic!("expected a snapshot to be asked for"),
        }
    }

    /// Waits until `n` requests are queued for the next batch.
    async fn queued(batches: &Batches, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while batches.requests.capacity() > QUEUE - n {
            assert!(tokio::time::Instant::now() < deadline, "the requests queue");
            tokio::task::yield_now().await;
        }
    }

    fn ask(batches: &Batches, n: usize) -> Vec<tokio::task::JoinHandle<Option<Arc<Batch>>>> {
        (0..n)
            .map(|_| {
                let batches = batches.clone();
                tokio::spawn(async move { batches.next().await })
            })
            .collect()
    }

    #[tokio::test]
    async fn requests_waiting_while_a_snapshot_is_taken_share_the_next_one() {
        let (commands, mut inbox) = mpsc::channel(16);
        let batches = Batches::start(commands).expect("the rendering thread");
        let first = ask(&batches, 1).remove(0);
        // The first snapshot is being taken; four more requests arrive.
        let asked = inbox.recv().await;
        let later = ask(&batches, 4);
        queued(&batches, 4).await;
        match asked {
            Some(Command::Inspect(take)) => take(&master(1)),
            _ => panic!("expected a snapshot to be asked for"),
        }
        let first = first.await.expect("joins").expect("a batch");
        assert_eq!(first.snapshot.start_time, Duration::from_secs(1));
        drop(first);
        // They were not served the snapshot taken before they came, but
        // one taken after, together.
        take(&mut inbox, &master(2)).await;
        let mut seen = Vec::new();
        for request in later {
            seen.push(request.await.expect("joins").expect("a batch"));
        }
        assert!(seen.iter().all(|b| Arc::ptr_eq(b, &seen[0])));
        assert_eq!(seen[0].snapshot.start_time, Duration::from_secs(2));
        assert!(inbox.try_recv().is_err(), "two snapshots for five requests");
    }

    #[tokio::test]
    async fn the_next_snapshot_waits_until_the_batch_before_is_rendered() {
        let (commands, mut inbox) = mpsc::channel(16);
        let batches = Batches::start(commands).expect("the rendering thread");
        let first = ask(&batches, 1).remove(0);
        take(&mut inbox, &master(1)).await;
        let held = first.await.expect("joins").expect("a batch");
        let second = ask(&batches, 1).remove(0);
        queued(&batches, 1).await;
        // Each check yields to the batching task; while the first batch is
        // held, it asks the loop for nothing.
        for _ in 0..100 {
            tokio::task::yield_now().await;
            assert!(
                inbox.try_recv().is_err(),
                "a snapshot taken while one is held"
            );
        }
        drop(held);
        take(&mut inbox, &master(2)).await;
        let second = second.await.expect("joins").expect("a batch");
        assert_eq!(second.snapshot.start_time, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn after_a_costly_batch_the_next_snapshot_waits_nine_times_its_cost() {
        let (commands, mut inbox) = mpsc::channel(16);
        let batches = Batches::start(commands).expect("the rendering thread");
        let first = ask(&batches, 1).remove(0);
        take(&mut inbox, &master(1)).await;
        let held = first.await.expect("joins").expect("a batch");
        // Its render takes 100 ms of CPU.
        let rendered = batches
            .render(move || {
                let began = thread_cpu_time();
                while thread_cpu_time().saturating_sub(began) < Duration::from_millis(100) {
                    std::hint::spin_loop();
                }
                drop(held);
            })
            .await;
        assert!(rendered.is_some());
        let second = ask(&batches, 1).remove(0);
        // The pause is at least 900 ms (it is timed from CPU time, so a
        // loaded machine only makes it longer).
        let early = tokio::time::timeout(Duration::from_millis(800), inbox.recv()).await;
        assert!(early.is_err(), "a snapshot was taken during the pause");
        take(&mut inbox, &master(2)).await;
        let second = second.await.expect("joins").expect("a batch");
        assert_eq!(second.snapshot.start_time, Duration::from_secs(2));
    }
}
