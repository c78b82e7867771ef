//! Docker containers across an agent crash: running ones are taken back
//! (their output still reaches the sandbox), those that ended meanwhile
//! are reported with the engine's verdict, and `mesos-` containers nobody
//! owns are removed.

use meseta_proto::v1::TaskState;

use super::*;
use crate::agent_restart::checkpointing;
use crate::isolation::{assert_status, launch, sandbox_file, task_sandbox};

#[test]
fn a_restarted_agent_keeps_its_running_container_and_reports_the_ended_one() {
    let Some((mut tc, env)) = docker_cluster("cpus:2;mem:512", &[]) else {
        return;
    };
    let mut fw = TestFramework::start(&tc.master(), checkpointing("docker-restart"));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let image = meseta::docker_env::TEST_IMAGE;
    let wait_for_go = "echo before; while [ ! -f $MESOS_SANDBOX/go ]; do sleep 0.05; done";
    launch(
        &fw,
        &offer,
        vec![
            docker_task(
                "keeps",
                &offer,
                &format!("{wait_for_go}; echo after"),
                "cpus:0.1;mem:32",
                docker_info(image),
            ),
            docker_task(
                "ends",
                &offer,
                &format!("{wait_for_go}; exit 3"),
                "cpus:0.1;mem:32",
                docker_info(image),
            ),
        ],
    );
    let keeps = container_name(&fw.state("keeps", TaskState::TaskRunning));
    let ends = container_name(&fw.state("ends", TaskState::TaskRunning));
    wait_until(DEADLINE, "the first lines in the sandboxes", || {
        sandbox_file(&tc, "keeps", "stdout").contains("before")
            && sandbox_file(&tc, "ends", "stdout").contains("before")
    });
    let keeps_sandbox = task_sandbox(&tc, "keeps");
    let ends_sandbox = task_sandbox(&tc, "ends");

    tc.cluster.kill_agent(0);
    std::fs::write(ends_sandbox.join("go"), "").expect("go");
    wait_until(
        DEADLINE,
        "the second container to end while the agent is away",
        || !is_running(env, &ends),
    );
    tc.cluster.restart_agent(0).expect("the agent restarts");
    wait_for_active_agent(&tc, Some(&agent_id));

    assert_status(
        &fw.terminal("ends"),
        TaskState::TaskFailed,
        None,
        &["exited with status 3"],
    );
    assert!(
        is_running(env, &keeps),
        "the running container was taken back, not killed"
    );
    std::fs::write(keeps_sandbox.join("go"), "").expect("go");
    assert_status(&fw.terminal("keeps"), TaskState::TaskFinished, None, &[]);
    let stdout = std::fs::read_to_string(keeps_sandbox.join("stdout")).unwrap_or_default();
    assert_eq!(
        stdout.matches("before").count(),
        1,
        "nothing written twice: {stdout}"
    );
    assert!(
        stdout.contains("after"),
        "output after the restart reaches the sandbox: {stdout}"
    );
}

#[test]
fn orphans_are_removed_and_other_agents_containers_kept() {
    let Some(env) = crate::docker_env::docker() else {
        return;
    };
    let orphan = format!("mesos-{}", uuid::Uuid::new_v4());
    let others = format!("mesos-{}", uuid::Uuid::new_v4());
    let image = meseta::docker_env::TEST_IMAGE;
    env.run(&["run", "-d", "--name", &orphan, image, "sleep", "600"])
        .expect("an orphan");
    env.run(&[
        "run",
        "-d",
        "--name",
        &others,
        "--label",
        "meseta.work_dir=/another/agent",
        image,
        "sleep",
        "600",
    ])
    .expect("another agent's container");
    let Some((_tc, env)) = docker_cluster("cpus:1;mem:256", &[]) else {
        return;
    };
    wait_until(DEADLINE, "the orphan to be removed", || {
        inspect(env, &orphan).is_none()
    });
    assert!(
        is_running(env, &others),
        "another agent's container is left alone"
    );
    let _ = env.run(&["rm", "-f", &others]);
}
