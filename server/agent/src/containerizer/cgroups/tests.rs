//! The parsers and the v2 limit writer run anywhere (a directory laid out
//! like cgroupfs); freezing, killing and process tracking run against the
//! host's real hierarchies when this process may use them (root, writable
//! cgroups), and say so loudly when they cannot.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::discover::{dir_in_mount, parse_membership, parse_mountinfo, Mount};
use super::*;

const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 /inner /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:50 / /mnt/with\\040space rw - ext4 /dev/vda rw
";

#[test]
fn mountinfo_lists_cgroup_mounts_with_their_controllers() {
    let mounts = parse_mountinfo(MOUNTINFO, Path::new("/sys/fs/cgroup"));
    assert_eq!(mounts.len(), 5, "{mounts:?}");
    assert_eq!(mounts[0].controllers, vec!["cpu", "cpuacct"]);
    assert_eq!(
        mounts[0].mount_point,
        PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
    );
    assert_eq!(
        mounts[3].controllers,
        Vec::<String>::new(),
        "named hierarchies are no controller"
    );
    assert_eq!(mounts[4].version, Version::V2);
    assert_eq!(mounts[4].root, "/inner");
    assert!(parse_mountinfo(MOUNTINFO, Path::new("/elsewhere")).is_empty());
    let escaped = parse_mountinfo(&MOUNTINFO.replace("ext4", "cgroup2"), Path::new("/mnt"));
    assert_eq!(escaped[0].mount_point, PathBuf::from("/mnt/with space"));
}

#[test]
fn membership_maps_controllers_and_the_unified_cgroup() {
    let own = parse_membership("4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/inner/agent\n");
    assert_eq!(own["memory"], "/process_api/abc");
    assert_eq!(own["cpuacct"], "/");
    assert_eq!(own[""], "/inner/agent");
}

#[test]
fn a_cgroup_is_found_below_the_root_of_its_mount() {
    let mount = Mount {
        version: Version::V2,
        controllers: vec![],
        mount_point: "/sys/fs/cgroup/unified".into(),
        root: "/inner".into(),
    };
    assert_eq!(
        dir_in_mount(&mount, "/inner/agent"),
        PathBuf::from("/sys/fs/cgroup/unified/agent")
    );
    let at_root = Mount {
        root: "/".into(),
        ..mount
    };
    assert_eq!(
        dir_in_mount(&at_root, "/a/b"),
        PathBuf::from("/sys/fs/cgroup/unified/a/b")
    );
}

#[test]
fn v1_needs_every_controller_mounted_and_adds_cpuacct_and_freezer() {
    let mounts = parse_mountinfo(MOUNTINFO, Path::new("/sys/fs/cgroup"));
    let own = parse_membership("4:memory:/process_api/abc\n2:cpu,cpuacct:/\n6:freezer:/\n");
    let dirs = v1::locate(&mounts, &own, &[Controller::Cpu, Controller::Memory]).unwrap();
    assert_eq!(
        dirs[&Controller::Memory],
        PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")
    );
    assert_eq!(dirs[&Controller::Cpu], dirs[&Controller::Cpuacct]);
    assert!(dirs.contains_key(&Controller::Freezer));
    let missing = v1::locate(&mounts, &own, &[Controller::Pids]).unwrap_err();
    assert!(missing.contains("pids"), "{missing}");
}

#[test]
fn v2_refuses_devices_and_controllers_it_does_not_offer() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
    let mounts = vec![Mount {
        version: Version::V2,
        controllers: vec![],
        mount_point: root.path().into(),
        root: "/".into(),
    }];
    let own = parse_membership("0::/\n");
    assert!(v2::locate(&mounts, &own, &[Controller::Cpu, Controller::Memory]).is_ok());
    let pids = v2::locate(&mounts, &own, &[Controller::Pids]).unwrap_err();
    assert!(pids.contains("pids"), "{pids}");
    let devices = v2::locate(&mounts, &own, &[Controller::Devices]).unwrap_err();
    assert!(devices.contains("BPF"), "{devices}");
}

#[test]
fn v2_weights_follow_the_shares_mapping() {
    assert_eq!(v2::weight_of_shares(2), 1);
    assert_eq!(v2::weight_of_shares(1024), 39);
    assert_eq!(v2::weight_of_shares(262_144), 10_000);
    assert_eq!(
        v2::weight_of_shares(0),
        1,
        "below the v1 minimum is the minimum"
    );
    assert_eq!(v2::weight_of_shares(u64::MAX), 10_000);
}

