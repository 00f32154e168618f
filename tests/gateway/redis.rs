//! A real `redis-server` per test, on a free port, killable mid-test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::support::WAIT;

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Starts `redis-server` and returns once it accepts connections.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts on `port` (e.g. to restart a killed server on the same address).
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &["--appendonly".into(), "no".into()])
    }

    /// Starts on `port` with extra arguments (later ones win).
    pub fn start_with(port: u16, extra: &[String]) -> Self {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--loglevel", "notice"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start redis-server ({e}): install it (Debian: apt-get install \
                 redis-server) or run the suite with `bash scripts/test.sh`, which does"
            ),
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("redis-server on port {port} did not become ready"));
        Self {
            port,
            child: Some(child),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A plain client connection for assertions.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test redis")
    }

    /// Keys matching `pattern`.
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        let mut connection = self.client().await;
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut connection)
            .await
            .expect("KEYS")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

impl RedisServer {
    /// Starts a server that persists every write (AOF, fsync always) in
    /// `dir`, so a killed and restarted server keeps what it acknowledged.
    pub fn start_persistent(dir: &std::path::Path) -> Self {
        Self::start_with(free_port(), &persistence(dir))
    }

    /// Kills the server and starts an empty one on its port (Redis without
    /// persistence restarted: everything it held is gone).
    pub fn restart_empty(&mut self) {
        self.kill();
        *self = Self::start_on(self.port);
    }

    /// Restarts a killed persistent server on its port with its data.
    pub fn restart_persistent(&mut self, dir: &std::path::Path) {
        self.kill();
        *self = Self::start_with(self.port, &persistence(dir));
    }
}

fn persistence(dir: &std::path::Path) -> Vec<String> {
    let dir = dir.to_str().expect("utf-8 temp dir").to_string();
    [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        &dir,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A three-master Redis Cluster on free ports, created with `redis-cli
/// --cluster create`; stopped when dropped.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let port = free_port();
                let node_dir = dir.path().join(format!("n{i}"));
                std::fs::create_dir_all(&node_dir).expect("node dir");
                let args: Vec<String> = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--dir",
                    node_dir.to_str().expect("utf-8 temp dir"),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                RedisServer::start_with(port, &args)
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-cli ({e}): install it (Debian: apt-get install redis-tools)"
                )
            });
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { nodes, _dir: dir };
        cluster.wait_until_ok();
        cluster
    }

    /// Seed URLs, comma-separated (the gateway's `redis.url` in cluster mode).
    pub fn urls(&self) -> String {
        let urls: Vec<String> = self.nodes.iter().map(RedisServer::url).collect();
        urls.join(",")
    }

    /// Polls `CLUSTER INFO` on every node until each reports `cluster_state:ok`.
    fn wait_until_ok(&self) {
        let deadline = std::time::Instant::now() + WAIT * 3;
        for node in &self.nodes {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &node.port.to_string(), "cluster", "info"])
                    .output()
                    .expect("redis-cli cluster info");
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the Redis Cluster never reached cluster_state:ok"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}
