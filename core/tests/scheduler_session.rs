//! The scheduler's protocol state machine: events in, callbacks out;
//! requests in, calls out.

mod fixtures;

use std::time::Duration;

use fixtures::*;
use meseta_core::detector::Endpoint;
use meseta_core::scheduler::{Action, Callback, Request, Session, LIVENESS_SLACK};
use meseta_core::v1::{self, framework_info, task_status, TaskState};
use meseta_proto::scheduler::{call, event, Event};

fn subscribed_session() -> Session {
    let mut session = Session::new(framework());
    session.connected(&Endpoint::new("master", 5050));
    session.handle_event(subscribed("fw-1", Some(10.0)));
    session
}

fn callbacks(actions: Vec<Action>) -> Vec<Callback> {
    actions
        .into_iter()
        .map(|action| match action {
            Action::Deliver(callback) => callback,
            other => panic!("expected a callback, got {other:?}"),
        })
        .collect()
}

#[test]
fn session_first_subscribed_registers_and_later_ones_reregister() {
    let mut session = Session::new(framework());
    assert!(session.subscribe_call().framework_id.is_none());
    session.connected(&Endpoint::new("master", 5050));

    let first = callbacks(session.handle_event(subscribed("fw-1", None)));
    assert!(matches!(
        &first[..],
        [Callback::Registered { framework_id, master }]
            if framework_id.value == "fw-1" && master.id == "master-1"
    ));
    assert!(session.is_subscribed());

    assert_eq!(session.disconnected(), Some(Callback::Disconnected));
    assert_eq!(
        session.disconnected(),
        None,
        "disconnected is reported once"
    );

    // Re-subscription carries the framework ID on the call and on the info.
    let resubscribe = session.subscribe_call();
    assert_eq!(resubscribe.framework_id, Some(framework_id("fw-1")));
    assert_eq!(resubscribe.r#type, Some(call::Type::Subscribe as i32));
    let info = resubscribe
        .subscribe
        .expect("subscribe body")
        .framework_info;
    assert_eq!(info.id, Some(framework_id("fw-1")));

    session.connected(&Endpoint::new("master", 5050));
    let second = callbacks(session.handle_event(subscribed("fw-1", None)));
    assert!(matches!(&second[..], [Callback::Reregistered { .. }]));
}

#[test]
fn session_failover_id_is_sent_from_the_first_subscription() {
    let mut info = framework();
    info.id = Some(framework_id("old-fw"));
    let session = Session::new(info);
    assert_eq!(session.framework_id(), Some(&framework_id("old-fw")));
    assert_eq!(
        session.subscribe_call().framework_id,
        Some(framework_id("old-fw"))
    );
}

#[test]
fn session_disconnect_before_subscribed_is_silent() {
    let mut session = Session::new(framework());
    session.connected(&Endpoint::new("master", 5050));
    assert_eq!(session.disconnected(), None);
}

#[test]
fn session_liveness_timeout_follows_the_heartbeat_interval() {
    let mut session = Session::new(framework());
    assert_eq!(
        session.liveness_timeout(),
        Duration::from_secs(30) + LIVENESS_SLACK
    );
    session.connected(&Endpoint::new("master", 5050));
    session.handle_event(subscribed("fw-1", Some(2.5)));
    assert_eq!(
        session.liveness_timeout(),
        Duration::from_secs(5) + LIVENESS_SLACK
    );
}

#[test]
fn session_heartbeat_intervals_from_the_master_never_panic() {
    let default = Duration::from_secs(30) + LIVENESS_SLACK;
    let day = Duration::from_secs(2 * 86_400) + LIVENESS_SLACK;
    for (seconds, expected) in [
        (f64::NAN, default),
        (-1.0, default),
        (0.0, default),
        (f64::INFINITY, default),
        (f64::NEG_INFINITY, default),
        (1e300, day),
        (f64::MAX, day),
    ] {
        let mut session = Session::new(framework());
        session.connected(&Endpoint::new("master", 5050));
        session.handle_event(subscribed("fw-1", Some(seconds)));
        assert_eq!(session.liveness_timeout(), expected, "{seconds}");
    }
}

#[test]
fn session_missing_master_info_describes_the_connected_master() {
    let mut session = Session::new(framework());
    session.connected(&Endpoint::new("leader.example", 5051));
    let mut event = subscribed("fw-1", None);
    if let Some(s) = event.subscribed.as_mut() {
        s.master_info = None;
    }
    let out = callbacks(session.handle_event(event));
    let Callback::Registered { master, .. } = &out[0] else {
        panic!("expected registered, got {out:?}");
    };
    assert_eq!(master.hostname.as_deref(), Some("leader.example"));
    assert_eq!(master.port, 5051);
}

#[test]
fn session_maps_each_event_type_to_its_callback() {
    let mut session = subscribed_session();

    let offers = Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers {
            offers: vec![v1::Offer {
                id: offer_id("o1"),
                framework_id: framework_id("fw-1"),
                agent_id: agent_id("a1"),
                hostname: "h".into(),
                ..Default::default()
            }],
        }),
        ..Default::default()
    };
    assert!(matches!(
        &callbacks(session.handle_event(offers))[..],
        [Callback::ResourceOffers(o)] if o.len() == 1
    ));

    let rescind = Event {
        r#type: Some(event::Type::Rescind as i32),
        rescind: Some(event::Rescind {
            offer_id: offer_id("o1"),
        }),
        ..Default::default()
    };
    assert_eq!(
        callbacks(session.handle_event(rescind)),
        vec![Callback::OfferRescinded(offer_id("o1"))]
    );

    let message = Event {
        r#type: Some(event::Type::Message as i32),
        message: Some(event::Message {
            agent_id: agent_id("a1"),
            executor_id: v1::ExecutorId { value: "e1".into() },
            data: b"hi".to_vec(),
        }),
        ..Default::default()
    };
    assert_eq!(
        callbacks(session.handle_event(message)),
        vec![Callback::FrameworkMessage {
            executor_id: v1::ExecutorId { value: "e1".into() },
            agent_id: agent_id("a1"),
            data: b"hi".to_vec(),
        }]
    );

    let running = status("t1", Some("a1"), TaskState::TaskRunning);
    assert_eq!(
        callbacks(session.handle_event(update(running.clone()))),
        vec![Callback::StatusUpdate(running)]
    );

    for kind in [
        event::Type::Heartbeat,
        event::Type::InverseOffers,
        event::Type::RescindInverseOffer,
        event::Type::UpdateOperationStatus,
        event::Type::Unknown,
    ] {
        assert!(session.handle_event(of_type(kind)).is_empty(), "{kind:?}");
    }
}

