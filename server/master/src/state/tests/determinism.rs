//! One seed reproduces a whole run: with its IDs from `Ids::seeded` and its
//! allocator seeded alike, a master given the same inputs takes the same
//! actions in the same order (stream IDs, offer IDs, which agent is offered
//! to whom and in what order, updates, rescinds, heartbeats, pings). Two
//! runs in one process are a fair test: each hash map there iterates in an
//! order of its own.

use super::*;

/// Takes the pending actions into `log` and returns them.
fn take(h: &mut Harness, log: &mut Vec<Action>) -> Vec<Action> {
    let actions = std::mem::take(&mut h.actions);
    log.extend(actions.iter().cloned());
    actions
}

fn offers_in(actions: &[Action], conn: ConnId) -> Vec<v1::Offer> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::ToFramework { conn: c, event } if *c == conn => event.offers.clone(),
            _ => None,
        })
        .flat_map(|o| o.offers)
        .collect()
}

/// Registers agents on streams 1 to 3 (with 2, 3 and 4 cpus), keeping
/// what the master answers; returns their IDs by stream.
fn agents(h: &mut Harness) -> Vec<(LinkId, String)> {
    (1..=3)
        .map(|link| {
            let resources = format!("cpus:{};mem:2048", link + 1);
            let register = mock::agent().with_resources(&resources).build();
            let message = AgentMessage {
                kind: Some(agent_message::Kind::Register(register)),
            };
            let actions = h.master.agent_message(h.now, link, message);
            h.actions.extend(actions);
            (link, h.master.links[&link].clone())
        })
        .collect()
}

/// A scripted run: three agents, two frameworks, offers accepted and
/// declined, updates, reconciliation, heartbeats and pings, agents lost,
/// a teardown. Returns every action in order and the stream IDs.
fn script(seed: u64) -> (Vec<Action>, Vec<String>) {
    let mut h = Harness::seeded(seed);
    let mut log = Vec::new();
    let agents = agents(&mut h);
    let link_of = |agent: &str| {
        agents
            .iter()
            .find(|(_, id)| id == agent)
            .map(|(link, _)| *link)
            .expect("a registered agent")
    };
    let a = h.subscribe(10, mock::framework().named("a").partition_aware().build());
    let b = h.subscribe(11, mock::framework().named("b").build());
    take(&mut h, &mut log);

    let mut launched = 0;
    for _ in 0..6 {
        h.advance(Duration::from_secs(1));
        let actions = take(&mut h, &mut log);
        let mut mine = offers_in(&actions, 10);
        if let Some(offer) = (launched < 3).then(|| mine.pop()).flatten() {
            let agent = offer.agent_id.value.clone();
            let tasks = vec![
                mock::task(&format!("a{launched}")).on(&agent).build(),
                mock::task(&format!("b{launched}")).on(&agent).build(),
            ];
            h.launch(&a, &offer, tasks);
            for task_id in [format!("a{launched}"), format!("b{launched}")] {
                h.status(link_of(&agent), &a.0, &task_id, TaskState::TaskRunning);
            }
            launched += 1;
        }
        h.call(&a, mock::decline(&mine, Some(3.0))).unwrap();
        let theirs = offers_in(&actions, 11);
        h.call(&b, mock::decline(&theirs, Some(1.0))).unwrap();
        take(&mut h, &mut log);
    }
    h.call(&a, mock::reconcile(&[])).unwrap();
    // Heartbeats and pings; then every agent goes silent and is lost.
    h.advance(Duration::from_secs(16));
    h.master.agent_disconnected(h.now, 2);
    h.advance(Duration::from_secs(80));
    h.call(&a, mock::reconcile(&[])).unwrap();
    h.call(&b, mock::bare(call::Type::Teardown)).unwrap();
    h.advance(Duration::from_secs(1));
    take(&mut h, &mut log);
    (log, vec![a.1, b.1])
}

#[test]
fn the_same_seed_gives_the_same_actions() {
    let (first, streams) = script(42);
    for _ in 0..2 {
        let (again, same_streams) = script(42);
        assert_eq!(same_streams, streams);
        assert_eq!(again.len(), first.len());
        for (i, (x, y)) in first.iter().zip(&again).enumerate() {
            assert_eq!(x, y, "action {i} differs");
        }
    }
    // The run did what it says.
    let count = |f: &dyn Fn(&Event) -> bool| {
        first
            .iter()
            .filter(|a| matches!(a, Action::ToFramework { event, .. } if f(event)))
            .count()
    };
    assert!(count(&|e| e.offers.is_some()) >= 6, "offers");
    assert!(count(&|e| e.update.is_some()) >= 6, "updates");
    assert!(count(&|e| e.rescind.is_some()) >= 1, "rescinds");
    assert!(count(&|e| e.failure.is_some()) >= 3, "agents lost");
    assert!(count(&|e| e.r#type == Some(event::Type::Heartbeat as i32)) >= 1);
    let pings = first
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::ToAgent {
                    message: MasterMessage {
                        kind: Some(master_message::Kind::Ping(_))
                    },
                    ..
                }
            )
        })
        .count();
    assert!(pings >= 2, "pings");
}

#[test]
fn another_seed_gives_other_stream_ids() {
    let (_, first) = script(42);
    let (_, other) = script(43);
    for (x, y) in first.iter().zip(&other) {
        assert_ne!(x, y);
    }
}

#[test]
fn the_seed_reaches_the_allocator() {
    // Who is offered which agent, in which order, in the first cycle.
    let first_cycle = |seed: u64| {
        let mut h = Harness::seeded(seed);
        agents(&mut h);
        h.subscribe(10, mock::framework().named("a").build());
        h.subscribe(11, mock::framework().named("b").build());
        h.advance(Duration::from_secs(1));
        let ids = |offers: Vec<v1::Offer>| -> Vec<String> {
            offers.into_iter().map(|o| o.agent_id.value).collect()
        };
        (ids(h.offers(10)), ids(h.offers(11)))
    };
    assert_eq!(first_cycle(5), first_cycle(5));
    let mut seen: Vec<_> = (0..16).map(first_cycle).collect();
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 1, "every seed offered alike: {seen:?}");
}
