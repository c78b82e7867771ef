//! The master state machine alone, no sockets: 50,000 simulated agents
//! register, 100 frameworks subscribe, and every offer is declined with a
//! long filter. Prints the time of one full tick (allocation cycle,
//! offers built, pings) and the memory the whole cluster state takes.
//!
//! Run: `cargo bench -p meseta-bench --bench master`.

use std::time::{Duration, Instant};

use meseta_allocator::AllocatorConfig;
use meseta_master::config::Settings;
use meseta_master::state::{Action, Ids, Master};
use meseta_proto::cluster::{agent_message, AgentMessage, Register};
use meseta_proto::scheduler::{call, Call};
use meseta_proto::v1;

const T0: Duration = Duration::from_secs(1_700_000_000);

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    println!("master state machine, no sockets: agents register, frameworks decline every offer (1 h filter)");
    println!(
        "{:>8} {:>10} {:>12} {:>14} {:>12} {:>10}",
        "agents", "frameworks", "register s", "tick ms (mean)", "offers/tick", "RSS MB"
    );
    for (agents, frameworks) in [(10_000u64, 100u64), (50_000, 100)] {
        run(agents, frameworks);
    }
}

fn run(agents: u64, frameworks: u64) {
    let before = rss_mb();
    let info = v1::MasterInfo {
        id: "bench".into(),
        ip: 0,
        port: 5050,
        ..Default::default()
    };
    let mut master = Master::new(
        Settings::default(),
        info,
        AllocatorConfig::default(),
        Ids::random(),
        T0,
    );
    let resources = meseta_proto::resources::parse_resources(
        "cpus:24;mem:65536;disk:100000;ports:[31000-32000]",
    )
    .unwrap_or_default();
    let started = Instant::now();
    for link in 0..agents {
        let message = AgentMessage {
            kind: Some(agent_message::Kind::Register(Register {
                info: v1::AgentInfo {
                    hostname: format!("sim-{link}"),
                    resources: resources.clone(),
                    ..Default::default()
                },
                http_address: Some(format!("10.0.{}.{}:5051", link / 256, link % 256)),
                ..Default::default()
            })),
        };
        master.agent_message(T0, link, message);
    }
    let register_secs = started.elapsed().as_secs_f64();
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
    let cycles = 5;
    let mut total = Duration::ZERO;
    let mut offers_total = 0usize;
    let mut now = T0;
    for _ in 0..cycles {
        now += Duration::from_secs(1);
        let begin = Instant::now();
        let actions = master.tick(now);
        total += begin.elapsed();
        for action in actions {
            let Action::ToFramework { conn, event } = action else {
                continue;
            };
            let Some(offers) = event.offers else { continue };
            offers_total += offers.offers.len();
            let (framework_id, stream_id) = &streams[conn as usize];
            let decline = Call {
                framework_id: Some(v1::FrameworkId {
                    value: framework_id.clone(),
                }),
                r#type: Some(call::Type::Decline as i32),
                decline: Some(call::Decline {
                    offer_ids: offers.offers.iter().map(|o| o.id.clone()).collect(),
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(3600.0),
                    }),
                }),
                ..Default::default()
            };
            let _ = master.scheduler_call(now, decline, stream_id);
        }
    }
    println!(
        "{:>8} {:>10} {:>12.2} {:>14.1} {:>12} {:>10.0}",
        agents,
        frameworks,
        register_secs,
        total.as_secs_f64() * 1000.0 / cycles as f64,
        offers_total / cycles,
        rss_mb() - before
    );
}
