//! A private ZooKeeper server for tests and local HA clusters: Debian's
//! `zookeeper` jars run directly with a `zoo.cfg` of our own (data dir and
//! port under our control, admin server off), never the system service.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::launcher::LaunchError;

/// Where Debian installs the jars (`apt-get install zookeeperd`).
const JARS: &[&str] = &[
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/netty-all.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// A running ZooKeeper server; dropping it kills the server.
#[derive(Debug)]
pub struct ZooKeeper {
    /// `127.0.0.1:PORT`.
    pub address: String,
    child: Child,
}

impl ZooKeeper {
    /// Why this machine cannot run ZooKeeper, if it cannot.
    pub fn unavailable() -> Option<String> {
        if Command::new("java").arg("-version").output().is_err() {
            return Some("java is not installed".into());
        }
        JARS.iter()
            .find(|jar| !Path::new(jar).exists())
            .map(|jar| format!("{jar} is missing (apt-get install zookeeperd)"))
    }

    /// Starts a standalone server with its data under `dir`.
    pub fn start(dir: &Path) -> Result<Self, LaunchError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| LaunchError::Io { path, source }
        };
        let data = dir.join("data");
        fs::create_dir_all(&data).map_err(io(&data))?;
        let port = free_port().map_err(io(dir))?;
        let config = dir.join("zoo.cfg");
        let text = format!(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=20000\n",
            data.display()
        );
        fs::write(&config, text).map_err(io(&config))?;
        let log = dir.join("zookeeper.log");
        let out = fs::File::create(&log).map_err(io(&log))?;
        let err = out.try_clone().map_err(io(&log))?;
        let classpath = JARS
            .iter()
            .map(PathBuf::from)
            .chain([PathBuf::from("/etc/zookeeper/conf")]);
        let classpath = std::env::join_paths(classpath).map_err(|e| LaunchError::Io {
            path: "classpath".into(),
            source: std::io::Error::other(e),
        })?;
        let child = Command::new("java")
            .arg("-Xmx256m")
            .arg("-cp")
            .arg(classpath)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| LaunchError::Spawn {
                what: "zookeeper (java)".into(),
                source,
            })?;
        let mut server = Self {
            address: format!("127.0.0.1:{port}"),
            child,
        };
        let timeout = Duration::from_secs(60);
        let deadline = Instant::now() + timeout;
        while TcpStream::connect(&server.address).is_err() {
            if Instant::now() > deadline || !matches!(server.child.try_wait(), Ok(None)) {
                return Err(LaunchError::NotReady {
                    what: "zookeeper".into(),
                    timeout,
                    log: log.display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// A `zk://` URL for a group under this server.
    pub fn url(&self, path: &str) -> String {
        format!("zk://{}/{}", self.address, path.trim_start_matches('/'))
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now (the OS picks it).
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
