//! Per launch, in process: the containerizers alone (see the bench's docs).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use meseta_agent::containerizer::isolators::{parse_isolation, IsolationConfig, DEFAULT_ISOLATION};
use meseta_agent::containerizer::{
    Containerizer, LaunchRequest, LinuxContainerizer, ProcessContainerizer,
};
use meseta_proto::resources::{parse_resources, scalar};
use meseta_proto::v1;

use crate::{percentile, AGENT_RESOURCES, TASK_CPUS, TASK_MEM};

struct Row {
    name: &'static str,
    what: &'static str,
    containerizer: Arc<dyn Containerizer>,
    checkpoint: bool,
    /// Milliseconds: until `launch` returned (the container runs), and
    /// until `wait` returned (it ended and was cleaned up).
    launch: Vec<f64>,
    whole: Vec<f64>,
    failed: usize,
}

pub(crate) fn per_launch(work: &Path, launches: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let root = work.join("per-launch");
    let mut rows = vec![
        Row {
            name: "plain",
            what: "ProcessContainerizer, checkpoint_dir None: the command spawned directly",
            containerizer: Arc::new(ProcessContainerizer::new()),
            checkpoint: false,
            launch: Vec::new(),
            whole: Vec::new(),
            failed: 0,
        },
        Row {
            name: "supervised",
            what: "ProcessContainerizer, checkpoint_dir Some: a forked supervisor records the exit",
            containerizer: Arc::new(ProcessContainerizer::new()),
            checkpoint: true,
            launch: Vec::new(),
            whole: Vec::new(),
            failed: 0,
        },
    ];
    let cgroups_root = format!("meseta-bench-{}", std::process::id());
    match isolated(&cgroups_root) {
        Ok(linux) => rows.push(Row {
            name: "isolated",
            what: "LinuxContainerizer, default isolation, checkpoint_dir Some (supervisor + init)",
            containerizer: Arc::new(linux),
            checkpoint: true,
            launch: Vec::new(),
            whole: Vec::new(),
            failed: 0,
        }),
        Err(reason) => println!("per launch: the isolated row is skipped: {reason}"),
    }
    let resources = vec![scalar("cpus", TASK_CPUS), scalar("mem", TASK_MEM)];
    let command = v1::CommandInfo {
        value: Some("true".into()),
        ..Default::default()
    };
    runtime.block_on(async {
        let kinds = rows.len();
        for number in 0..launches {
            for turn in 0..kinds {
                // Each launch in turn goes first, so no row always follows
                // the same one.
                let row = &mut rows[(number + turn) % kinds];
                let dir = root.join(row.name).join(number.to_string());
                let sandbox = dir.join("sandbox");
                std::fs::create_dir_all(&sandbox).expect("sandbox");
                let container_id = v1::ContainerId {
                    value: format!("{}-{number}", row.name),
                    parent: None,
                };
                let request = LaunchRequest {
                    container_id: container_id.clone(),
                    command: command.clone(),
                    environment: Vec::new(),
                    sandbox,
                    user: None,
                    resources: resources.clone(),
                    container: None,
                    checkpoint_dir: row.checkpoint.then(|| dir.join("meta")),
                };
                let start = Instant::now();
                if let Err(e) = row.containerizer.launch(request).await {
                    row.failed += 1;
                    if row.failed == 1 {
                        eprintln!("  {}: launch failed: {e}", row.name);
                    }
                    continue;
                }
                let launched = start.elapsed();
                let ended = row.containerizer.wait(&container_id).await;
                let whole = start.elapsed();
                match ended {
                    Ok(termination) if termination.succeeded() => {
                        row.launch.push(launched.as_secs_f64() * 1e3);
                        row.whole.push(whole.as_secs_f64() * 1e3);
                    }
                    other => {
                        row.failed += 1;
                        if row.failed == 1 {
                            eprintln!("  {}: `true` did not succeed: {other:?}", row.name);
                        }
                    }
                }
            }
        }
    });
    // The Linux containerizer removes its (empty) cgroup root when dropped.
    let summaries: Vec<(&str, &str, [f64; 4], usize, usize)> = rows
        .iter_mut()
        .map(|row| {
            row.launch.sort_by(f64::total_cmp);
            row.whole.sort_by(f64::total_cmp);
            (
                row.name,
                row.what,
                [
                    percentile(&row.launch, 50.0),
                    percentile(&row.launch, 99.0),
                    percentile(&row.whole, 50.0),
                    percentile(&row.whole, 99.0),
                ],
                row.launch.len(),
                row.failed,
            )
        })
        .collect();
    drop(rows);
    drop(runtime);

    println!(
        "per launch, in process: `true` (sh -c), each awaited to its end before the next, {launches} per row, rows interleaved"
    );
    for (name, what, ..) in &summaries {
        println!("  {name:<10} {what}");
    }
    println!(
        "{:<12} {:>11} {:>11} {:>13} {:>13} {:>6} {:>7}",
        "", "launch p50", "launch p99", "to end p50", "to end p99", "ok", "failed"
    );
    for (name, _, figures, ok, failed) in &summaries {
        println!(
            "{name:<12} {:>8.3} ms {:>8.3} ms {:>10.3} ms {:>10.3} ms {ok:>6} {failed:>7}",
            figures[0], figures[1], figures[2], figures[3]
        );
    }
    let find = |name: &str| summaries.iter().find(|s| s.0 == name).map(|s| s.2);
    let difference = |label: &str, a: &str, b: &str| {
        if let (Some(a), Some(b)) = (find(a), find(b)) {
            println!(
                "{label:<12} {:>+8.3} ms {:>+8.3} ms {:>+10.3} ms {:>+10.3} ms",
                a[0] - b[0],
                a[1] - b[1],
                a[2] - b[2],
                a[3] - b[3]
            );
        }
    };
    difference("supervisor", "supervised", "plain");
    difference("isolation", "isolated", "supervised");
    println!("  supervisor = supervised - plain (the per-launch supervisor fork); isolation = isolated - supervised");
    println!();
}

/// The agent's default isolation under a cgroup root of our own, or why
/// it cannot run here.
fn isolated(cgroups_root: &str) -> Result<LinuxContainerizer, String> {
    let isolation = parse_isolation(DEFAULT_ISOLATION)?;
    let config = IsolationConfig {
        cgroups_root: cgroups_root.to_string(),
        ..IsolationConfig::default()
    };
    let agent = parse_resources(&format!("{AGENT_RESOURCES};ports:[31000-32000]"))
        .map_err(|e| e.to_string())?;
    LinuxContainerizer::new(isolation, config, &agent).map_err(|e| e.to_string())
}
