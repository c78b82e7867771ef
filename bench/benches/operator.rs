//! The operator API's side of a big cluster, in the master state machine
//! alone (no sockets): 10,000 simulated agents, 10 frameworks and 100,000
//! running tasks. Prints what one GET_STATE (and so one SUBSCRIBED) costs
//! to build and to encode in JSON and protobuf, and what watching costs
//! the master: 10,000 status updates handled with and without an operator
//! subscribed (the events are built only while someone watches), side by
//! side; and what the legacy `/master/state` costs the loop (a snapshot)
//! against rendering it (outside the loop).
//!
//! Run: `cargo bench -p meseta-bench --bench operator`
//! (`MESETA_BENCH_AGENTS`, `MESETA_BENCH_TASKS` to change the sizes).

use std::time::{Duration, Instant};

use meseta_allocator::AllocatorConfig;
use meseta_master::config::Settings;
use meseta_master::state::operator::views;
use meseta_master::state::snapshot::Snapshot;
use meseta_master::state::{Action, Ids, Master};
use meseta_proto::cluster::{agent_message, AgentMessage, Register, StatusUpdate};
use meseta_proto::scheduler::{call, Call};
use meseta_proto::{json, v1, Message};

const T0: Duration = Duration::from_secs(1_700_000_000);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let agents = env_number("MESETA_BENCH_AGENTS", 10_000);
    let tasks = env_number("MESETA_BENCH_TASKS", 100_000);
    let frameworks = 10u64;
    let mut master = Master::new(
        Settings::default(),
        v1::MasterInfo {
            id: "bench".into(),
            port: 5050,
            ..Default::default()
        },
        AllocatorConfig::default(),
        Ids::seeded(7),
        T0,
    );
    let began = Instant::now();
    let resources = meseta_proto::resources::parse_resources("cpus:64;mem:262144;disk:100000")
        .unwrap_or_default();
    for link in 0..agents {
        let register = Register {
            info: v1::AgentInfo {
                hostname: format!("sim-{link}"),
                resources: resources.clone(),
                ..Default::default()
            },
            http_address: Some(format!(
                "10.{}.{}.{}:5051",
                link / 65536,
                link / 256 % 256,
                link % 256
            )),
            ..Default::default()
        };
        let message = AgentMessage {
            kind: Some(agent_message::Kind::Register(register)),
        };
        master.agent_message(T0, link, message);
    }
    let mut streams = Vec::new();
    for conn in 0..frameworks {
        let call = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: v1::FrameworkInfo {
                    user: "bench".into(),
                    name: format!("fw-{conn}"),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        let subscribed = master.subscribe(T0, call, conn).expect("subscribe");
        streams.push((subscribed.framework_id, subscribed.stream_id));
    }
    // Launch the tasks: every offer takes as many as fit until all are out.
    let mut launched: Vec<(String, String, u64)> = Vec::new();
    let mut now = T0;
    while (launched.len() as u64) < tasks {
        now += Duration::from_secs(1);
        let actions = master.tick(now);
        let mut progressed = false;
        for action in actions {
            let Action::ToFramework { conn, event } = action else {
                continue;
            };
            let Some(offers) = event.offers else { continue };
            let (framework_id, stream_id) = &streams[conn as usize];
            for offer in offers.offers {
                let mut infos = Vec::new();
                while infos.len() < 10 && (launched.len() as u64) < tasks {
                    let id = format!("t{}", launched.len());
                    let link = offer
                        .agent_id
                        .value
                        .rsplit('S')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    launched.push((framework_id.clone(), id.clone(), link));
                    infos.push(v1::TaskInfo {
                        name: id.clone(),
                        task_id: v1::TaskId { value: id },
                        agent_id: offer.agent_id.clone(),
                        resources: meseta_proto::resources::parse_resources("cpus:0.1;mem:32")
                            .unwrap_or_default(),
                        command: Some(v1::CommandInfo {
                            value: Some("true".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
                let operation = v1::offer::Operation {
                    r#type: Some(v1::offer::operation::Type::Launch as i32),
                    launch: Some(v1::offer::operation::Launch { task_infos: infos }),
                    ..Default::default()
                };
                let accept = Call {
                    framework_id: Some(v1::FrameworkId {
                        value: framework_id.clone(),
                    }),
                    r#type: Some(call::Type::Accept as i32),
                    accept: Some(call::Accept {
                        offer_ids: vec![offer.id.clone()],
                        operations: vec![operation],
                        filters: None,
                    }),
                    ..Default::default()
                };
                if master.scheduler_call(now, accept, stream_id).is_ok() {
                    progressed = true;
                }
            }
        }
        assert!(
            progressed || (launched.len() as u64) >= tasks,
            "no offer could be used"
        );
    }
    let update = |master: &mut Master,
                  (framework_id, task_id, link): &(String, String, u64),
                  state: v1::TaskState| {
        let message = AgentMessage {
            kind: Some(agent_message::Kind::StatusUpdate(StatusUpdate {
                framework_id: v1::FrameworkId {
                    value: framework_id.clone(),
                },
                status: v1::TaskStatus {
                    task_id: v1::TaskId {
                        value: task_id.clone(),
                    },
                    state: state as i32,
                    timestamp: Some(1.0),
                    ..Default::default()
                },
                latest_state: Some(state as i32),
            })),
        };
        master.agent_message(T0, *link, message)
    };
    for task in &launched {
        update(&mut master, task, v1::TaskState::TaskRunning);
    }
    println!(
        "operator API, master state machine, no sockets: {agents} agents, {frameworks} frameworks, {} running tasks (set up in {:.1} s)",
        launched.len(),
        began.elapsed().as_secs_f64()
    );

    // GET_STATE / SUBSCRIBED.
    let rounds = 5;
    let (mut snap_in_loop, mut build) = (Duration::ZERO, Duration::ZERO);
    let mut to_json = Duration::ZERO;
    let mut to_protobuf = Duration::ZERO;
    let (mut json_bytes, mut protobuf_bytes) = (0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut snapshot = Snapshot::take(&master);
        snap_in_loop += t.elapsed();
        let t = Instant::now();
        snapshot.sort();
        let state = views::state(&snapshot);
        build += t.elapsed();
        let t = Instant::now();
        json_bytes = json::to_vec(&state).len();
        to_json += t.elapsed();
        let t = Instant::now();
        protobuf_bytes = state.encode_to_vec().len();
        to_protobuf += t.elapsed();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / f64::from(rounds);
    println!("GET_STATE (the SUBSCRIBED event), mean of {rounds}:");
    println!("  snapshot in the loop  {:>8.1} ms", ms(snap_in_loop));
    println!("  build outside it      {:>8.1} ms", ms(build));
    println!(
        "  JSON                  {:>8.1} ms  {:>7.1} MB",
        ms(to_json),
        json_bytes as f64 / 1e6
    );
    println!(
        "  proto                 {:>8.1} ms  {:>7.1} MB",
        ms(to_protobuf),
        protobuf_bytes as f64 / 1e6
    );

    // The legacy /master/state: what the loop pays (the snapshot) and what
    // the blocking thread does after (JSON built and written), side by side.
    let (mut snap, mut render) = (Duration::ZERO, Duration::ZERO);
    let mut state_bytes = 0;
    let info = v1::MasterInfo {
        id: "bench".into(),
        port: 5050,
        ..Default::default()
    };
    for _ in 0..rounds {
        let t = Instant::now();
        let snapshot = Snapshot::take(&master);
        snap += t.elapsed();
        let t = Instant::now();
        state_bytes = meseta_master::http::render_state(snapshot, &info).len();
        render += t.elapsed();
    }
    println!("/master/state, mean of {rounds}:");
    println!("  snapshot in the loop  {:>8.1} ms", ms(snap));
    println!(
        "  render outside it     {:>8.1} ms  {:>7.1} MB  (the loop's share: 1/{:.0})",
        ms(render),
        state_bytes as f64 / 1e6,
        (snap + render).as_secs_f64() / snap.as_secs_f64()
    );

    // Watching: the same burst of updates (RUNNING again, so that the state
    // does not change between the runs), alternated, with and without.
    let burst = launched.len().min(10_000);
    let mut timings = [Duration::ZERO; 2];
    let mut events = 0usize;
    for round in 0..6 {
        let observed = round % 2 == 1;
        master.set_observed(observed);
        let t = Instant::now();
        for task in &launched[..burst] {
            let actions = update(&mut master, task, v1::TaskState::TaskRunning);
            if observed {
                events += actions
                    .iter()
                    .filter(|a| matches!(a, Action::ToOperators(_)))
                    .count();
            }
        }
        timings[usize::from(observed)] += t.elapsed();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (3 * burst) as f64;
    println!("{burst} status updates, 3 runs each, alternated:");
    println!("  unobserved {:>6.2} us per update", per(timings[0]));
    println!(
        "  observed   {:>6.2} us per update ({} TASK_UPDATED events); ratio {:.2}",
        per(timings[1]),
        events / 3,
        timings[1].as_secs_f64() / timings[0].as_secs_f64()
    );
}
