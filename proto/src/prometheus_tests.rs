//! Tests of the exposition writer: names, kinds, escaping, numbers.
use super::*;
use serde_json::json;

fn name(key: &str) -> String {
    metric_name(key, kind_of(key)).0
}

#[test]
fn mesos_keys_map_to_lint_clean_names() {
    for (key, expected) in [
        ("master/tasks_running", "mesos_master_tasks_running"),
        ("master/tasks_finished", "mesos_master_tasks_finished_total"),
        (
            "master/messages_launch_tasks",
            "mesos_master_messages_launch_tasks_total",
        ),
        (
            "allocator/mesos/allocation_runs",
            "mesos_allocator_mesos_allocation_runs_total",
        ),
        ("master/cpus_total", "mesos_master_cpus_capacity"),
        ("slave/cpus_total", "mesos_slave_cpus_capacity"),
        ("slave/mem_used", "mesos_slave_mem_used"),
        ("system/mem_total_bytes", "mesos_system_mem_total_bytes"),
        ("system/load_1min", "mesos_system_load_1min"),
        ("master/uptime_secs", "mesos_master_uptime_seconds"),
        ("slave/recovery_errors", "mesos_slave_recovery_errors_total"),
        (
            "master/slave_unreachable_completed",
            "mesos_master_slave_unreachable_completed_total",
        ),
        (
            "containerizer/mesos/network/ports/violations",
            "mesos_containerizer_mesos_network_ports_violations_total",
        ),
        (
            "containerizer/docker/image_pull_ms",
            "mesos_containerizer_docker_image_pull_seconds",
        ),
        (
            "containerizer/docker/image_pull_ms/count",
            "mesos_containerizer_docker_image_pull_count_total",
        ),
        ("a/timer_ms/p99", "mesos_a_timer_p99_seconds"),
        // Anything else outside [a-z0-9_] is one `_`; case is folded.
        ("slave(1)/Odd-Name//x", "mesos_slave_1_odd_name_x"),
        ("/x/", "mesos_x"),
    ] {
        assert_eq!(name(key), expected, "{key}");
        assert!(valid_name(&name(key)), "{key}");
    }
}

#[test]
fn milliseconds_are_divided_into_seconds() {
    assert_eq!(metric_name("x/pull_ms", Kind::Gauge).1, 1000.0);
    assert_eq!(metric_name("x/pull_ms/count", Kind::Counter).1, 1.0);
    assert_eq!(metric_name("x/uptime_secs", Kind::Gauge).1, 1.0);
    let mut out = Exposition::new();
    out.snapshot(&json!({"x/pull_ms": 1500}));
    assert!(out.into_text().ends_with("\nmesos_x_pull_seconds 1.5\n"));
}

#[test]
fn counters_are_the_ever_growing_figures() {
    for key in [
        "master/messages_kill_task",
        "master/tasks_lost",
        "slave/tasks_gone",
        "master/valid_status_updates",
        "master/invalid_calls",
        "allocator/mesos/allocation_runs",
        "slave/executors_terminated",
    ] {
        assert_eq!(kind_of(key), Kind::Counter, "{key}");
    }
    for key in [
        "master/tasks_running",
        "master/tasks_unreachable",
        "master/cpus_total",
        "master/outstanding_offers",
        "master/elected",
        "slave/status_updates_pending",
        "slave/executors_running",
    ] {
        assert_eq!(kind_of(key), Kind::Gauge, "{key}");
    }
}

