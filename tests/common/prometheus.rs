//! Test support for `bpfq serve`: a plain HTTP/1.0 GET over loopback, a `bpfq serve` child and
//! a real Prometheus child (Debian's `prometheus`) scraping it, each killed by pid on drop with
//! its temporary directory removed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::KillOnDrop;

/// A loopback port free when asked (the OS's choice for a socket bound to port 0).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// An HTTP response: status code, raw header lines, body.
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// `GET path` from 127.0.0.1:`port` with an optional `Accept` header; `None` when nothing
/// answers.
pub fn get(port: u16, path: &str, accept: Option<&str>) -> Option<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{accept}\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Response {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    })
}

/// Calls `probe` every 100 ms until it gives a value, for at most `limit` (a wait for a
/// process to come up or for a scrape to land, not a measurement).
pub fn wait_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A temporary directory of this test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bpfq-serve-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// Writes `text` to the file `name` in the directory; returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `bpfq serve` child on a loopback port of its own.
pub struct Serve {
    pub child: KillOnDrop,
    pub port: u16,
}

impl Serve {
    /// Starts `bpfq serve --listen 127.0.0.1:PORT args...` and waits for /healthz.
    pub fn start(args: &[&str]) -> Serve {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(super::bpfq_path())
            .args(["serve", "--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bpfq serve starts");
        let mut serve = Serve {
            child: KillOnDrop(child),
            port,
        };
        let up = wait_until(Duration::from_secs(60), || {
            get(port, "/healthz", None).filter(|r| r.status == 200)
        });
        if up.is_none() {
            let _ = serve.child.0.kill();
            let mut err = String::new();
            if let Some(stderr) = serve.child.0.stderr.as_mut() {
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("bpfq serve {args:?} did not come up:\n{err}");
        }
        serve
    }

    /// GET /metrics (Prometheus text 0.0.4 unless `accept` asks otherwise), asserting 200.
    pub fn scrape(&self, accept: Option<&str>) -> Response {
        let response = get(self.port, "/metrics", accept).expect("a scrape answers");
        assert_eq!(response.status, 200, "{}", response.body);
        response
    }
}

/// A Prometheus server scraping 127.0.0.1:`target` every second, its storage in a temporary
/// directory.
pub struct Prometheus {
    _child: KillOnDrop,
    _dir: TempDir,
    pub port: u16,
}

impl Prometheus {
    pub fn start(target: u16) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: bpfq\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        );
        let config_path = dir.file("prometheus.yml", &config);
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package `prometheus`; tests/run.sh installs it)");
        let prometheus = Prometheus {
            _child: KillOnDrop(child),
            _dir: dir,
            port,
        };
        let ready = wait_until(Duration::from_secs(60), || {
            get(port, "/-/ready", None).filter(|r| r.status == 200)
        });
        assert!(ready.is_some(), "prometheus did not become ready");
        prometheus
    }

    /// The instant vector of PromQL `query` (a plain metric name: no URL escaping needed) as
    /// (the value of label `label`, sample value) pairs, sorted.
    pub fn vector(&self, query: &str, label: &str) -> Vec<(String, String)> {
        let path = format!("/api/v1/query?query={query}");
        let response = get(self.port, &path, None).expect("the query API answers");
        assert_eq!(response.status, 200, "{}", response.body);
        let mut pairs: Vec<(String, String)> = response
            .body
            .split("{\"metric\":")
            .skip(1)
            .map(|series| {
                let key = format!("\"{label}\":\"");
                let label_value = series
                    .split_once(&key)
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or(String::new(), |(value, _)| value.to_string());
                let value = series
                    .split_once("\"value\":[")
                    .and_then(|(_, rest)| rest.split_once(",\""))
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(value, _)| value.to_string())
                    .expect("a sample value");
                (label_value, value)
            })
            .collect();
        pairs.sort();
        pairs
    }
}

/// The value of the series of `family` whose labels are exactly `labels` (`{a="x",b="y"}`, or
/// empty) in Prometheus text `body`.
pub fn sample(body: &str, family: &str, labels: &str) -> Option<String> {
    let prefix = format!("{family}{labels} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(str::to_string)
}

/// A path as a string, for arguments.
pub fn text(path: &Path) -> String {
    path.display().to_string()
}
