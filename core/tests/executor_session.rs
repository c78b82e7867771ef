//! The executor's state machine, reconnection policy and environment.

mod fixtures;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fixtures::*;
use meseta_core::executor::{
    parse_duration, Action, Callback, Decision, ExecutorConfig, Reconnect, Session,
    DEFAULT_RECOVERY_TIMEOUT,
};
use meseta_core::v1::{self, task_status, TaskState};
use meseta_proto::executor::{call, event, Event};

fn session() -> Session {
    Session::new(
        framework_id("fw-1"),
        v1::ExecutorId {
            value: "exec-1".into(),
        },
    )
}

fn running(task: &str) -> v1::TaskStatus {
    status(task, None, TaskState::TaskRunning)
}

fn acknowledged(task: &str, uuid: [u8; 16]) -> Event {
    Event {
        r#type: Some(event::Type::Acknowledged as i32),
        acknowledged: Some(event::Acknowledged {
            task_id: task_id(task),
            uuid: uuid.to_vec(),
        }),
        ..Default::default()
    }
}

fn launch(task: v1::TaskInfo) -> Event {
    Event {
        r#type: Some(event::Type::Launch as i32),
        launch: Some(event::Launch { task }),
        ..Default::default()
    }
}

#[test]
fn session_subscribed_registers_then_reregisters() {
    let mut session = session();
    let call = session.subscribe_call();
    assert_eq!(call.r#type, Some(call::Type::Subscribe as i32));
    assert_eq!(call.framework_id, framework_id("fw-1"));
    assert_eq!(call.executor_id.value, "exec-1");

    let first = session.handle_event(executor_subscribed("agent-1"));
    assert!(matches!(
        &first[..],
        [Action::Deliver(Callback::Registered { agent_info, .. })] if agent_info.hostname == "agent-host"
    ));
    assert_eq!(session.disconnected(), Some(Callback::Disconnected));
    assert_eq!(session.disconnected(), None);
    let second = session.handle_event(executor_subscribed("agent-1"));
    assert!(matches!(
        &second[..],
        [Action::Deliver(Callback::Reregistered { .. })]
    ));
}

#[test]
fn session_stamps_updates() {
    let mut session = session();
    session.handle_event(executor_subscribed("agent-1"));
    let call = session
        .update(running("t1"), [1; 16], 1234.5)
        .expect("valid update")
        .expect("subscribed: send now");
    assert_eq!(call.r#type, Some(call::Type::Update as i32));
    let status = call.update.expect("update body").status;
    assert_eq!(status.uuid, Some(vec![1; 16]));
    assert_eq!(status.source, Some(task_status::Source::Executor as i32));
    assert_eq!(status.timestamp, Some(1234.5));
    assert_eq!(status.executor_id.map(|e| e.value), Some("exec-1".into()));
    assert_eq!(status.agent_id, Some(agent_id("agent-1")));
}

#[test]
fn session_rejects_task_staging() {
    let mut session = session();
    let staging = status("t1", None, TaskState::TaskStaging);
    assert!(session.update(staging, [1; 16], 0.0).is_err());
    assert!(session.unacknowledged_updates().is_empty());
}

#[test]
fn session_keeps_unacknowledged_updates_and_tasks_until_acknowledged() {
    let mut session = session();
    session.handle_event(executor_subscribed("agent-1"));
    let launched = session.handle_event(launch(task("t1", "agent-1")));
    assert!(
        matches!(&launched[..], [Action::Deliver(Callback::LaunchTask(t))] if t.task_id.value == "t1")
    );
    session.update(running("t1"), [1; 16], 0.0).expect("valid");
    session
        .update(status("t1", None, TaskState::TaskFinished), [2; 16], 0.0)
        .expect("valid");
    assert_eq!(session.unacknowledged_updates().len(), 2);
    assert_eq!(session.unacknowledged_tasks().len(), 1);

    // Both go into the next SUBSCRIBE.
    session.disconnected();
    let subscribe = session.subscribe_call().subscribe.expect("subscribe body");
    assert_eq!(subscribe.unacknowledged_updates.len(), 2);
    assert_eq!(subscribe.unacknowledged_tasks.len(), 1);

    // An acknowledgement for a different uuid changes nothing for updates,
    // but the task counts as acknowledged once any update is.
    assert!(session.handle_event(acknowledged("t1", [1; 16])).is_empty());
    assert_eq!(session.unacknowledged_updates().len(), 1);
    assert!(session.unacknowledged_tasks().is_empty());
    session.handle_event(acknowledged("t1", [9; 16]));
    assert_eq!(session.unacknowledged_updates().len(), 1);
    session.handle_event(acknowledged("t1", [2; 16]));
    assert!(session.unacknowledged_updates().is_empty());
}

#[test]
fn session_updates_made_while_subscribing_are_sent_once_subscribed() {
    let mut session = session();
    // Made while disconnected: covered by the SUBSCRIBE built afterwards.
    assert_eq!(session.update(running("t1"), [1; 16], 0.0), Ok(None));
    let subscribe = session.subscribe_call().subscribe.expect("subscribe body");
    assert_eq!(subscribe.unacknowledged_updates.len(), 1);
    // Made after the SUBSCRIBE was built: sent when SUBSCRIBED arrives.
    assert_eq!(session.update(running("t2"), [2; 16], 0.0), Ok(None));
    let actions = session.handle_event(executor_subscribed("agent-1"));
    assert_eq!(actions.len(), 2, "{actions:?}");
    let Action::Send(call) = &actions[1] else {
        panic!("expected a send, got {actions:?}");
    };
    let sent = call.update.as_ref().expect("update body");
    assert_eq!(sent.status.task_id.value, "t2");
}

#[test]
fn session_maps_events_to_callbacks() {
    let mut session = session();
    session.handle_event(executor_subscribed("agent-1"));

    let group = Event {
        r#type: Some(event::Type::LaunchGroup as i32),
        launch_group: Some(event::LaunchGroup {
            task_group: v1::TaskGroupInfo {
                tasks: vec![task("g1", "agent-1"), task("g2", "agent-1")],
            },
        }),
        ..Default::default()
    };
    assert!(matches!(
        &session.handle_event(group)[..],
        [Action::Deliver(Callback::LaunchTaskGroup(g))] if g.tasks.len() == 2
    ));
    assert_eq!(session.unacknowledged_tasks().len(), 2);

    let kill = Event {
        r#type: Some(event::Type::Kill as i32),
        kill: Some(event::Kill {
            task_id: task_id("g1"),
            kill_policy: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        session.handle_event(kill),
        vec![Action::Deliver(Callback::KillTask(task_id("g1")))]
    );

    let message = Event {
        r#type: Some(event::Type::Message as i32),
        message: Some(event::Message {
            data: b"ping".to_vec(),
        }),
        ..Default::default()
    };
    assert_eq!(
        session.handle_event(message),
        vec![Action::Deliver(Callback::FrameworkMessage(
            b"ping".to_vec()
        ))]
    );

    assert_eq!(
        session.handle_event(executor_event(event::Type::Shutdown)),
        vec![Action::Shutdown]
    );
    let error = Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: "boom".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        session.handle_event(error),
        vec![Action::Abort {
            message: "boom".into()
        }]
    );
    assert!(session
        .handle_event(executor_event(event::Type::Heartbeat))
        .is_empty());
}

#[test]
fn session_message_call_carries_ids_and_data() {
    let call = session().message_call(b"x".to_vec());
    assert_eq!(call.r#type, Some(call::Type::Message as i32));
    assert_eq!(call.message.expect("message body").data, b"x".to_vec());
    assert_eq!(call.framework_id, framework_id("fw-1"));
}

#[test]
fn reconnect_without_checkpoint_gives_up_after_a_lost_subscription() {
    let mut policy = Reconnect::new(false, Duration::from_secs(60), Duration::from_secs(2));
    let now = Instant::now();
    // Never subscribed yet: keep trying (the agent may still be starting).
    assert!(matches!(
        policy.after_failure(now, 0.0),
        Decision::RetryAfter(_)
    ));
    policy.subscribed();
    assert_eq!(policy.after_failure(now, 0.0), Decision::GiveUp);
}

#[test]
fn reconnect_with_checkpoint_retries_within_the_recovery_timeout() {
    let max = Duration::from_secs(2);
    let mut policy = Reconnect::new(true, Duration::from_secs(10), max);
    policy.subscribed();
    let start = Instant::now();
    let mut now = start;
    let mut delays = Vec::new();
    while let Decision::RetryAfter(delay) = policy.after_failure(now, 0.999) {
        assert!(delay <= max, "{delay:?} exceeds the backoff cap");
        assert!(!delay.is_zero());
        delays.push(delay);
        now += delay;
    }
    assert!(now.duration_since(start) >= Duration::from_secs(10));
    assert!(now.duration_since(start) < Duration::from_secs(11));
    assert!(
        delays.windows(2).take(2).all(|w| w[0] <= w[1]),
        "{delays:?}"
    );

    // A success resets the clock.
    policy.subscribed();
    assert!(matches!(
        policy.after_failure(now, 0.5),
        Decision::RetryAfter(_)
    ));
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

const REQUIRED: [(&str, &str); 3] = [
    ("MESOS_AGENT_ENDPOINT", "10.0.0.5:5051"),
    ("MESOS_FRAMEWORK_ID", "fw-1"),
    ("MESOS_EXECUTOR_ID", "exec-1"),
];

#[test]
fn config_reads_the_agent_environment() {
    let config = ExecutorConfig::from_lookup(env(&REQUIRED)).expect("valid environment");
    assert_eq!(config.agent_endpoint.to_string(), "10.0.0.5:5051");
    assert_eq!(config.framework_id, framework_id("fw-1"));
    assert_eq!(config.executor_id.value, "exec-1");
    assert!(!config.checkpoint);
    assert_eq!(config.recovery_timeout, DEFAULT_RECOVERY_TIMEOUT);
    assert!(config.authentication_token.is_none());

    let mut vars = REQUIRED.to_vec();
    vars.extend([
        ("MESOS_CHECKPOINT", "1"),
        ("MESOS_RECOVERY_TIMEOUT", "5secs"),
        ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "250ms"),
        ("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "tok"),
    ]);
    let config = ExecutorConfig::from_lookup(env(&vars)).expect("valid environment");
    assert!(config.checkpoint);
    assert_eq!(config.recovery_timeout, Duration::from_secs(5));
    assert_eq!(config.subscription_backoff_max, Duration::from_millis(250));
    assert_eq!(config.authentication_token.as_deref(), Some("tok"));
    assert!(
        !format!("{config:?}").contains("tok\""),
        "token must not be logged"
    );
}

#[test]
fn config_names_the_missing_or_bad_variable() {
    for missing in [
        "MESOS_AGENT_ENDPOINT",
        "MESOS_FRAMEWORK_ID",
        "MESOS_EXECUTOR_ID",
    ] {
        let vars: Vec<_> = REQUIRED
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let error = ExecutorConfig::from_lookup(env(&vars)).expect_err("missing variable");
        assert!(error.to_string().contains(missing), "{error}");
    }
    let mut vars = REQUIRED.to_vec();
    vars.push(("MESOS_RECOVERY_TIMEOUT", "soon"));
    let error = ExecutorConfig::from_lookup(env(&vars)).expect_err("bad duration");
    assert!(
        error.to_string().contains("MESOS_RECOVERY_TIMEOUT"),
        "{error}"
    );

    let mut vars = REQUIRED.to_vec();
    vars[0] = ("MESOS_AGENT_ENDPOINT", "agent-without-port");
    assert!(ExecutorConfig::from_lookup(env(&vars)).is_err());
}

#[test]
fn config_parses_mesos_durations() {
    assert_eq!(
        parse_duration("15mins").ok(),
        Some(Duration::from_secs(900))
    );
    assert_eq!(
        parse_duration("250ms").ok(),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        parse_duration("1.5secs").ok(),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(parse_duration("2hrs").ok(), Some(Duration::from_secs(7200)));
    assert_eq!(
        parse_duration("1days").ok(),
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(
        parse_duration("1weeks").ok(),
        Some(Duration::from_secs(604_800))
    );
    assert_eq!(parse_duration("10us").ok(), Some(Duration::from_micros(10)));
    assert_eq!(parse_duration("7ns").ok(), Some(Duration::from_nanos(7)));
    // The master's flags always took short units and bare seconds; the one
    // parser (`meseta_proto::duration`) takes them everywhere.
    assert_eq!(parse_duration("5").ok(), Some(Duration::from_secs(5)));
    assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
    for bad in ["", "secs", "5 parsecs", "-1secs", "1e400secs", "1e400"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
}
