//! A private Docker engine and registry, and the test image, for tests and
//! benchmarks: Debian's `dockerd` and `docker-registry` (`apt-get install
//! docker.io docker-registry busybox-static`) on a socket and a loopback
//! port of our own, never the system's; nothing is pulled from the
//! internet. The test image is made here: a root filesystem of Debian's
//! static busybox, `docker import`ed as [`TEST_IMAGE`], pushed to the
//! private registry and `docker save`d into a directory (the two sources
//! the agent can pull from without an engine).
//!
//! One engine per process ([`shared`]): two engines on one machine fight
//! over the `docker0` bridge. Each server runs as a child of a thread that
//! lives as long as the process and is told to stop (SIGTERM) when the
//! process ends, however it ends; a later run removes what a killed one
//! left under the temporary directory.

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// The test image's name in the private engine.
pub const TEST_IMAGE: &str = "meseta-test/busybox:1";
/// Where Debian's static busybox is.
const BUSYBOX: &str = "/bin/busybox";
/// The Docker CLI of Debian's `docker.io` (another, newer one may come
/// first on `PATH`).
const DOCKER_CLI: &str = "/usr/bin/docker";

/// What went wrong bringing the environment up.
#[derive(Debug, thiserror::Error)]
pub enum DockerEnvError {
    /// A program is missing, or this process may not run an engine.
    #[error("cannot run a private Docker engine here: {0}")]
    Unavailable(String),
    /// A step failed.
    #[error("{what}: {reason}")]
    Failed {
        /// The step.
        what: String,
        /// Why (a command's output, or the error).
        reason: String,
    },
}

fn failed(what: &str, reason: impl ToString) -> DockerEnvError {
    DockerEnvError::Failed {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// The private engine, the registry and the test image, ready.
#[derive(Debug)]
pub struct DockerEnv {
    /// The engine's socket (`--docker-socket` of an agent).
    pub socket: PathBuf,
    /// The registry, `127.0.0.1:PORT` (images are `ADDRESS/NAME:TAG`).
    pub registry: String,
    /// [`TEST_IMAGE`] as the registry serves it: `127.0.0.1:PORT/meseta-test/busybox:1`.
    pub registry_image: String,
    /// A directory holding `docker save` tarballs of the test image, named
    /// as Mesos's `--docker_registry=/dir` expects (`<name>:<tag>.tar`).
    pub save_dir: PathBuf,
    /// Everything of this environment lives below.
    pub dir: PathBuf,
}

impl DockerEnv {
    /// A `docker` command talking to the private engine.
    pub fn docker(&self) -> Command {
        let mut command = Command::new(DOCKER_CLI);
        command
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()));
        command
    }

    /// Runs `docker ARGS` against the private engine; its output, or why it
    /// failed.
    pub fn run(&self, args: &[&str]) -> Result<Output, DockerEnvError> {
        let output = self
            .docker()
            .args(args)
            .output()
            .map_err(|e| failed(&format!("docker {}", args.join(" ")), e))?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(failed(
                &format!("docker {}", args.join(" ")),
                String::from_utf8_lossy(&output.stderr).trim(),
            ))
        }
    }
}

/// Why this machine cannot run the environment, if it cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("a Docker engine needs root".into());
    }
    [
        "/usr/sbin/dockerd",
        DOCKER_CLI,
        "/usr/bin/docker-registry",
        BUSYBOX,
    ]
    .iter()
    .find(|p| !Path::new(p).exists())
    .map(|p| format!("{p} is missing (apt-get install docker.io docker-registry busybox-static)"))
}

