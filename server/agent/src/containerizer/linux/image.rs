//! Containers from images in the Linux containerizer: whether this agent
//! can run them (`--image-providers` and the isolators they need), and
//! the root a container enters ([`new_root`]: the steps of
//! [`crate::containerizer::new_root`], prepared before the fork).
//!
//! Images need `filesystem/linux` and `docker/runtime` (Mesos's rule) and,
//! here, `namespaces/pid`: the PID namespace's init is what enters the
//! root, so the supervisor keeps the host's view. With
//! `--image-providers=docker` an agent without them refuses to start, as
//! Mesos does; without the flag, images are simply refused at launch,
//! with the reason.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use crate::containerizer::isolators::{Isolation, IsolationConfig, Launch};
use crate::containerizer::new_root::{FsCall, NewRoot};
use crate::containerizer::program::MountCall;
use crate::containerizer::provisioner::rootfs::resolve;
use crate::containerizer::provisioner::{Provisioner, Settings};
use crate::error::AgentError;

/// The isolators a container from an image needs.
const NEEDED: [&str; 3] = ["filesystem/linux", "docker/runtime", "namespaces/pid"];

/// The provisioner, or why images cannot run here; an error when the
/// operator asked for images this agent cannot give.
pub(super) fn images(
    isolation: &Isolation,
    config: &IsolationConfig,
) -> Result<Result<Arc<Provisioner>, String>, AgentError> {
    let explicit = match &config.image_providers {
        None => false,
        Some(providers) => {
            for provider in providers {
                match provider.to_ascii_lowercase().as_str() {
                    "docker" => {}
                    "appc" => {
                        return Err(AgentError::Config(
                            "--image-providers: appc images are not supported (valid: docker)"
                                .into(),
                        ))
                    }
                    other => {
                        return Err(AgentError::Config(format!(
                            "--image-providers: unknown provider {other:?} (valid: docker)"
                        )))
                    }
                }
            }
            if providers.is_empty() {
                return Ok(Err("--image-providers is empty".into()));
            }
            true
        }
    };
    let missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|n| !isolation.has(n))
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "images need {} in --isolation (missing: {})",
            NEEDED.join(", "),
            missing.join(", ")
        );
        if explicit {
            return Err(AgentError::Config(format!(
                "--image-providers=docker: {why}"
            )));
        }
        return Ok(Err(why));
    }
    let settings = Settings {
        registry: config.docker_registry.clone(),
        store_dir: config
            .docker_store_dir
            .clone()
            .unwrap_or_else(|| config.work_dir.join("store/docker")),
        containers_dir: config.work_dir.join("provisioner/containers"),
        backend: config.image_provisioner_backend.clone(),
    };
    match Provisioner::new(&settings) {
        Ok(provisioner) => Ok(Ok(Arc::new(provisioner))),
        Err(e) if explicit || config.image_provisioner_backend.is_some() => {
            Err(AgentError::Config(e))
        }
        Err(e) if e.starts_with("--") => Err(AgentError::Config(e)),
        Err(e) => {
            tracing::warn!(error = %e, "container images are refused on this agent");
            Ok(Err(e))
        }
    }
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("the path {} holds a NUL byte", path.display()))
}

fn c_text(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("{text:?} holds a NUL byte"))
}

fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
    what: &str,
) -> Result<FsCall, String> {
    Ok(FsCall::Mount(MountCall {
        source: source.map(c_text).transpose()?,
        target: c_path(target)?,
        fstype: fstype.map(c_text).transpose()?,
        flags,
        data: data.map(c_text).transpose()?,
        what: what.to_string(),
    }))
}