#[test]
fn session_failure_with_executor_is_executor_lost_without_is_agent_lost() {
    let mut session = subscribed_session();
    let failure = |executor: Option<&str>, status| Event {
        r#type: Some(event::Type::Failure as i32),
        failure: Some(event::Failure {
            agent_id: Some(agent_id("a1")),
            executor_id: executor.map(|e| v1::ExecutorId { value: e.into() }),
            status,
        }),
        ..Default::default()
    };
    assert_eq!(
        callbacks(session.handle_event(failure(Some("e1"), Some(9)))),
        vec![Callback::ExecutorLost {
            executor_id: v1::ExecutorId { value: "e1".into() },
            agent_id: agent_id("a1"),
            status: 9,
        }]
    );
    assert_eq!(
        callbacks(session.handle_event(failure(None, None))),
        vec![Callback::AgentLost(agent_id("a1"))]
    );
}

#[test]
fn session_error_event_aborts() {
    let mut session = subscribed_session();
    let error = Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: "Framework has been removed".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        session.handle_event(error),
        vec![Action::Abort {
            message: "Framework has been removed".into()
        }]
    );
}

#[test]
fn session_kill_uses_the_agent_known_from_launch_and_updates() {
    let mut session = subscribed_session();
    let launch = Request::launch(&[offer_id("o1")], vec![task("t1", "a1")], None);
    let accept = session.prepare(launch, NOW).expect("subscribed");
    assert_eq!(accept.framework_id, Some(framework_id("fw-1")));
    assert_eq!(accept.r#type, Some(call::Type::Accept as i32));
    let operations = accept.accept.expect("accept body").operations;
    assert_eq!(operations.len(), 1);

    let kill = |session: &mut Session, task: &str| {
        session
            .prepare(
                Request::Kill {
                    task_id: task_id(task),
                },
                NOW,
            )
            .expect("subscribed")
            .kill
            .expect("kill body")
    };
    assert_eq!(kill(&mut session, "t1").agent_id, Some(agent_id("a1")));
    assert_eq!(kill(&mut session, "unknown").agent_id, None);

    // An update moves the task (e.g. after agent re-registration).
    session.handle_event(update(status("t1", Some("a2"), TaskState::TaskRunning)));
    assert_eq!(kill(&mut session, "t1").agent_id, Some(agent_id("a2")));

    // A terminal update forgets it.
    session.handle_event(update(status("t1", Some("a2"), TaskState::TaskFinished)));
    assert_eq!(kill(&mut session, "t1").agent_id, None);
}

#[test]
fn session_launch_while_disconnected_reports_task_lost() {
    let mut session = Session::new(framework());
    let launch = Request::launch(
        &[offer_id("o1")],
        vec![task("t1", "a1"), task("t2", "a1")],
        None,
    );
    let dropped = session.prepare(launch, NOW).expect_err("not subscribed");
    assert_eq!(dropped.len(), 2);
    for callback in dropped {
        let Callback::StatusUpdate(status) = callback else {
            panic!("expected a status update, got {callback:?}");
        };
        assert_eq!(status.state, TaskState::TaskLost as i32);
        assert_eq!(
            status.timestamp,
            Some(NOW),
            "stamped with the caller's time"
        );
        assert_eq!(status.source, Some(task_status::Source::Master as i32));
        assert_eq!(
            status.reason,
            Some(task_status::Reason::MasterDisconnected as i32)
        );
        assert!(
            status.uuid.is_none(),
            "synthetic updates are not acknowledged"
        );
    }
    // Other calls are simply dropped.
    assert_eq!(
        session.prepare(Request::Revive { roles: vec![] }, NOW),
        Err(vec![])
    );
}

#[test]
fn session_partition_aware_frameworks_get_task_dropped() {
    let mut info = framework();
    info.capabilities.push(framework_info::Capability {
        r#type: Some(framework_info::capability::Type::PartitionAware as i32),
    });
    let mut session = Session::new(info);
    let launch = Request::launch(&[offer_id("o1")], vec![task("t1", "a1")], None);
    let dropped = session.prepare(launch, NOW).expect_err("not subscribed");
    assert!(matches!(
        &dropped[..],
        [Callback::StatusUpdate(s)] if s.state == TaskState::TaskDropped as i32
    ));
}

#[test]
fn calls_acknowledge_only_updates_with_a_uuid_and_agent() {
    let mut update = status("t1", Some("a1"), TaskState::TaskRunning);
    assert_eq!(Request::acknowledge(&update), None);
    update.uuid = Some(vec![]);
    assert_eq!(Request::acknowledge(&update), None);
    update.uuid = Some(vec![7; 16]);
    assert_eq!(
        Request::acknowledge(&update),
        Some(Request::Acknowledge {
            agent_id: agent_id("a1"),
            task_id: task_id("t1"),
            uuid: vec![7; 16],
        })
    );
    update.agent_id = None;
    assert_eq!(Request::acknowledge(&update), None);
}

#[test]
fn calls_build_each_request() {
    let fw = Some(framework_id("fw"));
    let decline = Request::Decline {
        offer_ids: vec![offer_id("o1")],
        filters: Some(v1::Filters {
            refuse_seconds: Some(5.0),
        }),
    }
    .into_call(fw.clone(), None);
    assert_eq!(decline.r#type, Some(call::Type::Decline as i32));
    assert_eq!(
        decline.decline.expect("decline").offer_ids,
        vec![offer_id("o1")]
    );

    let empty_launch = Request::launch(&[offer_id("o1")], vec![], None).into_call(fw.clone(), None);
    assert!(
        empty_launch.accept.expect("accept").operations.is_empty(),
        "launching nothing declines"
    );

    let reconcile = Request::reconcile(&[]).into_call(fw.clone(), None);
    assert!(reconcile.reconcile.expect("reconcile").tasks.is_empty());
    let reconcile = Request::reconcile(&[status("t1", Some("a1"), TaskState::TaskRunning)])
        .into_call(fw.clone(), None);
    let tasks = reconcile.reconcile.expect("reconcile").tasks;
    assert_eq!(tasks[0].task_id, task_id("t1"));
    assert_eq!(tasks[0].agent_id, Some(agent_id("a1")));

    for (request, kind) in [
        (Request::Revive { roles: vec![] }, call::Type::Revive),
        (
            Request::Suppress {
                roles: vec!["a".into()],
            },
            call::Type::Suppress,
        ),
        (Request::Teardown, call::Type::Teardown),
        (
            Request::ResourceRequest { requests: vec![] },
            call::Type::Request,
        ),
    ] {
        assert_eq!(request.name(), kind.as_str_name());
        let built = request.into_call(fw.clone(), None);
        assert_eq!(built.r#type, Some(kind as i32));
        assert_eq!(built.framework_id, fw);
    }
}