/// The process's environment, started on first use.
pub fn shared() -> Result<&'static DockerEnv, String> {
    static ENV: OnceLock<Result<DockerEnv, String>> = OnceLock::new();
    ENV.get_or_init(|| start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

fn start() -> Result<DockerEnv, DockerEnvError> {
    if let Some(reason) = unavailable() {
        return Err(DockerEnvError::Unavailable(reason));
    }
    let base = std::env::temp_dir();
    remove_stale(&base);
    let dir = base.join(format!("meseta-docker-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| failed("create the work dir", e))?;
    let socket = dir.join("docker.sock");
    let log = fs::File::create(dir.join("dockerd.log")).map_err(|e| failed("dockerd log", e))?;
    let mut dockerd = Command::new("/usr/sbin/dockerd");
    dockerd
        .arg("--host")
        .arg(format!("unix://{}", socket.display()))
        .arg("--data-root")
        .arg(dir.join("root"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| failed("dockerd log", e))?)
        .stderr(log);
    keep(dockerd).map_err(|e| failed("start dockerd", e))?;
    let registry = start_registry(&dir)?;
    let env = DockerEnv {
        socket,
        registry_image: format!("{registry}/{TEST_IMAGE}"),
        registry,
        save_dir: dir.join("images"),
        dir,
    };
    wait_for("dockerd", Duration::from_secs(60), || {
        env.docker()
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;
    build_test_image(&env)?;
    Ok(env)
}

/// Starts `docker-registry` on a free loopback port; its address.
fn start_registry(dir: &Path) -> Result<String, DockerEnvError> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| failed("pick a port", e))?
        .port();
    let address = format!("127.0.0.1:{port}");
    let config = dir.join("registry.yml");
    let text = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
        dir.join("registry").display()
    );
    fs::write(&config, text).map_err(|e| failed("write the registry config", e))?;
    let log = fs::File::create(dir.join("registry.log")).map_err(|e| failed("registry log", e))?;
    let mut registry = Command::new("/usr/bin/docker-registry");
    registry
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| failed("registry log", e))?)
        .stderr(log);
    keep(registry).map_err(|e| failed("start docker-registry", e))?;
    wait_for("docker-registry", Duration::from_secs(30), || {
        TcpStream::connect(&address).is_ok()
    })?;
    Ok(address)
}

/// The busybox root filesystem, imported, pushed and saved.
fn build_test_image(env: &DockerEnv) -> Result<(), DockerEnvError> {
    let root = env.dir.join("rootfs");
    for sub in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(root.join(sub)).map_err(|e| failed("make the rootfs", e))?;
    }
    fs::copy(BUSYBOX, root.join("bin/busybox")).map_err(|e| failed("copy busybox", e))?;
    let applets = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .map_err(|e| failed("busybox --list", e))?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .map_err(|e| failed("write /etc/passwd", e))?;
    let tarball = env.dir.join("rootfs.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .map_err(|e| failed("tar the rootfs", e))?;
    if !tar.success() {
        return Err(failed("tar the rootfs", tar));
    }
    let tarball = tarball.display().to_string();
    env.run(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        "-c",
        "ENV PATH=/bin",
        &tarball,
        TEST_IMAGE,
    ])?;
    env.run(&["tag", TEST_IMAGE, &env.registry_image])?;
    env.run(&["push", &env.registry_image])?;
    fs::create_dir_all(&env.save_dir).map_err(|e| failed("make the save dir", e))?;
    let saved = env.save_dir.join(format!("{TEST_IMAGE}.tar"));
    if let Some(parent) = saved.parent() {
        fs::create_dir_all(parent).map_err(|e| failed("make the save dir", e))?;
    }
    env.run(&["save", "-o", &saved.display().to_string(), TEST_IMAGE])?;
    Ok(())
}

/// Spawns `command` from a thread that lives as long as this process, so
/// that the child is sent SIGTERM when the process ends (the parent-death
/// signal follows the thread that forked).
fn keep(mut command: Command) -> io::Result<u32> {
    // SAFETY: prctl in the forked child before exec; no allocation.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel::<io::Result<u32>>();
    std::thread::Builder::new()
        .name("meseta-docker-env".into())
        .spawn(move || {
            match command.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id()));
                    // Reap it if it dies early; the thread stays either way.
                    let _ = child.wait();
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
            loop {
                std::thread::park();
            }
        })?;
    rx.recv()
        .map_err(|_| io::Error::other("the keeper thread died"))?
}

/// Polls until `ready` or the deadline.
fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), DockerEnvError> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if Instant::now() > deadline {
            return Err(failed(what, format!("not ready within {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Removes what runs killed before their servers could clean up left.
fn remove_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("meseta-docker-")
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        unmount_below(&dir);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Unmounts every mount below `dir`, deepest first.
fn unmount_below(dir: &Path) {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4).map(PathBuf::from))
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in points {
        if let Ok(c) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) {
            // SAFETY: umount2 with a valid NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}
