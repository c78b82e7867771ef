//! The v1 scheduler library (`meseta_core::scheduler::v1_mesos`, behind
//! Java's `V1Mesos`): a framework subscribes when connected, sees every
//! event itself, and subscribes again with its ID after `reconnect`;
//! dropping the library ends its callbacks before the drop returns.

use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};

use meseta_core::scheduler::v1_mesos::{V1Callbacks, V1Mesos};
use meseta_core::ContentType;
use meseta_proto::scheduler::{call, event, Call, Event};
use meseta_proto::v1;

use crate::common::*;

enum Heard {
    Connected,
    Disconnected,
    Event(Box<Event>),
}

struct Forward(Sender<Heard>);

impl V1Callbacks for Forward {
    fn connected(&mut self) {
        let _ = self.0.send(Heard::Connected);
    }
    fn disconnected(&mut self) {
        let _ = self.0.send(Heard::Disconnected);
    }
    fn received(&mut self, events: Vec<Event>) {
        for event in events {
            let _ = self.0.send(Heard::Event(Box::new(event)));
        }
    }
}

fn subscribe(id: Option<v1::FrameworkId>) -> Call {
    Call {
        r#type: Some(call::Type::Subscribe as i32),
        framework_id: id.clone(),
        subscribe: Some(call::Subscribe {
            framework_info: v1::FrameworkInfo {
                user: "root".into(),
                name: "v1-library".into(),
                id,
                failover_timeout: Some(60.0),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The next event of `kind`, skipping others (and noting connections).
fn next_event(heard: &Receiver<Heard>, kind: event::Type) -> Event {
    loop {
        match heard.recv_timeout(DEADLINE) {
            Ok(Heard::Event(e)) if e.r#type == Some(kind as i32) => return *e,
            Ok(_) => {}
            Err(_) => panic!("no {} event in time", kind.as_str_name()),
        }
    }
}

fn next_connection(heard: &Receiver<Heard>, connected: bool) {
    loop {
        match heard.recv_timeout(DEADLINE) {
            Ok(Heard::Connected) if connected => return,
            Ok(Heard::Disconnected) if !connected => return,
            Ok(_) => {}
            Err(_) => panic!(
                "no {} in time",
                if connected {
                    "connected"
                } else {
                    "disconnected"
                }
            ),
        }
    }
}

#[test]
fn a_v1_framework_subscribes_on_connected_and_again_after_reconnect() {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let (tx, heard) = channel();
    let mesos = V1Mesos::start(&tc.master(), ContentType::Json, None, Box::new(Forward(tx)))
        .expect("the library starts");
    next_connection(&heard, true);
    mesos.send(subscribe(None));
    let subscribed = next_event(&heard, event::Type::Subscribed);
    let id = subscribed.subscribed.expect("SUBSCRIBED").framework_id;
    let offers = next_event(&heard, event::Type::Offers);
    assert_eq!(offers.offers.expect("offers").offers.len(), 1);

    mesos.reconnect();
    next_connection(&heard, false);
    next_connection(&heard, true);
    // A subscription the master refuses is an ERROR event with the reason,
    // then a new connection.
    let mut bad = subscribe(Some(id.clone()));
    if let Some(subscribe) = bad.subscribe.as_mut() {
        subscribe.framework_info.roles = vec!["no spaces allowed".into()];
        subscribe
            .framework_info
            .capabilities
            .push(v1::framework_info::Capability {
                r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
            });
    }
    mesos.send(bad);
    let error = next_event(&heard, event::Type::Error);
    let message = error.error.map(|e| e.message).unwrap_or_default();
    assert!(message.contains("no spaces allowed"), "{message}");
    next_connection(&heard, false);
    next_connection(&heard, true);
    mesos.send(subscribe(Some(id.clone())));
    let again = next_event(&heard, event::Type::Subscribed);
    assert_eq!(again.subscribed.expect("SUBSCRIBED").framework_id, id);

    // C++ frees a framework's callbacks right after the library: once the
    // drop returns, the callbacks (and the sender they hold) are gone.
    drop(mesos);
    let end = loop {
        match heard.try_recv() {
            Ok(_) => continue,
            Err(end) => break end,
        }
    };
    assert_eq!(
        end,
        TryRecvError::Disconnected,
        "a callback outlived the library"
    );
}