/// A directory laid out like a v2 cgroupfs: the writer's output is read
/// back from plain files (no kernel is asked).
#[test]
fn v2_limits_are_written_as_the_kernel_expects() {
    let root = tempfile::tempdir().unwrap();
    let own = root.path().to_path_buf();
    std::fs::write(
        own.join("cgroup.controllers"),
        "cpuset cpu io memory pids\n",
    )
    .unwrap();
    let base = v2::create_base(&own, "meseta/agent1").unwrap();
    assert_eq!(base, own.join("meseta/agent1"));
    let enabled = std::fs::read_to_string(own.join("cgroup.subtree_control")).unwrap();
    assert_eq!(enabled, "+cpu +memory +pids", "only the controllers we use");
    let hierarchy = Hierarchy::V2(base.clone());
    let cgroup = hierarchy.cgroup("c1");
    cgroup.create().unwrap();
    assert!(base.join("c1").is_dir());
    cgroup
        .set_cpu(
            2048,
            Some((Duration::from_millis(50), Duration::from_millis(100))),
        )
        .unwrap();
    assert_eq!(read(&base.join("c1"), "cpu.weight").unwrap(), "79");
    assert_eq!(read(&base.join("c1"), "cpu.max").unwrap(), "50000 100000");
    cgroup.set_memory(64 << 20, 64 << 20).unwrap();
    assert_eq!(read(&base.join("c1"), "memory.max").unwrap(), "67108864");
    cgroup.set_memory(32 << 20, 32 << 20).unwrap();
    assert_eq!(
        read(&base.join("c1"), "memory.max").unwrap(),
        "67108864",
        "the hard limit is never lowered under a running container"
    );
    cgroup.set_pids_max(128).unwrap();
    assert_eq!(read(&base.join("c1"), "pids.max").unwrap(), "128");
    assert!(cgroup.set_devices(&[]).is_err(), "v2 has no device files");

    let dir = base.join("c1");
    std::fs::write(
        dir.join("cpu.stat"),
        "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 500000\n",
    )
    .unwrap();
    std::fs::write(dir.join("memory.current"), "1048576\n").unwrap();
    std::fs::write(dir.join("memory.peak"), "2097152\n").unwrap();
    std::fs::write(
        dir.join("memory.stat"),
        "anon 4096\nfile 8192\nfile_mapped 512\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n",
    )
    .unwrap();
    std::fs::write(dir.join("cgroup.procs"), "10\n11\n").unwrap();
    std::fs::write(dir.join("cgroup.threads"), "10\n11\n12\n").unwrap();
    let stats = cgroup.stats();
    assert_eq!(stats.cpu_user_secs, Some(2.0));
    assert_eq!(stats.cpu_system_secs, Some(1.0));
    assert_eq!(stats.cpu_throttled_periods, Some(4));
    assert_eq!(stats.cpu_throttled_secs, Some(0.5));
    assert_eq!(stats.memory_total, Some(1 << 20));
    assert_eq!(stats.memory_peak, Some(2 << 20));
    assert_eq!(stats.memory_limit, Some(64 << 20));
    assert_eq!(stats.memory_anon, Some(4096));
    assert_eq!(stats.processes, Some(2));
    assert_eq!(stats.threads, Some(3));
    assert_eq!(cgroup.oom_kills(), 2);

    let nested = hierarchy.cgroup("group/task");
    nested.create().unwrap();
    assert!(base.join("group/task").is_dir());
    eprintln!("RAN against a directory tree laid out like cgroupfs: the cgroup v2 limit writer and stats reader (this host's v2 mount has no controllers)");
}

/// Who may use the host's real cgroups: root, with a writable hierarchy.
fn real_hierarchy(test: &str, controllers: &[Controller]) -> Option<Hierarchy> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (loudly): not root, so the host's cgroups cannot be used");
        return None;
    }
    let root = format!("meseta-unit-{test}-{}", std::process::id());
    match Hierarchy::detect(Path::new("/sys/fs/cgroup"), &root, controllers) {
        Ok(hierarchy) => Some(hierarchy),
        Err(e) => {
            eprintln!("SKIPPED (loudly): no writable cgroups here: {e}");
            None
        }
    }
}

/// Makes `command`'s process join `cgroup` before it execs.
fn joining(command: &mut Command, cgroup: &Cgroup) {
    let join: Vec<std::ffi::CString> = cgroup
        .procs_files()
        .iter()
        .map(|p| std::ffi::CString::new(p.to_string_lossy().as_bytes()).unwrap())
        .collect();
    // SAFETY: the closure only opens, writes and closes (async-signal-safe);
    // the paths were prepared before the fork.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            for path in &join {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            Ok(())
        });
    }
}

