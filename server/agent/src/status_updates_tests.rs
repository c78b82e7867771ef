//! Ordering, acknowledgement and retry of the status update manager, with
//! injected time.

use std::sync::{Arc, Mutex};

use super::*;

fn framework() -> v1::FrameworkId {
    v1::FrameworkId { value: "F".into() }
}

fn status(task: &str, state: TaskState) -> v1::TaskStatus {
    let mut status = v1::TaskStatus {
        task_id: v1::TaskId { value: task.into() },
        state: state as i32,
        ..Default::default()
    };
    stamp(&mut status, Some(&v1::AgentId { value: "A".into() }), None);
    status
}

fn manager() -> StatusUpdateManager {
    StatusUpdateManager::new(
        Duration::from_secs(10),
        Duration::from_secs(60),
        Box::new(NoJournal),
    )
}

fn forwarded(accepted: Accepted) -> cluster::StatusUpdate {
    match accepted {
        Accepted::Forward(update) => *update,
        other => panic!("expected Forward, got {other:?}"),
    }
}

#[test]
fn status_updates_only_the_head_is_in_flight_and_order_is_kept() {
    let mut m = manager();
    let t0 = Instant::now();
    let running = status("t", TaskState::TaskRunning);
    let finished = status("t", TaskState::TaskFinished);
    let first = forwarded(m.update(t0, &framework(), running.clone()).unwrap());
    assert_eq!(first.status, running);
    assert_eq!(first.latest_state, Some(TaskState::TaskRunning as i32));
    assert_eq!(
        m.update(t0, &framework(), finished.clone()).unwrap(),
        Accepted::Queued
    );
    let key = StreamKey::new(&framework(), &running.task_id);
    assert_eq!(m.latest_state(&key), Some(TaskState::TaskFinished as i32));
    assert_eq!(m.pending_count(), 2);

    // An acknowledgement of the wrong UUID changes nothing.
    let wrong = finished.uuid.clone().unwrap();
    assert!(m
        .acknowledge(t0, &framework(), &running.task_id, &wrong)
        .is_err());

    let ack = m
        .acknowledge(
            t0,
            &framework(),
            &running.task_id,
            running.uuid.as_deref().unwrap(),
        )
        .unwrap();
    assert!(!ack.stream_closed);
    let next = ack.next.unwrap();
    assert_eq!(next.status, finished);
    assert_eq!(next.latest_state, Some(TaskState::TaskFinished as i32));

    let ack = m
        .acknowledge(
            t0,
            &framework(),
            &running.task_id,
            finished.uuid.as_deref().unwrap(),
        )
        .unwrap();
    assert!(ack.stream_closed && ack.next.is_none());
    assert_eq!(m.pending_count(), 0);
    assert_eq!(m.latest_state(&key), None);
}

#[test]
fn status_updates_streams_of_different_tasks_are_independent() {
    let mut m = manager();
    let t0 = Instant::now();
    assert!(matches!(
        m.update(t0, &framework(), status("a", TaskState::TaskRunning))
            .unwrap(),
        Accepted::Forward(_)
    ));
    assert!(matches!(
        m.update(t0, &framework(), status("b", TaskState::TaskRunning))
            .unwrap(),
        Accepted::Forward(_)
    ));
}

#[test]
fn status_updates_retry_doubles_up_to_the_cap() {
    let mut m = manager();
    let t0 = Instant::now();
    let running = status("t", TaskState::TaskRunning);
    forwarded(m.update(t0, &framework(), running.clone()).unwrap());
    assert_eq!(m.next_deadline(), Some(t0 + Duration::from_secs(10)));
    assert!(m.due(t0 + Duration::from_secs(9)).is_empty());

    let mut at = t0 + Duration::from_secs(10);
    let mut gaps = Vec::new();
    for _ in 0..5 {
        let due = m.due(at);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].status, running);
        let next = m.next_deadline().unwrap();
        gaps.push((next - at).as_secs());
        at = next;
    }
    assert_eq!(gaps, vec![20, 40, 60, 60, 60]);

    // Re-registration resends at once and starts the backoff over.
    let resent = m.resend_all(at);
    assert_eq!(resent.len(), 1);
    assert_eq!(m.next_deadline(), Some(at + Duration::from_secs(10)));
}

#[test]
fn status_updates_duplicates_and_updates_after_terminal_are_dropped() {
    let mut m = manager();
    let t0 = Instant::now();
    let running = status("t", TaskState::TaskRunning);
    forwarded(m.update(t0, &framework(), running.clone()).unwrap());
    assert_eq!(
        m.update(t0, &framework(), running).unwrap(),
        Accepted::Duplicate
    );
    assert_eq!(
        m.update(t0, &framework(), status("t", TaskState::TaskFailed))
            .unwrap(),
        Accepted::Queued
    );
    let err = m
        .update(t0, &framework(), status("t", TaskState::TaskRunning))
        .unwrap_err();
    assert!(err.to_string().contains("terminal"), "{err}");
}

#[test]
fn status_updates_without_uuid_are_refused() {
    let mut m = manager();
    let mut bare = status("t", TaskState::TaskRunning);
    bare.uuid = None;
    assert!(m.update(Instant::now(), &framework(), bare).is_err());
}