#[test]
fn label_values_and_help_are_escaped() {
    assert_eq!(escape_label_value(r"a\b"), r"a\\b");
    assert_eq!(escape_label_value("say \"hi\""), r#"say \"hi\""#);
    assert_eq!(escape_label_value("two\nlines"), r"two\nlines");
    assert_eq!(escape_label_value("*"), "*");
    assert_eq!(escape_label_value("ünï {cødé}"), "ünï {cødé}");
    assert_eq!(escape_help("a \"b\" \\ c\nd"), r#"a "b" \\ c\nd"#);
}

#[test]
fn families_are_written_once_with_help_type_and_labels() {
    let mut out = Exposition::new();
    let samples = [
        Sample::new(0.5)
            .label("role", "*")
            .label("resource", "cpus"),
        Sample::new(64.0)
            .label("role", "a\"b\\\n")
            .label("resource", "mem"),
    ];
    assert!(out.family("x_allocated", Kind::Gauge, "Held\nnow", &samples));
    assert!(!out.family("x_allocated", Kind::Gauge, "again", &samples));
    assert!(!out.family("x_empty", Kind::Counter, "nothing", &[]));
    assert!(out.family("x_runs_total", Kind::Counter, "Runs", &[Sample::new(3.0)]));
    assert_eq!(
        out.into_text(),
        "# HELP x_allocated Held\\nnow\n\
         # TYPE x_allocated gauge\n\
         x_allocated{role=\"*\",resource=\"cpus\"} 0.5\n\
         x_allocated{role=\"a\\\"b\\\\\\n\",resource=\"mem\"} 64\n\
         # HELP x_runs_total Runs\n\
         # TYPE x_runs_total counter\n\
         x_runs_total 3\n"
    );
}

#[test]
fn values_use_the_formats_spelling() {
    assert_eq!(number(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(number(-0.0), "-0");
    assert_eq!(number(1e21), "1000000000000000000000");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(number(f64::NEG_INFINITY), "-Inf");
}

#[test]
fn a_snapshot_becomes_one_family_per_figure() {
    let mut out = Exposition::new();
    out.snapshot(&json!({
        "master/tasks_running": 1.0,
        "master/tasks_finished": 2,
        "master/cpus_total": 4.0,
        "not/a_number": "x",
    }));
    let text = out.into_text();
    assert!(text.contains(
        "# HELP mesos_master_tasks_running Tasks in TASK_RUNNING now (Mesos master/tasks_running)\n\
         # TYPE mesos_master_tasks_running gauge\n\
         mesos_master_tasks_running 1\n"
    ));
    assert!(text.contains(
        "# TYPE mesos_master_tasks_finished_total counter\n\
         mesos_master_tasks_finished_total 2\n"
    ));
    assert!(text.contains(
        "# HELP mesos_master_cpus_capacity CPUs of the registered agents (Mesos master/cpus_total)\n"
    ));
    assert!(!text.contains("not_a_number"));
    assert!(Exposition::new().into_text().is_empty());
    let mut out = Exposition::new();
    out.snapshot(&json!([1, 2]));
    assert!(out.into_text().is_empty());
}

#[test]
fn help_says_what_a_figure_is_and_its_mesos_key() {
    assert_eq!(help_of("odd"), "Mesos metric odd");
    assert_eq!(help_of("master/odd"), "Mesos metric master/odd");
    assert_eq!(
        help_of("slave/cpus_used"),
        "CPUs of this agent used by tasks (Mesos slave/cpus_used)"
    );
    assert_eq!(
        help_of("master/mem_total"),
        "Memory of the registered agents, in MB (Mesos master/mem_total)"
    );
    assert_eq!(
        help_of("master/tasks_killed"),
        "Tasks that ended in TASK_KILLED (Mesos master/tasks_killed)"
    );
}

#[test]
fn tasks_are_counted_by_state_with_the_usual_ones_at_zero() {
    let counts = tasks_by_state(
        [
            TaskState::TaskRunning as i32,
            TaskState::TaskRunning as i32,
            TaskState::TaskFinished as i32,
            999,
        ],
        &[TaskState::TaskStaging, TaskState::TaskRunning],
    );
    let expected: BTreeMap<&str, usize> = [
        ("TASK_STAGING", 0),
        ("TASK_RUNNING", 2),
        ("TASK_FINISHED", 1),
        ("TASK_UNKNOWN", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);
}
