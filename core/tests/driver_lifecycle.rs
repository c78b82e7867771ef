//! Driver lifecycles through the public API, with no master or agent at
//! all: status transitions, the callback thread, re-entrant calls, fatal
//! errors, and what happens to calls made while disconnected.

mod fixtures;

use std::sync::mpsc::{channel, Sender};
use std::time::Duration;

use fixtures::*;
use meseta_core::v1::{self, TaskState};
use meseta_core::{
    Executor, ExecutorConfig, ExecutorDriver, Scheduler, SchedulerConfig, SchedulerDriver, Status,
};

const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq)]
enum Seen {
    Update(String, i32),
    Error(String),
    Shutdown,
}

/// Reports callbacks; stops the driver from inside `status_update`.
struct Recorder {
    seen: Sender<Seen>,
    stop_on_update: bool,
}

impl Scheduler for Recorder {
    fn status_update(&mut self, driver: &SchedulerDriver, status: &v1::TaskStatus) {
        let _ = self
            .seen
            .send(Seen::Update(status.task_id.value.clone(), status.state));
        if self.stop_on_update {
            // Re-entrant: must not deadlock.
            assert_eq!(
                driver.join(),
                Status::Running,
                "join from a callback returns at once"
            );
            assert_eq!(driver.stop(true), Status::Stopped);
        }
    }

    fn error(&mut self, _driver: &SchedulerDriver, message: &str) {
        let _ = self.seen.send(Seen::Error(message.to_string()));
    }
}

fn unreachable_master() -> String {
    format!("127.0.0.1:{}", closed_port())
}

fn config(master: String) -> SchedulerConfig {
    let mut config = SchedulerConfig::new(master, framework());
    config.reconnect_backoff_initial = Duration::from_millis(20);
    config.reconnect_backoff_max = Duration::from_millis(50);
    config
}

#[test]
fn status_codes_match_mesos() {
    for (status, code) in [
        (Status::NotStarted, 1),
        (Status::Running, 2),
        (Status::Aborted, 3),
        (Status::Stopped, 4),
    ] {
        assert_eq!(status.as_mesos_code(), code);
        assert_eq!(Status::from_mesos_code(code), Some(status));
    }
    assert_eq!(Status::from_mesos_code(0), None);
    assert_eq!(Status::Running.to_string(), "DRIVER_RUNNING");
}

#[test]
fn scheduler_driver_methods_before_start_do_nothing() {
    let (seen, _events) = channel();
    let driver = SchedulerDriver::new(
        Recorder {
            seen,
            stop_on_update: false,
        },
        config(unreachable_master()),
    );
    assert_eq!(driver.status(), Status::NotStarted);
    assert_eq!(driver.revive_offers(), Status::NotStarted);
    assert_eq!(driver.kill_task(&task_id("t")), Status::NotStarted);
    assert_eq!(driver.stop(false), Status::NotStarted);
    assert_eq!(driver.abort(), Status::NotStarted);
    assert_eq!(driver.join(), Status::NotStarted);
    assert_eq!(driver.framework_id(), None);
}

#[test]
fn scheduler_driver_stops_while_reconnecting() {
    let (seen, _events) = channel();
    let driver = SchedulerDriver::new(
        Recorder {
            seen,
            stop_on_update: false,
        },
        config(unreachable_master()),
    );
    assert_eq!(driver.start(), Status::Running);
    assert_eq!(driver.start(), Status::Running, "start is idempotent");
    assert_eq!(driver.suppress_offers(), Status::Running);
    assert_eq!(driver.stop(false), Status::Stopped);
    assert_eq!(driver.join(), Status::Stopped);
    assert_eq!(driver.start(), Status::Stopped, "no restart after stop");
    assert_eq!(driver.revive_offers(), Status::Stopped);
}

#[test]
fn scheduler_driver_launch_while_disconnected_yields_task_lost_and_callbacks_may_stop() {
    let (seen, events) = channel();
    let driver = SchedulerDriver::new(
        Recorder {
            seen,
            stop_on_update: true,
        },
        config(unreachable_master()),
    );
    assert_eq!(driver.start(), Status::Running);
    let status = driver.launch_tasks(&[offer_id("o1")], vec![task("t1", "a1")], None);
    assert_eq!(status, Status::Running);
    assert_eq!(
        events.recv_timeout(DEADLINE).expect("a status update"),
        Seen::Update("t1".into(), TaskState::TaskLost as i32)
    );
    // The callback stopped the driver.
    assert_eq!(driver.join(), Status::Stopped);
}