/// The root a container from an image enters at `rootfs`: `/dev`, `/sys`,
/// the isolators' mounts (their targets are paths inside the container)
/// and `/proc`, the old root's place and the working directory (see the
/// module docs of [`crate::containerizer::new_root`]). Creates the mount
/// points it needs inside the root.
pub(super) fn new_root(
    rootfs: &Path,
    launch: &Launch,
    sandbox_directory: &Path,
) -> Result<NewRoot, String> {
    let source = rootfs
        .to_str()
        .ok_or("the root filesystem's path is not UTF-8")?;
    let mut setup = vec![mount(
        Some(source),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
        "bind the root filesystem onto itself",
    )?];
    let dev = resolve(rootfs, "/dev", true)?;
    setup.push(mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=755,size=65536k"),
        "mount a tmpfs at /dev",
    )?);
    for name in ["pts", "shm"] {
        setup.push(FsCall::Dir {
            path: c_path(&dev.join(name))?,
            what: format!("create /dev/{name}"),
        });
    }
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        setup.push(FsCall::Device {
            path: c_path(&dev.join(name))?,
            major,
            minor,
            what: format!("create the device /dev/{name}"),
        });
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        setup.push(FsCall::Link {
            target: c_text(target)?,
            path: c_path(&dev.join(name))?,
            what: format!("link /dev/{name} to {target}"),
        });
    }
    setup.push(mount(
        Some("devpts"),
        &dev.join("pts"),
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
        "mount a devpts of its own at /dev/pts",
    )?);
    setup.push(mount(
        Some("tmpfs"),
        &dev.join("shm"),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("mode=1777"),
        "mount a tmpfs at /dev/shm",
    )?);
    let sys = resolve(rootfs, "/sys", true)?;
    setup.push(mount(
        Some("sysfs"),
        &sys,
        Some("sysfs"),
        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
        "mount /sys read-only",
    )?);
    for call in &launch.mounts {
        let inside = call.target.to_string_lossy().into_owned();
        let target = match inside.strip_prefix("/dev/") {
            Some(rest) => dev.join(rest),
            None => resolve(rootfs, &inside, true)?,
        };
        setup.push(FsCall::Mount(MountCall {
            target: c_path(&target)?,
            ..call.clone()
        }));
    }
    let proc = resolve(rootfs, "/proc", true)?;
    let put_old = rootfs.join(".meseta-old-root");
    match std::fs::create_dir(&put_old) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", put_old.display())),
    }
    let workdir = match &launch.working_directory {
        Some(dir) => {
            let absolute = if dir.starts_with('/') {
                dir.clone()
            } else {
                format!("/{dir}")
            };
            resolve(rootfs, &absolute, true)?;
            absolute
        }
        None => sandbox_directory.display().to_string(),
    };
    Ok(NewRoot {
        setup,
        rootfs: c_path(rootfs)?,
        proc: c_path(&proc)?,
        put_old: c_path(&put_old)?,
        put_old_inside: c_text("/.meseta-old-root")?,
        workdir: c_text(&workdir)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containerizer::isolators::parse_isolation;

    #[test]
    fn images_need_their_isolators() {
        let dir = tempfile::tempdir().unwrap();
        let config = IsolationConfig {
            work_dir: dir.path().into(),
            ..IsolationConfig::default()
        };
        let without = parse_isolation("cgroups/cpu,filesystem/linux").unwrap();
        let why = images(&without, &config).unwrap().unwrap_err();
        assert!(
            why.contains("missing: docker/runtime, namespaces/pid"),
            "{why}"
        );
        let explicit = IsolationConfig {
            image_providers: Some(vec!["DOCKER".into()]),
            ..config.clone()
        };
        let refused = images(&without, &explicit).err().unwrap().to_string();
        assert!(refused.contains("--image-providers=docker"), "{refused}");
        let appc = IsolationConfig {
            image_providers: Some(vec!["appc".into()]),
            ..config.clone()
        };
        assert!(images(&without, &appc).is_err());
        let bad_registry = IsolationConfig {
            docker_registry: "registry.example.com".into(),
            ..config.clone()
        };
        let with = parse_isolation("filesystem/linux,docker/runtime,namespaces/pid").unwrap();
        let refused = images(&with, &bad_registry).err().unwrap().to_string();
        assert!(refused.contains("--docker-registry"), "{refused}");
    }

    #[test]
    fn the_new_root_mounts_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("usr/work")).unwrap();
        std::os::unix::fs::symlink("/usr/work", rootfs.join("work")).unwrap();
        let mut launch = Launch {
            working_directory: Some("/work/sub".into()),
            ..Launch::default()
        };
        launch.mounts.push(MountCall {
            source: Some(c"/host/sandbox".into()),
            target: c"/mnt/mesos/sandbox".into(),
            fstype: None,
            flags: libc::MS_BIND as libc::c_ulong,
            data: None,
            what: "mount the sandbox".into(),
        });
        let root = new_root(&rootfs, &launch, Path::new("/mnt/mesos/sandbox")).unwrap();
        assert!(rootfs.join("mnt/mesos/sandbox").is_dir());
        assert!(rootfs.join("usr/work/sub").is_dir());
        assert!(rootfs.join("proc").is_dir() && rootfs.join(".meseta-old-root").is_dir());
        assert_eq!(root.workdir.to_str().unwrap(), "/work/sub");
        let sandbox = root
            .setup
            .iter()
            .find(|c| c.what() == "mount the sandbox")
            .unwrap();
        let FsCall::Mount(call) = sandbox else {
            panic!("a mount")
        };
        assert_eq!(
            call.target.to_str().unwrap(),
            rootfs.join("mnt/mesos/sandbox").to_str().unwrap()
        );
        assert_eq!(call.source.as_deref(), Some(c"/host/sandbox"));
        let plain = new_root(&rootfs, &Launch::default(), Path::new("/mnt/mesos/sandbox")).unwrap();
        assert_eq!(plain.workdir.to_str().unwrap(), "/mnt/mesos/sandbox");
    }
}