#[test]
fn status_updates_removed_framework_has_no_streams() {
    let mut m = manager();
    let t0 = Instant::now();
    forwarded(
        m.update(t0, &framework(), status("t", TaskState::TaskRunning))
            .unwrap(),
    );
    m.remove_framework(&framework());
    assert_eq!(m.pending_count(), 0);
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn status_updates_are_journaled_before_they_apply() {
    #[derive(Clone, Default)]
    struct Recording(Arc<Mutex<Vec<String>>>);
    impl UpdateJournal for Recording {
        fn record(&mut self, key: &StreamKey, record: JournalRecord<'_>) -> Result<(), AgentError> {
            let what = match record {
                JournalRecord::Update(u) => state_name(u.status.state).to_string(),
                JournalRecord::Acknowledged(_) => "ack".into(),
                JournalRecord::Closed => "closed".into(),
            };
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:{what}", key.task_id));
            Ok(())
        }
    }
    let journal = Recording::default();
    let mut m = StatusUpdateManager::new(
        Duration::from_secs(1),
        Duration::from_secs(2),
        Box::new(journal.clone()),
    );
    let t0 = Instant::now();
    let done = status("t", TaskState::TaskFinished);
    forwarded(m.update(t0, &framework(), done.clone()).unwrap());
    m.acknowledge(
        t0,
        &framework(),
        &done.task_id,
        done.uuid.as_deref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        *journal.0.lock().unwrap(),
        vec!["t:TASK_FINISHED", "t:ack", "t:closed"]
    );
}

#[test]
fn status_updates_unjournaled_streams_record_nothing() {
    #[derive(Clone, Default)]
    struct Counting(Arc<Mutex<usize>>);
    impl UpdateJournal for Counting {
        fn record(&mut self, _: &StreamKey, _: JournalRecord<'_>) -> Result<(), AgentError> {
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }
    let journal = Counting::default();
    let mut m = StatusUpdateManager::new(
        Duration::from_secs(1),
        Duration::from_secs(2),
        Box::new(journal.clone()),
    );
    let t0 = Instant::now();
    let done = status("t", TaskState::TaskFinished);
    forwarded(
        m.update_journaled(t0, &framework(), done.clone(), false)
            .unwrap(),
    );
    m.acknowledge(
        t0,
        &framework(),
        &done.task_id,
        done.uuid.as_deref().unwrap(),
    )
    .unwrap();
    assert_eq!(*journal.0.lock().unwrap(), 0);
}

#[test]
fn status_updates_streams_are_rebuilt_from_their_journal() {
    let key = StreamKey::new(&framework(), &v1::TaskId { value: "t".into() });
    let record = |s: &v1::TaskStatus| {
        ReplayedRecord::Update(Box::new(cluster::StatusUpdate {
            framework_id: framework(),
            status: s.clone(),
            latest_state: Some(s.state),
        }))
    };
    let starting = status("t", TaskState::TaskStarting);
    let running = status("t", TaskState::TaskRunning);
    let finished = status("t", TaskState::TaskFinished);
    let mut m = manager();
    let t0 = Instant::now();
    let (history, open) = m.recover(
        &key,
        vec![
            record(&starting),
            ReplayedRecord::Acknowledged(starting.uuid.clone().unwrap()),
            record(&running),
            record(&finished),
        ],
    );
    assert!(open);
    assert_eq!(
        history,
        vec![starting.clone(), running.clone(), finished.clone()]
    );
    assert_eq!(m.pending_count(), 2);
    assert_eq!(m.latest_state(&key), Some(TaskState::TaskFinished as i32));
    assert_eq!(
        m.next_deadline(),
        None,
        "nothing is sent before registration"
    );
    // The heads go out after registration; known UUIDs stay duplicates.
    let heads = m.resend_all(t0);
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].status, running);
    assert_eq!(
        m.update(t0, &framework(), starting.clone()).unwrap(),
        Accepted::Duplicate
    );
    let ack = m
        .acknowledge(
            t0,
            &framework(),
            &running.task_id,
            running.uuid.as_deref().unwrap(),
        )
        .unwrap();
    assert_eq!(ack.next.map(|n| n.status), Some(finished.clone()));

    // A stream whose terminal update was acknowledged is not recreated.
    let mut m = manager();
    let (history, open) = m.recover(
        &key,
        vec![
            record(&finished),
            ReplayedRecord::Acknowledged(finished.uuid.clone().unwrap()),
        ],
    );
    assert!(!open);
    assert_eq!(history.len(), 1);
    assert_eq!(m.pending_count(), 0);
}

#[test]
fn status_updates_stamp_fills_uuid_time_and_ids() {
    let mut s = v1::TaskStatus::default();
    stamp(
        &mut s,
        Some(&v1::AgentId { value: "A".into() }),
        Some(&v1::ExecutorId { value: "E".into() }),
    );
    assert_eq!(s.uuid.as_ref().map(Vec::len), Some(16));
    assert!(s.timestamp.unwrap() > 1.0e9);
    assert_eq!(s.agent_id.unwrap().value, "A");
    assert_eq!(s.executor_id.unwrap().value, "E");
    assert!(is_terminal(TaskState::TaskLost as i32));
    assert!(!is_terminal(TaskState::TaskKilling as i32));
}