#[test]
fn scheduler_driver_aborts_on_an_unusable_master_address() {
    let (seen, events) = channel();
    let driver = SchedulerDriver::new(
        Recorder {
            seen,
            stop_on_update: false,
        },
        config("zk://zk1:2181".into()),
    );
    assert_eq!(driver.start(), Status::Running);
    assert_eq!(driver.join(), Status::Aborted);
    match events.recv_timeout(DEADLINE).expect("an error callback") {
        Seen::Error(message) => assert!(message.contains("zk://"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(driver.revive_offers(), Status::Aborted);
    assert_eq!(
        driver.stop(false),
        Status::Aborted,
        "stop after abort reports the abort"
    );
    assert_eq!(driver.join(), Status::Stopped);
}

#[test]
fn scheduler_driver_abort_then_join() {
    let (seen, _events) = channel();
    let driver = SchedulerDriver::new(
        Recorder {
            seen,
            stop_on_update: false,
        },
        config(unreachable_master()),
    );
    let runner = {
        let driver = driver.clone();
        std::thread::spawn(move || driver.run())
    };
    let deadline = std::time::Instant::now() + DEADLINE;
    while driver.status() != Status::Running {
        assert!(std::time::Instant::now() < deadline, "driver did not start");
        std::thread::yield_now();
    }
    assert_eq!(driver.abort(), Status::Aborted);
    assert_eq!(runner.join().expect("run returns"), Status::Aborted);
}

struct ExecutorRecorder {
    seen: Sender<Seen>,
}

impl Executor for ExecutorRecorder {
    fn shutdown(&mut self, _driver: &ExecutorDriver) {
        let _ = self.seen.send(Seen::Shutdown);
    }

    fn error(&mut self, _driver: &ExecutorDriver, message: &str) {
        let _ = self.seen.send(Seen::Error(message.to_string()));
    }
}

fn executor_config(recovery_timeout: Duration) -> ExecutorConfig {
    let vars = [
        (
            "MESOS_AGENT_ENDPOINT",
            format!("127.0.0.1:{}", closed_port()),
        ),
        ("MESOS_FRAMEWORK_ID", "fw-1".to_string()),
        ("MESOS_EXECUTOR_ID", "exec-1".to_string()),
    ];
    let mut config = ExecutorConfig::from_lookup(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
    .expect("valid environment");
    config.recovery_timeout = recovery_timeout;
    config.subscription_backoff_max = Duration::from_millis(20);
    config
}

#[test]
fn executor_driver_gives_up_on_an_absent_agent_and_shuts_down() {
    let (seen, events) = channel();
    let driver = ExecutorDriver::with_config(
        ExecutorRecorder { seen },
        executor_config(Duration::from_millis(200)),
    );
    assert_eq!(driver.start(), Status::Running);
    // Kept for the next subscription, which never comes.
    assert_eq!(
        driver.send_status_update(status("t1", None, TaskState::TaskRunning)),
        Status::Running
    );
    assert_eq!(driver.join(), Status::Aborted);
    assert_eq!(
        events.recv_timeout(DEADLINE).expect("shutdown"),
        Seen::Shutdown
    );
}

#[test]
fn executor_driver_stop_while_connecting() {
    let (seen, _events) = channel();
    let driver = ExecutorDriver::with_config(
        ExecutorRecorder { seen },
        executor_config(Duration::from_secs(60)),
    );
    assert_eq!(driver.start(), Status::Running);
    assert_eq!(
        driver.send_framework_message(b"dropped".to_vec()),
        Status::Running
    );
    assert_eq!(driver.stop(), Status::Stopped);
    assert_eq!(driver.join(), Status::Stopped);
    assert_eq!(driver.send_framework_message(vec![]), Status::Stopped);
}

#[test]
fn executor_driver_without_agent_environment_aborts_with_an_error() {
    if std::env::var_os("MESOS_AGENT_ENDPOINT").is_some() {
        return; // Running under a real agent; nothing to test.
    }
    let (seen, events) = channel();
    let driver = ExecutorDriver::new(ExecutorRecorder { seen });
    assert_eq!(driver.run(), Status::Aborted);
    match events.recv_timeout(DEADLINE).expect("an error callback") {
        Seen::Error(message) => assert!(message.contains("MESOS_AGENT_ENDPOINT"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
}
