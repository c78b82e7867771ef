//! `--filter_gpu_resources`: agents with GPUs go only to frameworks with
//! the `GPU_RESOURCES` capability, whole (their GPUs are not stripped), and
//! not at all to the others, unless the filter is off.

use std::time::Duration;

use meseta_allocator::testkit::{res, Cluster};
use meseta_allocator::AllocatorConfig;
use meseta_allocator::Capabilities;

const GPU_AGENT: &str = "cpus:4;mem:1024;gpus:2";

/// Which framework each agent went to.
fn receivers(c: &mut Cluster) -> Vec<(String, String)> {
    let mut offers: Vec<(String, String)> = c
        .cycle()
        .into_iter()
        .map(|o| (o.agent_id, o.framework_id))
        .collect();
    offers.sort();
    offers
}

#[test]
fn gpus_agent_is_not_offered_to_a_framework_without_the_capability() {
    let mut c = Cluster::new();
    c.agent("gpu", GPU_AGENT)
        .agent("plain", "cpus:4;mem:1024")
        .framework("legacy", "*");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].agent_id, "plain");
    assert_eq!(c.allocator.free("gpu"), Some(res(GPU_AGENT)));
    // Not later either, however often it asks.
    c.decline(&offers, None);
    c.advance(Duration::from_secs(10));
    assert_eq!(
        receivers(&mut c),
        vec![("plain".to_string(), "legacy".to_string())]
    );

    // Declaring the capability opens it, GPUs and all.
    c.allocator.set_capabilities("legacy", gpus(true));
    let offers = c.cycle();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].agent_id, "gpu");
    assert_eq!(offers[0].resources, res(GPU_AGENT));
}

#[test]
fn gpus_agent_passes_over_incapable_frameworks_to_a_capable_one() {
    let mut c = Cluster::new();
    // "legacy" comes first in DRF order (same share, lower slot).
    c.agent("gpu", GPU_AGENT)
        .framework("legacy", "*")
        .framework("ml", "*");
    c.allocator.set_capabilities("ml", gpus(true));
    assert_eq!(
        receivers(&mut c),
        vec![("gpu".to_string(), "ml".to_string())]
    );
    // An agent without GPUs still goes by DRF order alone.
    c.agent("plain", "cpus:4;mem:1024");
    assert_eq!(
        receivers(&mut c),
        vec![("plain".to_string(), "legacy".to_string())]
    );
    // No gpus, or gpus:0, is not a GPU agent.
    c.agent("zero", "cpus:4;mem:1024;gpus:0");
    assert_eq!(receivers(&mut c).len(), 1);
}

#[test]
fn gpus_go_to_everyone_with_the_filter_off() {
    let mut c = Cluster::with_config(AllocatorConfig {
        seed: Some(1),
        filter_gpu_resources: false,
        ..AllocatorConfig::default()
    });
    c.agent("gpu", GPU_AGENT).framework("legacy", "*");
    let offers = c.cycle();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].framework_id, "legacy");
    assert_eq!(offers[0].resources, res(GPU_AGENT));
}

#[test]
fn gpus_filter_is_on_by_default_and_the_capability_can_be_dropped() {
    assert!(AllocatorConfig::default().filter_gpu_resources);
    let mut c = Cluster::new();
    c.agent("gpu", GPU_AGENT).framework("f", "*");
    c.allocator.set_capabilities("f", gpus(true));
    let offers = c.cycle();
    assert_eq!(offers.len(), 1);
    c.decline(&offers, None);
    c.allocator.set_capabilities("f", gpus(false));
    assert!(c.cycle().is_empty());
    // Unknown frameworks are ignored.
    c.allocator.set_capabilities("nobody", gpus(true));
}

fn gpus(gpu_resources: bool) -> Capabilities {
    Capabilities {
        gpu_resources,
        ..Capabilities::default()
    }
}
