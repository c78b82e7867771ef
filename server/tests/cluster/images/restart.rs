//! A container from an image survives an agent restart with its root
//! filesystem; root filesystems of containers that did not come back are
//! removed.

use meseta::docker_env::TEST_IMAGE;
use meseta_proto::v1::TaskState;

use super::*;
use crate::agent_restart::checkpointing;
use crate::isolation::{container_path, launch, sandbox_file, task_sandbox};

#[test]
fn a_container_keeps_its_root_across_an_agent_restart_and_orphans_lose_theirs() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let mut tc = image_agent(
        "cpus:2;mem:512",
        &format!("http://{}", env.registry),
        store.path(),
    );
    let mut fw = TestFramework::start(&tc.master(), checkpointing("image-restart"));
    let offer = fw.offers().remove(0);
    let agent_id = offer.agent_id.value.clone();
    let command = "while [ ! -f $MESOS_SANDBOX/go ]; do sleep 0.05; done; cat /etc/passwd > $MESOS_SANDBOX/passwd";
    launch(
        &fw,
        &offer,
        vec![image_task("waits", &offer, command, TEST_IMAGE)],
    );
    let running = fw.state("waits", TaskState::TaskRunning);
    let containers = tc.cluster.agents[0].work_dir.join("provisioner/containers");
    let own = containers.join(container_path(&running));
    assert!(
        own.join("rootfs/bin/busybox").exists(),
        "{} is the task's root",
        own.display()
    );
    let sandbox = task_sandbox(&tc, "waits");

    tc.cluster.kill_agent(0);
    let orphan = containers.join("orphan-of-a-crash");
    std::fs::create_dir_all(orphan.join("rootfs/etc")).expect("orphan");
    tc.cluster.restart_agent(0).expect("the agent restarts");
    wait_for_active_agent(&tc, Some(&agent_id));
    wait_until(DEADLINE, "the orphan's root filesystem to go", || {
        !orphan.exists()
    });
    assert!(
        own.join("rootfs/bin/busybox").exists(),
        "the running container keeps its root"
    );

    std::fs::write(sandbox.join("go"), "").expect("go");
    let status = fw.terminal("waits");
    assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    assert!(
        sandbox_file(&tc, "waits", "passwd").contains("nobody:x:65534"),
        "the image's /etc/passwd"
    );
    wait_until(
        DEADLINE,
        "the ended container's root filesystem to go",
        || !own.exists(),
    );
}
