//! Runs the real `sfcd` binary for a test: net_null ports, no hugepages, a
//! unique file prefix, socket and state directory in a temp dir; killed (by
//! PID) and cleaned up on drop.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub struct Sfcd {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub state: PathBuf,
    pub ports: Vec<String>,
    prefix: String,
}

impl Sfcd {
    /// A fresh directory and `n` net_null ports named p0..p{n-1}.
    pub fn new(tag: &str, n: usize) -> Sfcd {
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("sfcd-test-{tag}-{}-{seq}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        Sfcd {
            child: None,
            socket: dir.join("sfcd.sock"),
            state: dir.join("state"),
            dir,
            ports: (0..n)
                .map(|i| format!("p{i}=net_null{i},size=64"))
                .collect(),
            prefix: format!("sfcd-test-{tag}-{}-{seq}", std::process::id()),
        }
    }

    /// Starts sfcd and waits (bounded) until its socket answers.
    pub fn start(&mut self, extra: &[&str]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfcd"));
        cmd.arg("--eal")
            .arg(format!(
                "--no-huge -m 256 --no-pci --file-prefix {}",
                self.prefix
            ))
            .args([
                "--mbufs",
                "4096",
                "--queue-size",
                "256",
                "--node-name",
                "dpu-test",
                "--log",
                "warn",
            ])
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for p in &self.ports {
            cmd.arg("--port").arg(p);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn sfcd: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let mut err = String::new();
                if let Some(mut e) = self.child.as_mut().and_then(|c| c.stderr.take()) {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("sfcd exited with {status}: {err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sfcd did not open its socket in 20 s");
    }

    /// SIGKILL, no cleanup by sfcd (a crash).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.prefix));
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let out = c.wait_with_output().ok()?;
        out.status.code()
    }

    pub fn connect(&self) -> Client {
        let s = UnixStream::connect(&self.socket).unwrap_or_else(|e| panic!("connect: {e}"));
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        Client {
            reader: BufReader::new(s.try_clone().unwrap_or_else(|e| panic!("{e}"))),
            writer: s,
        }
    }

    pub fn state_bytes(&self) -> Vec<u8> {
        std::fs::read(self.state.join("state.json")).unwrap_or_default()
    }
}

impl Drop for Sfcd {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Client {
    reader: BufReader<UnixStream>,
    pub writer: UnixStream,
}

impl Client {
    /// Sends one raw line, returns the raw answer line.
    pub fn raw(&mut self, line: &str) -> String {
        let _ = self.writer.write_all(line.as_bytes());
        let _ = self.writer.write_all(b"\n");
        let mut out = String::new();
        let _ = self.reader.read_line(&mut out);
        out
    }

    /// A port's counter from the `ports` op (0 if the port is absent).
    pub fn port_counter(&mut self, port: &str, field: &str) -> u64 {
        let p = self.call(serde_json::json!({"id": 0, "op": "ports"}));
        p["result"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == port))
            .and_then(|p| p[field].as_u64())
            .unwrap_or(0)
    }

    /// Sends a request, returns the parsed answer.
    pub fn call(&mut self, req: serde_json::Value) -> serde_json::Value {
        let line = self.raw(&req.to_string());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?}: {e}"))
    }
}

/// The cross-connect flows of a `flows` answer as sorted (in_port, action)
/// pairs.
pub fn cross_connects(answer: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = answer["result"]["flows"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["kind"] == "cross-connect")
                .map(|f| {
                    (
                        f["in_port"].as_str().unwrap_or("").to_owned(),
                        f["action"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