/// Starts a shell in `cgroup` that leaves a `setsid`ed daemon behind.
fn start_with_daemon(cgroup: &Cgroup) -> std::process::Child {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("setsid sh -c 'sleep 600' & sleep 600")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    joining(&mut command, cgroup);
    command.spawn().expect("the shell starts in the cgroup")
}

fn exercise_tracking(hierarchy: &Hierarchy, what: &str) {
    let cgroup = hierarchy.cgroup("tracked");
    cgroup.create().unwrap();
    let mut child = start_with_daemon(&cgroup);
    assert!(
        poll_until(Duration::from_secs(10), || cgroup.pids().len() >= 3),
        "{what}: the shell, its sleep and the daemon are all in the cgroup: {:?}",
        cgroup.pids()
    );
    assert!(cgroup.pids().contains(&(child.id() as i32)));
    cgroup.kill_all(Duration::from_secs(10)).unwrap();
    let _ = child.wait();
    assert!(
        cgroup.pids().is_empty(),
        "{what}: nothing survives kill_all"
    );
    cgroup.remove().unwrap();
    assert!(!cgroup.exists());
    for dir in hierarchy.base_dirs() {
        std::fs::remove_dir(&dir).unwrap();
    }
    eprintln!("RAN on the host's real {what} hierarchy: join, track, kill a setsid daemon, remove");
}

#[test]
fn v1_freezer_kills_a_daemon_that_left_its_session() {
    let Some(hierarchy) = real_hierarchy("freezer", &[Controller::Memory, Controller::Pids]) else {
        return;
    };
    if hierarchy.version() != Version::V1 {
        eprintln!("SKIPPED (loudly): this host's controllers are not on cgroup v1");
        return;
    }
    exercise_tracking(&hierarchy, "cgroup v1 (freezer)");
}

#[test]
fn v2_cgroup_kill_ends_a_daemon_that_left_its_session() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (loudly): not root, so the v2 hierarchy cannot be used");
        return;
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let Some(mount) = parse_mountinfo(&mountinfo, Path::new("/sys/fs/cgroup"))
        .into_iter()
        .find(|m| m.version == Version::V2)
    else {
        eprintln!("SKIPPED (loudly): no cgroup2 mount on this host");
        return;
    };
    let own = parse_membership(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    let own_dir = dir_in_mount(&mount, own.get("").map_or("/", String::as_str));
    let relative = format!("meseta-unit-v2-{}", std::process::id());
    let base = match v2::create_base(&own_dir, &relative) {
        Ok(base) => base,
        Err(e) => {
            eprintln!("SKIPPED (loudly): cannot make a v2 cgroup here: {e}");
            return;
        }
    };
    exercise_tracking(
        &Hierarchy::V2(base),
        "cgroup v2 (cgroup.kill, cgroup.events)",
    );
}

#[test]
fn v1_memory_limit_and_oom_counter_are_real() {
    let Some(hierarchy) = real_hierarchy("oom", &[Controller::Memory]) else {
        return;
    };
    if hierarchy.version() != Version::V1 {
        eprintln!("SKIPPED (loudly): this host's memory controller is not on cgroup v1");
        return;
    }
    let cgroup = hierarchy.cgroup("oom");
    cgroup.create().unwrap();
    cgroup.set_memory(16 << 20, 16 << 20).unwrap();
    let event = v1::oom_eventfd(cgroup.dir(Controller::Memory).unwrap()).unwrap();
    let mut command = Command::new("/bin/sh");
    // A shell string doubling until it is far past 16 MiB.
    command
        .arg("-c")
        .arg("x=aaaaaaaa; while true; do x=\"$x$x\"; done");
    joining(&mut command, &cgroup);
    let status = command.status().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the OOM killer ended it"
    );
    assert!(cgroup.oom_kills() >= 1);
    let mut counter = [0u8; 8];
    use std::os::fd::AsRawFd;
    // SAFETY: reading 8 bytes into an 8-byte buffer from an eventfd we own.
    let read = unsafe { libc::read(event.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
    assert_eq!(read, 8, "the OOM eventfd fired");
    let stats = cgroup.stats();
    assert_eq!(stats.memory_limit, Some(16 << 20));
    assert!(stats.memory_peak.unwrap() >= 15 << 20, "{stats:?}");
    cgroup.kill_all(Duration::from_secs(5)).unwrap();
    cgroup.remove().unwrap();
    for dir in hierarchy.base_dirs() {
        std::fs::remove_dir(&dir).unwrap();
    }
    eprintln!("RAN on the host's real cgroup v1 memory hierarchy: limit, OOM kill, eventfd");
}
