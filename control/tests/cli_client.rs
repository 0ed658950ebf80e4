//! sfcctl's client against a tiny in-test server that answers canned
//! protocol lines: framing (hello first, one line each way, ids), error
//! mapping and exit codes. Real end-to-end tests against sfcd live
//! elsewhere.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sfc_control::cli::{self, render};
use sfc_control::protocol::{decode_request, Request, StatusView, WorkerView, MAX_MESSAGE, OPS};

/// A unique socket path under the temp dir (removed when dropped).
struct SockPath(PathBuf);

impl SockPath {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("sfcctl-test-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        SockPath(p)
    }
    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for SockPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The server side of one connection.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    /// One request line, decoded; panics unless it is a well-formed
    /// request line of this protocol version.
    fn request(&mut self) -> (Value, Request) {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(
            line.ends_with('\n'),
            "request not newline-terminated: {line:?}"
        );
        assert_eq!(
            line.matches('\n').count(),
            1,
            "one request per line: {line:?}"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["version"], json!(1), "every request carries the version");
        let (id, req) = decode_request(line.trim_end());
        (id, req.unwrap())
    }

    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn ok(&mut self, id: &Value, result: Value) {
        self.send(&format!(
            "{}\n",
            json!({"id": id, "ok": true, "result": result})
        ));
    }

    /// An error answer.
    fn error(&mut self, id: &Value, code: &str, message: &str) {
        self.send(&format!(
            "{}\n",
            json!({"id": id, "ok": false, "error": {"code": code, "message": message}})
        ));
    }

    /// The next request, or None when the client hung up.
    fn next_request(&mut self) -> Option<(Value, Request)> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                let (id, req) = decode_request(line.trim_end());
                Some((id, req.unwrap()))
            }
        }
    }

    /// Reads hello (asserting it is the first request, id 1) and answers it.
    fn hello(&mut self) {
        self.hello_with(json!({"version": 1, "server": "fake-sfcd 0.0.0", "ops": OPS}));
    }

    fn hello_with(&mut self, result: Value) {
        let (id, req) = self.request();
        assert_eq!(req, Request::Hello, "hello comes first");
        assert_eq!(id, json!(1));
        self.ok(&id, result);
    }

    /// Waits until the client hangs up.
    fn until_eof(&mut self) -> usize {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut self.reader, &mut rest);
        rest.len()
    }
}

/// Serves one connection with `script` on a fresh socket.
fn serve<F>(script: F) -> (SockPath, JoinHandle<()>)
where
    F: FnOnce(&mut Conn) + Send + 'static,
{
    let path = SockPath::new();
    let listener = UnixListener::bind(&path.0).unwrap();
    let h = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut c = Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        script(&mut c);
    });
    (path, h)
}

/// Runs sfcctl against `path`; (exit code, stdout, stderr).
fn sfcctl(path: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut argv = vec!["sfcctl", "--socket", path];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(argv, &mut stdin.as_bytes(), &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn status_view() -> StatusView {
    StatusView {
        ready: true,
        node: "dpu1".into(),
        uptime_ms: 61_000,
        generation: 3,
        workers: vec![WorkerView {
            index: 0,
            lcore: 1,
            core: Some(1),
            last_poll_age_ms: 2,
            busy_ratio: 0.5,
        }],
        ports: [("p0".to_string(), true)].into(),
    }
}

#[test]
fn hello_then_one_request_line_and_an_answer_split_across_writes() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(req, Request::Status);
        assert_eq!(id, json!(2), "ids count up per connection");
        let line = format!(
            "{}\n",
            json!({"id": id, "ok": true, "result": status_view()})
        );
        let (a, b) = line.split_at(line.len() / 2);
        c.send(a);
        thread::sleep(Duration::from_millis(50));
        c.send(b);
        assert_eq!(c.until_eof(), 0, "nothing after the request");
    });
    let (code, out, err) = sfcctl(path.as_str(), &["status"], "");
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, render::status(&status_view()));
}

#[test]
fn json_output_is_the_pretty_result_and_a_list_is_filtered_by_namespace() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(
            req,
            Request::List {
                kind: Some("DPUServiceChain".into())
            },
            "kinds are sent as the canonical name"
        );
        c.ok(
            &id,
            json!([
                {"kind": "DPUServiceChain", "metadata": {"namespace": "dpf", "name": "a"}},
                {"kind": "DPUServiceChain", "metadata": {"namespace": "other", "name": "b"}}
            ]),
        );
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["get", "dpuservicechains", "-n", "dpf", "-o", "json"],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        r#"[
  {
    "kind": "DPUServiceChain",
    "metadata": {
      "name": "a",
      "namespace": "dpf"
    }
  }
]
"#
    );
}

#[test]
fn apply_from_stdin_sends_the_text_as_is_and_prints_kubectl_lines() {
    const YAML: &str =
        "apiVersion: svc.dpu.nvidia.com/v1alpha1\nkind: DPUServiceChain\nmetadata:\n  name: x\n";
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(
            req,
            Request::Apply {
                objects: YAML.into()
            }
        );
        c.ok(
            &id,
            json!({"results": [{"kind": "DPUServiceChain", "namespace": "default", "name": "x",
                                 "action": "configured", "generation": 2}],
                   "notes": ["document 2: kind DPUService is not the dataplane's: skipped"]}),
        );
    });
    let (code, out, err) = sfcctl(path.as_str(), &["apply", "-f", "-"], YAML);
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "dpuservicechain.svc.dpu.nvidia.com/x configured\nnote: document 2: kind DPUService is not the dataplane's: skipped\n"
    );
}

#[test]
fn an_error_answer_exits_1_with_code_and_message() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert!(
            matches!(req, Request::Delete(ref a) if a.kind == "ServiceChainSet" && a.namespace == "ns" && a.name == "x")
        );
        c.send(&format!(
            "{}\n",
            json!({"id": id, "ok": false, "error": {"code": "not-found", "message": "ServiceChainSet ns/x not found"}})
        ));
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["delete", "servicechainset/x", "-n", "ns"],
        "",
    );
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(err, "error [not-found]: ServiceChainSet ns/x not found\n");
}

#[test]
fn connection_refused_exits_3_and_asks_whether_sfcd_runs() {
    let path = SockPath::new();
    // A socket file with nobody listening: connect is refused.
    drop(UnixListener::bind(&path.0).unwrap());
    let (code, out, err) = sfcctl(path.as_str(), &["ports"], "");
    assert_eq!((code, out.as_str()), (3, ""));
    assert!(
        err.starts_with(&format!("cannot reach sfcd at {}: ", path.as_str())),
        "{err}"
    );
    assert!(err.ends_with("(is sfcd running?)\n"), "{err}");
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn a_missing_socket_exits_3() {
    let path = SockPath::new();
    let (code, _, err) = sfcctl(path.as_str(), &["status"], "");
    assert_eq!(code, 3);
    assert!(err.contains("No such file"), "{err}");
    assert!(err.ends_with("(is sfcd running?)\n"), "{err}");
}

#[test]
fn an_oversize_answer_is_refused_without_reading_it_all() {
    let (path, server) = serve(|c| {
        c.hello();
        let _ = c.request();
        // MAX_MESSAGE + 1 MiB, no newline: the client must give up.
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < MAX_MESSAGE + (1 << 20) {
            if c.writer.write_all(&chunk).is_err() {
                return; // the client hung up, as it should
            }
            sent += chunk.len();
        }
    });
    let (code, out, err) = sfcctl(path.as_str(), &["flows"], "");
    server.join().unwrap();
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        format!("error: sfcd's answer to \"flows\" is over the protocol limit of {MAX_MESSAGE} bytes; refused\n")
    );
}

#[test]
fn an_answer_of_exactly_the_limit_is_accepted() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, _) = c.request();
        // Pad a describe answer ({"text": ...}) to exactly MAX_MESSAGE bytes.
        let empty = json!({"id": id, "ok": true, "result": {"text": ""}}).to_string();
        let text = "x".repeat(MAX_MESSAGE - empty.len());
        let line = json!({"id": id, "ok": true, "result": {"text": text}}).to_string();
        assert_eq!(line.len(), MAX_MESSAGE);
        c.send(&format!("{line}\n"));
    });
    let (code, out, err) = sfcctl(path.as_str(), &["describe", "ServiceChain", "c"], "");
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out.len(), MAX_MESSAGE - 39 + 1, "the text and a newline");
    assert!(out.starts_with("xxx") && out.ends_with("x\n"));
}

#[test]
fn a_server_of_another_version_is_refused_after_hello() {
    let (path, server) = serve(|c| {
        c.hello_with(json!({"version": 2, "server": "sfcd 9.0.0", "ops": OPS}));
        assert_eq!(c.until_eof(), 0, "no request is sent to it");
    });
    let (code, out, err) = sfcctl(path.as_str(), &["status"], "");
    server.join().unwrap();
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "error: protocol version mismatch: this sfcctl speaks version 1, sfcd 9.0.0 speaks version 2; use the sfcctl that comes with this sfcd\n"
    );
}

#[test]
fn a_server_refusing_our_version_is_reported_as_a_mismatch() {
    let (path, server) = serve(|c| {
        let (id, _) = c.request();
        c.send(&format!(
            "{}\n",
            json!({"id": id, "ok": false, "error": {"code": "version",
                "message": "protocol version 1 is not supported; this sfcd speaks version 2"}})
        ));
    });
    let (code, _, err) = sfcctl(path.as_str(), &["ports"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: protocol version mismatch: this sfcctl speaks version 1, sfcd says: protocol version 1 is not supported; this sfcd speaks version 2; use the sfcctl that comes with this sfcd\n"
    );
}

#[test]
fn a_silent_server_times_out() {
    let (path, server) = serve(|c| {
        let _ = c.request();
        c.until_eof();
    });
    let start = Instant::now();
    let (code, _, err) = sfcctl(path.as_str(), &["--timeout", "0.3", "status"], "");
    server.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: sfcd at {} did not answer \"hello\" within 0.3s\n",
            path.as_str()
        )
    );
}

#[test]
fn a_trickling_server_still_times_out() {
    let (path, server) = serve(|c| {
        let _ = c.request();
        // One byte every 50 ms never completes a line: the timeout is for
        // the whole answer, not for each read.
        for _ in 0..40 {
            if c.writer.write_all(b" ").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let start = Instant::now();
    let (code, _, err) = sfcctl(path.as_str(), &["--timeout", "0.4", "status"], "");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    server.join().unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("did not answer \"hello\" within 0.4s"),
        "{err}"
    );
}

#[test]
fn an_answer_with_another_id_is_refused() {
    let (path, server) = serve(|c| {
        c.hello();
        let _ = c.request();
        c.ok(&json!(99), json!({"generation": 1, "flows": []}));
    });
    let (code, _, err) = sfcctl(path.as_str(), &["flows"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: sfcd sent a malformed answer to \"flows\": answer carries id 99 instead of 2\n"
    );
}

#[test]
fn an_error_with_a_null_id_is_the_servers_word() {
    // sfcd answers id null when it could not read the request (too large,
    // too many clients): the error itself is what the user must see.
    let (path, server) = serve(|c| {
        let _ = c.request();
        c.send(&format!(
            "{}\n",
            json!({"id": null, "ok": false, "error": {"code": "internal", "message": "too many clients (max 64)"}})
        ));
    });
    let (code, _, err) = sfcctl(path.as_str(), &["status"], "");
    server.join().unwrap();
    assert_eq!(
        (code, err.as_str()),
        (1, "error [internal]: too many clients (max 64)\n")
    );
}

#[test]
fn describe_prints_the_servers_text() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        let Request::Describe(a) = req else {
            panic!("not describe: {req:?}")
        };
        assert_eq!(
            (a.kind.as_str(), a.namespace.as_str(), a.name.as_str()),
            ("DPUServiceChain", "dpf", "hbn")
        );
        c.ok(
            &id,
            json!({"text": "NAME  READY\nDPUServiceChain/hbn  True"}),
        );
    });
    let (code, out, _) = sfcctl(
        path.as_str(),
        &[
            "describe",
            "dpuservicechain.svc.dpu.nvidia.com/hbn",
            "-n",
            "dpf",
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!(
        (code, out.as_str()),
        (0, "NAME  READY\nDPUServiceChain/hbn  True\n")
    );
}

#[test]
fn an_answer_that_is_not_json_is_refused() {
    let (path, server) = serve(|c| {
        c.hello();
        let _ = c.request();
        c.send("hello there\n");
    });
    let (code, _, err) = sfcctl(path.as_str(), &["flows"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: sfcd sent a malformed answer to \"flows\": "),
        "{err}"
    );
}

#[test]
fn a_hang_up_before_the_answer_is_reported() {
    let (path, server) = serve(|c| {
        c.hello();
        let _ = c.request();
    });
    let (code, _, err) = sfcctl(path.as_str(), &["ports", "detach", "p1"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: sfcd at {} closed the connection without answering \"detach\"\n",
            path.as_str()
        )
    );
}

#[test]
fn an_op_the_server_does_not_list_is_not_sent() {
    let (path, server) = serve(|c| {
        c.hello_with(json!({"version": 1, "server": "old-sfcd", "ops": ["hello", "status"]}));
        assert_eq!(c.until_eof(), 0);
    });
    let (code, _, err) = sfcctl(path.as_str(), &["flows"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: old-sfcd does not support \"flows\" (it supports: hello, status)\n"
    );
}

#[test]
fn labels_and_ports_requests_carry_their_arguments() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(
            req,
            Request::SetNodeLabels {
                labels: [
                    ("bfb".to_string(), "dk".to_string()),
                    ("feature.node.kubernetes.io/dpu".to_string(), String::new())
                ]
                .into()
            }
        );
        // sfcd answers with the labels the node now has.
        c.ok(
            &id,
            json!({"labels": {"bfb": "dk", "feature.node.kubernetes.io/dpu": ""}}),
        );
    });
    let (code, out, _) = sfcctl(
        path.as_str(),
        &["label", "node", "bfb=dk", "feature.node.kubernetes.io/dpu="],
        "",
    );
    server.join().unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "node labels set: bfb=dk,feature.node.kubernetes.io/dpu=\n"
    );

    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(
            req,
            Request::Attach {
                name: "pf0vf3".into(),
                devargs: "net_null0".into()
            }
        );
        c.ok(&id, Value::Null);
    });
    let (code, out, _) = sfcctl(
        path.as_str(),
        &["ports", "attach", "pf0vf3", "net_null0"],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, out.as_str()), (0, "port pf0vf3 attached\n"));

    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        let Request::Flows(f) = req else {
            panic!("not flows: {req:?}")
        };
        assert_eq!(
            f.chain.as_deref(),
            Some("default/c"),
            "a bare chain name is in default"
        );
        assert_eq!(f.switch, Some(1));
        assert_eq!(f.port.as_deref(), Some("p0"));
        c.ok(&id, json!({"generation": 4, "flows": []}));
    });
    let (code, out, _) = sfcctl(
        path.as_str(),
        &["flows", "--chain", "c", "--switch", "1", "--port", "p0"],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, out.as_str()), (0, "generation=4 flows=0\n"));
}

#[test]
fn local_argument_errors_exit_2_before_connecting() {
    // The socket does not exist: exit 2, not 3, shows nothing was tried.
    let path = SockPath::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["label", "node", "bfb"],
            "error: label \"bfb\" is not KEY=VALUE",
        ),
        (
            &["label", "node", "bad-=x"],
            "error: label \"bad-=x\": label key \"bad-\"",
        ),
        (
            &["label", "node", "a=1", "a=2"],
            "error: label key \"a\" is given twice",
        ),
        (&["get", "widgets"], "error: unknown kind \"widgets\""),
        (
            &["describe", "DPUServiceChain"],
            "error: which DPUServiceChain? give its NAME",
        ),
        (
            &["flows", "--chain", "a/b/c"],
            "error: --chain \"a/b/c\" is not NAMESPACE/NAME",
        ),
        (&["get", "all", "x"], "error: `get all` lists every kind"),
        (&["apply", "-f", "/nonexistent/objects.yaml"], ""),
        (
            &["status", "--timeout", "0"],
            "the timeout must be more than 0",
        ),
        (&["stauts"], "unrecognized subcommand"),
        (&["label"], "required"),
    ];
    for (args, want) in cases {
        let (code, out, err) = sfcctl(path.as_str(), args, "");
        if args[0] == "apply" {
            // An unreadable file is an error of the command, not of usage.
            assert_eq!(code, 1, "{args:?}: {err}");
            assert!(
                err.starts_with("error: reading /nonexistent/objects.yaml: "),
                "{err}"
            );
            continue;
        }
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (code, _, err) = sfcctl(path.as_str(), &["apply", "-f", "-"], "  \n");
    assert_eq!(code, 1);
    assert_eq!(err, "error: stdin: no objects (the input is empty)\n");
}

#[test]
fn a_request_over_the_limit_is_not_sent() {
    let (path, server) = serve(|c| {
        c.hello();
        assert_eq!(c.until_eof(), 0);
    });
    let big = format!("# {}\n", "x".repeat(MAX_MESSAGE));
    let (code, _, err) = sfcctl(path.as_str(), &["apply", "-f", "-"], &big);
    server.join().unwrap();
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: the \"apply\" request is ")
            && err.ends_with(&format!(
                "bytes, over the protocol limit of {MAX_MESSAGE} bytes\n"
            )),
        "{err}"
    );
}

#[test]
fn the_binary_reads_sfcd_socket_from_the_environment_and_exits_3() {
    let path = SockPath::new();
    let out = Command::new(env!("CARGO_BIN_EXE_sfcctl"))
        .arg("status")
        .env("SFCD_SOCKET", &path.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("cannot reach sfcd at {}: ", path.as_str())),
        "{err}"
    );
}

#[test]
fn the_binary_exits_2_on_usage_and_0_on_help() {
    let bin = env!("CARGO_BIN_EXE_sfcctl");
    let bad = Command::new(bin).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let help = Command::new(bin).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    for cmd in [
        "apply",
        "delete",
        "get",
        "describe",
        "label",
        "label-node",
        "wait",
        "ports",
        "flows",
        "status",
        "top",
        "stats",
        "completions",
    ] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "{cmd} missing from help:\n{text}"
        );
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_sfcctl()"),
        ("zsh", "#compdef sfcctl"),
        ("fish", "complete -c sfcctl"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sfcctl"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        assert!(
            text.contains("describe"),
            "{shell}: subcommands are completed"
        );
    }
}

/// A DPUServiceChain as sfcd's `get` answers it, with a Ready condition.
fn chain_view(ready: &str, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "svc.dpu.nvidia.com/v1alpha1",
        "kind": "DPUServiceChain",
        "metadata": {"name": "hbn", "namespace": "dpf", "labels": {}, "annotations": {}, "generation": 1},
        "spec": {},
        "status": {"observedGeneration": 1, "conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "message": message,
             "lastTransitionTime": "2024-01-01T00:00:00Z", "observedGeneration": 1}
        ]}
    })
}

fn assert_get_hbn(req: &Request) {
    let Request::Get(a) = req else {
        panic!("not get: {req:?}")
    };
    assert_eq!(
        (a.kind.as_str(), a.namespace.as_str(), a.name.as_str()),
        ("DPUServiceChain", "dpf", "hbn")
    );
}

#[test]
fn wait_polls_get_until_the_condition_is_true() {
    let (path, server) = serve(|c| {
        c.hello();
        // Not there yet, then not ready, then ready: one connection, one
        // get per poll.
        let (id, req) = c.request();
        assert_get_hbn(&req);
        c.error(&id, "not-found", "DPUServiceChain dpf/hbn not found");
        let (id, req) = c.request();
        assert_get_hbn(&req);
        c.ok(&id, chain_view("False", "Pending", "not expanded yet"));
        let (id, req) = c.request();
        assert_get_hbn(&req);
        c.ok(&id, chain_view("True", "Success", ""));
        assert_eq!(c.until_eof(), 0, "no get after the condition is met");
    });
    let start = Instant::now();
    let (code, out, err) = sfcctl(
        path.as_str(),
        &[
            "wait",
            "--for=condition=Ready",
            "dpuservicechain",
            "hbn",
            "-n",
            "dpf",
            "--timeout",
            "10s",
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "dpuservicechain.svc.dpu.nvidia.com/hbn condition met\n"
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "two 200 ms pauses between three polls: {took:?}"
    );
}

#[test]
fn wait_times_out_naming_the_object_and_the_conditions_last_reason() {
    let polls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let (path, server) = serve(move |c| {
        c.hello();
        while let Some((id, req)) = c.next_request() {
            assert_get_hbn(&req);
            counted.fetch_add(1, Ordering::SeqCst);
            c.ok(
                &id,
                chain_view(
                    "False",
                    "Pending",
                    "The following conditions are not ready:\n* ServiceChainReconciled",
                ),
            );
        }
    });
    let start = Instant::now();
    let (code, out, err) = sfcctl(
        path.as_str(),
        &[
            "wait",
            "--for",
            "condition=Ready",
            "dpuservicechain/hbn",
            "-n",
            "dpf",
            "--timeout",
            "700ms",
        ],
        "",
    );
    let took = start.elapsed();
    server.join().unwrap();
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "error: timed out after 700ms waiting for DPUServiceChain dpf/hbn to have condition Ready=True; \
         last seen: Ready=False, reason Pending: The following conditions are not ready: * ServiceChainReconciled\n"
    );
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(2000),
        "bounded by the timeout: {took:?}"
    );
    let n = polls.load(Ordering::SeqCst);
    assert!((3..=6).contains(&n), "one get per 200 ms: {n}");
}

#[test]
fn wait_for_a_missing_object_times_out_saying_it_does_not_exist() {
    let (path, server) = serve(|c| {
        c.hello();
        while let Some((id, _)) = c.next_request() {
            c.error(&id, "not-found", "DPUServiceChain dpf/hbn not found");
        }
    });
    let (code, _, err) = sfcctl(
        path.as_str(),
        &[
            "wait",
            "--for=condition=Ready",
            "dpuservicechain",
            "hbn",
            "-n",
            "dpf",
            "--timeout",
            "0.3",
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: timed out after 300ms waiting for DPUServiceChain dpf/hbn to have condition Ready=True; last seen: the object does not exist\n"
    );
}

#[test]
fn wait_for_delete_ends_when_get_says_not_found() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_get_hbn(&req);
        c.ok(&id, chain_view("True", "Success", ""));
        let (id, _) = c.request();
        c.error(&id, "not-found", "DPUServiceChain dpf/hbn not found");
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["wait", "--for=delete", "DPUServiceChain/hbn", "-n", "dpf"],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "dpuservicechain.svc.dpu.nvidia.com/hbn condition met\n"
    );

    let (path, server) = serve(|c| {
        c.hello();
        while let Some((id, _)) = c.next_request() {
            c.ok(&id, chain_view("True", "Success", ""));
        }
    });
    let (code, _, err) = sfcctl(
        path.as_str(),
        &[
            "wait",
            "--for=delete",
            "DPUServiceChain/hbn",
            "-n",
            "dpf",
            "--timeout",
            "250ms",
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: timed out after 250ms waiting for DPUServiceChain dpf/hbn to be deleted: it still exists (Ready=True, reason Success)\n"
    );
}

#[test]
fn wait_stops_at_once_on_an_error_answer_other_than_not_found() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, _) = c.request();
        c.error(&id, "internal", "store is broken");
    });
    let start = Instant::now();
    let (code, _, err) = sfcctl(
        path.as_str(),
        &[
            "wait",
            "--for=condition=Ready",
            "servicechain",
            "c",
            "--timeout",
            "1m",
        ],
        "",
    );
    server.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        (code, err.as_str()),
        (1, "error [internal]: store is broken\n")
    );
}

#[test]
fn wait_with_o_json_prints_the_object_that_met_the_condition() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, _) = c.request();
        c.ok(&id, chain_view("True", "Success", ""));
    });
    let (code, out, _) = sfcctl(
        path.as_str(),
        &[
            "wait",
            "--for=condition=ready",
            "dpuservicechain",
            "hbn",
            "-n",
            "dpf",
            "-o",
            "json",
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, chain_view("True", "Success", ""));
}

/// A file under the temp dir with `text` (removed when dropped).
struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("sfcctl-test-{}-{n}.yaml", std::process::id()));
        std::fs::write(&p, text).unwrap();
        TempFile(p)
    }
    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const MANIFEST: &str = "\
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceInterface
metadata: {name: p0, namespace: dpf}
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceChain
metadata: {name: gone, namespace: dpf}
---
apiVersion: svc.dpu.nvidia.com/v1alpha1
kind: DPUServiceChain
metadata: {name: hbn}
";

#[test]
fn delete_f_deletes_every_named_object_and_reports_a_missing_one_at_the_end() {
    let file = TempFile::new(MANIFEST);
    let (path, server) = serve(|c| {
        c.hello();
        let mut asked = Vec::new();
        while let Some((id, req)) = c.next_request() {
            let Request::Delete(a) = req else {
                panic!("not delete: {req:?}")
            };
            asked.push(format!("{} {}/{}", a.kind, a.namespace, a.name));
            if a.name == "gone" {
                c.error(&id, "not-found", "DPUServiceChain dpf/gone not found");
            } else {
                c.ok(&id, json!({"deleted": asked.last()}));
            }
        }
        assert_eq!(
            asked,
            [
                "DPUServiceInterface dpf/p0",
                "DPUServiceChain dpf/gone",
                "DPUServiceChain default/hbn"
            ],
            "in file order, past the missing one"
        );
    });
    let (code, out, err) = sfcctl(path.as_str(), &["delete", "-f", file.as_str()], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "dpuserviceinterface.svc.dpu.nvidia.com/p0 deleted\n\
             dpuservicechain.svc.dpu.nvidia.com/hbn deleted\n\
             note: kind ConfigMap is not the dataplane's: skipped ({} document 2, v1 settings)\n",
            file.as_str()
        )
    );
    assert_eq!(
        err,
        "error [not-found]: DPUServiceChain dpf/gone not found\n"
    );
}

#[test]
fn delete_f_reads_stdin_and_several_files_and_exits_0_when_all_are_deleted() {
    let second = TempFile::new(
        r#"{"apiVersion": "svc.dpu.nvidia.com/v1alpha1", "kind": "ServiceChainSet", "metadata": {"name": "s", "namespace": "ns"}}"#,
    );
    let (path, server) = serve(|c| {
        c.hello();
        let mut n = 0;
        while let Some((id, req)) = c.next_request() {
            assert!(matches!(req, Request::Delete(_)), "{req:?}");
            n += 1;
            c.ok(&id, json!({}));
        }
        assert_eq!(n, 4);
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["delete", "-f", "-", "--filename", second.as_str()],
        MANIFEST,
    );
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.ends_with(
            "servicechainset.svc.dpu.nvidia.com/s deleted\nnote: kind ConfigMap is not the dataplane's: skipped (stdin document 2, v1 settings)\n"
        ),
        "{out}"
    );
}

#[test]
fn delete_f_with_nothing_of_ours_does_not_connect() {
    let path = SockPath::new();
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["delete", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "note: kind ConfigMap is not the dataplane's: skipped (stdin document 1, v1 x)\n\
         nothing to delete: no objects of the dataplane's kinds in the input\n"
    );
    // A document that cannot be read stops everything before connecting.
    let (code, _, err) = sfcctl(path.as_str(), &["delete", "-f", "-"], "kind: [x\n");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: stdin: document 1: cannot parse"),
        "{err}"
    );
}

#[test]
fn apply_several_files_sends_one_request_per_file_in_order() {
    let a = TempFile::new("kind: DPUServiceInterface\n# a\n");
    let b = TempFile::new("kind: DPUServiceChain\n# b\n");
    let report = |name: &str| {
        json!({"results": [{"kind": "DPUServiceChain", "namespace": "default", "name": name,
                            "action": "created", "generation": 1}], "notes": []})
    };
    let (path, server) = serve(move |c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(
            req,
            Request::Apply {
                objects: "kind: DPUServiceInterface\n# a\n".into()
            }
        );
        c.ok(&id, report("a"));
        let (id, req) = c.request();
        assert_eq!(
            req,
            Request::Apply {
                objects: "kind: DPUServiceChain\n# b\n".into()
            }
        );
        c.ok(&id, report("b"));
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["apply", "-f", a.as_str(), "-f", b.as_str()],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "dpuservicechain.svc.dpu.nvidia.com/a created\ndpuservicechain.svc.dpu.nvidia.com/b created\n"
    );
}

#[test]
fn apply_stops_at_the_first_file_that_fails() {
    let a = TempFile::new("kind: DPUServiceInterface\n");
    let b = TempFile::new("kind: DPUServiceChain\n");
    let c3 = TempFile::new("kind: ServiceChain\n");
    let (path, server) = serve(|c| {
        c.hello();
        let (id, _) = c.request();
        c.ok(
            &id,
            json!({"results": [{"kind": "DPUServiceInterface", "namespace": "default", "name": "p0",
                                "action": "unchanged", "generation": 1}], "notes": []}),
        );
        let (id, _) = c.request();
        c.error(
            &id,
            "invalid",
            "DPUServiceChain default/x: spec: required field missing",
        );
        assert_eq!(c.until_eof(), 0, "the third file is not sent");
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &[
            "apply",
            "-f",
            a.as_str(),
            "-f",
            b.as_str(),
            "-f",
            c3.as_str(),
        ],
        "",
    );
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(out, "dpuserviceinterface.svc.dpu.nvidia.com/p0 unchanged\n");
    assert_eq!(
        err,
        format!(
            "error [invalid]: DPUServiceChain default/x: spec: required field missing\n\
             note: {} was not applied; 1 file(s) before it were applied, 1 after it were not tried\n",
            b.as_str()
        )
    );
}

#[test]
fn get_o_yaml_prints_the_result_as_yaml() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, req) = c.request();
        assert_get_hbn(&req);
        c.ok(&id, chain_view("False", "Pending", "line one\nline two"));
    });
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["get", "dpuservicechain", "hbn", "-n", "dpf", "-o", "yaml"],
        "",
    );
    server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        render::yaml(&chain_view("False", "Pending", "line one\nline two"))
    );
    let back: Value = serde_yaml::from_str(&out).unwrap();
    assert_eq!(back, chain_view("False", "Pending", "line one\nline two"));
}

#[test]
fn label_node_is_the_same_request_as_label_node_words() {
    for argv in [
        &["label-node", "bfb=dk", "zone="][..],
        &["label", "node", "bfb=dk", "zone="][..],
    ] {
        let (path, server) = serve(|c| {
            c.hello();
            let (id, req) = c.request();
            assert_eq!(
                req,
                Request::SetNodeLabels {
                    labels: [
                        ("bfb".to_string(), "dk".to_string()),
                        ("zone".to_string(), String::new())
                    ]
                    .into()
                }
            );
            c.ok(&id, json!({"labels": {"bfb": "dk", "zone": ""}}));
        });
        let (code, out, _) = sfcctl(path.as_str(), argv, "");
        server.join().unwrap();
        assert_eq!(
            (code, out.as_str()),
            (0, "node labels set: bfb=dk,zone=\n"),
            "{argv:?}"
        );
    }
}

#[test]
fn new_commands_check_their_arguments_before_connecting() {
    let path = SockPath::new();
    let cases: &[(&[&str], &str)] = &[
        (&["wait", "dpuservicechain", "hbn"], "--for"),
        (
            &["wait", "--for=ready", "dpuservicechain", "hbn"],
            "expected condition=TYPE",
        ),
        (
            &["wait", "--for=condition=Ready", "dpuservicechain"],
            "error: which DPUServiceChain? give its NAME",
        ),
        (
            &["wait", "--for=delete", "widgets/x"],
            "error: unknown kind \"widgets\"",
        ),
        (
            &[
                "wait",
                "--for=delete",
                "servicechain",
                "x",
                "--timeout",
                "5x",
            ],
            "is not a duration",
        ),
        (&["delete"], "required"),
        (
            &["delete", "servicechain", "x", "-f", "a.yaml"],
            "cannot be used with",
        ),
        (
            &["delete", "-f", "a.yaml", "-n", "ns"],
            "cannot be used with",
        ),
        (
            &["delete", "-f", "-", "-f", "-"],
            "error: stdin (-f -) can be read only once",
        ),
        (&["apply"], "required"),
        (&["label-node"], "required"),
        (&["get", "all", "-o", "xml"], "invalid value 'xml'"),
    ];
    for (args, want) in cases {
        let (code, out, err) = sfcctl(path.as_str(), args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

// ---- status as a readiness probe ----

fn not_ready_view() -> StatusView {
    StatusView {
        ready: false,
        workers: vec![WorkerView {
            last_poll_age_ms: 3_000,
            ..status_view().workers[0].clone()
        }],
        ..status_view()
    }
}

/// Answers one `status` with `view`.
fn status_server(view: StatusView) -> (SockPath, JoinHandle<()>) {
    serve(move |c| {
        c.hello();
        let (id, req) = c.request();
        assert_eq!(req, Request::Status);
        c.ok(&id, json!(view));
        c.until_eof();
    })
}

#[test]
fn status_exits_1_when_sfcd_is_not_ready_and_says_why() {
    let (path, server) = status_server(not_ready_view());
    let (code, out, err) = sfcctl(path.as_str(), &["status"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(out, render::status(&not_ready_view()));
    assert_eq!(err, "sfcd is not ready: worker 0 last polled 3.0s ago\n");

    let (path, server) = status_server(StatusView {
        workers: vec![],
        ..not_ready_view()
    });
    let (code, out, err) = sfcctl(path.as_str(), &["status", "-o", "json"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ready"], json!(false));
    assert_eq!(err, "sfcd is not ready: it has no workers\n");
}

#[test]
fn status_quiet_prints_nothing_and_exits_0_1_or_3() {
    let (path, server) = status_server(status_view());
    let r = sfcctl(path.as_str(), &["status", "--quiet"], "");
    server.join().unwrap();
    assert_eq!(r, (0, String::new(), String::new()));

    let (path, server) = status_server(not_ready_view());
    let r = sfcctl(path.as_str(), &["status", "-q"], "");
    server.join().unwrap();
    assert_eq!(r, (1, String::new(), String::new()));

    // An error answer is not ready either.
    let (path, server) = serve(|c| {
        c.hello();
        let (id, _) = c.request();
        c.error(&id, "internal", "sfcd is shutting down");
        c.until_eof();
    });
    let r = sfcctl(path.as_str(), &["status", "--quiet"], "");
    server.join().unwrap();
    assert_eq!(r, (1, String::new(), String::new()));

    let missing = SockPath::new();
    let r = sfcctl(missing.as_str(), &["status", "--quiet"], "");
    assert_eq!(r, (3, String::new(), String::new()));
}

#[test]
fn the_binary_status_quiet_is_a_probe_with_no_output() {
    let (path, server) = status_server(not_ready_view());
    let out = Command::new(env!("CARGO_BIN_EXE_sfcctl"))
        .args(["--socket", path.as_str(), "status", "--quiet"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let missing = SockPath::new();
    let out = Command::new(env!("CARGO_BIN_EXE_sfcctl"))
        .args(["--socket", missing.as_str(), "status", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

// ---- top / stats --watch ----

/// Answers `ports` and `flows` for as long as the client asks; sample k
/// has p0 at 1000*k packets received, 500*k sent, k no-peer drops and a
/// cross-connect flow at 1000*k. Returns the ops seen.
fn live_server() -> (SockPath, JoinHandle<Vec<&'static str>>) {
    let path = SockPath::new();
    let listener = UnixListener::bind(&path.0).unwrap();
    let h = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut c = Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        };
        c.hello();
        let mut ops = Vec::new();
        let mut k = 0u64;
        while let Some((id, req)) = c.next_request() {
            ops.push(req.op());
            match req {
                Request::Ports => {
                    k += 1;
                    c.ok(
                        &id,
                        json!([{
                            "name": "p0", "id": 0, "devargs": "net_null0", "driver": "net_null",
                            "link_up": true, "speed_mbps": 0, "switch": "dpf/x switch 0",
                            "offload": "software",
                            "rx_packets": 1000 * k, "rx_bytes": 64_000 * k,
                            "tx_packets": 500 * k, "tx_bytes": 32_000 * k,
                            "drops": {"no-peer": k, "tx-full": 0},
                        }]),
                    );
                }
                Request::Flows(f) => {
                    assert_eq!(f, Default::default(), "top asks for every flow");
                    c.ok(
                        &id,
                        json!({"generation": 3, "flows": [{
                            "chain": "dpf/x", "switch": 0, "kind": "cross-connect",
                            "in_port": "p0", "match": "in_port=p0", "action": "output:p1",
                            "packets": 1000 * k, "bytes": 64_000 * k, "offload": "software",
                        }]}),
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        ops
    });
    (path, h)
}

#[test]
fn top_json_prints_one_object_per_interval_from_successive_samples() {
    let (path, server) = live_server();
    let (code, out, err) = sfcctl(
        path.as_str(),
        &["top", "--count", "2", "--interval", "100ms", "-o", "json"],
        "",
    );
    let ops = server.join().unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    // Three samples make two frames.
    assert_eq!(ops, ["ports", "flows", "ports", "flows", "ports", "flows"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for l in lines {
        let f: sfc_control::cli::top::Frame = serde_json::from_str(l).unwrap();
        assert!(f.interval_s >= 0.09, "{f:?}");
        let p = &f.ports[0];
        // Each interval saw 1000 rx, 500 tx, 1 drop and 1000 forwarded.
        let per = |rate: f64| (rate * f.interval_s).round();
        assert_eq!(
            (per(p.rx_pps), per(p.tx_pps), per(p.drop_pps)),
            (1000.0, 500.0, 1.0)
        );
        assert_eq!(per(p.rx_bps), 64_000.0 * 8.0);
        assert_eq!(per(f.switches[0].pps), 1000.0);
        assert_eq!(f.switches[0].ports, vec!["p0".to_string()]);
    }
}

#[test]
fn stats_prints_one_frame_and_stats_watch_is_top() {
    let (path, server) = live_server();
    let (code, out, err) = sfcctl(path.as_str(), &["stats", "--interval", "100ms"], "");
    assert_eq!(server.join().unwrap().len(), 4, "two samples");
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("interval 0."), "{out}");
    assert_eq!(out.matches("PORT ").count(), 1, "{out}");
    assert!(out.contains("\nCHAIN "), "{out}");
    assert!(!out.contains('\x1b'), "no clear-screen when not a terminal");

    let (path, server) = live_server();
    let (code, out, _) = sfcctl(
        path.as_str(),
        &["stats", "--watch", "--count", "2", "--interval", "100ms"],
        "",
    );
    assert_eq!(server.join().unwrap().len(), 6);
    assert_eq!(code, 0);
    // Appended frames, a blank line between them.
    assert_eq!(out.matches("PORT ").count(), 2, "{out}");
    assert!(out.contains("\n\ninterval "), "{out}");
}

#[test]
fn top_clears_the_screen_before_each_frame_on_a_terminal() {
    let (path, server) = live_server();
    let argv = [
        "sfcctl",
        "--socket",
        path.as_str(),
        "top",
        "--count",
        "2",
        "--interval",
        "100ms",
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run_with(argv, &mut "".as_bytes(), &mut out, &mut err, true);
    server.join().unwrap();
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.matches(sfc_control::cli::top::CLEAR).count(), 2);
    assert!(out.starts_with(sfc_control::cli::top::CLEAR));
}

#[test]
fn the_binary_top_into_a_pipe_appends_plain_frames() {
    let (path, server) = live_server();
    let out = Command::new(env!("CARGO_BIN_EXE_sfcctl"))
        .args([
            "--socket",
            path.as_str(),
            "top",
            "--count",
            "1",
            "--interval",
            "100ms",
        ])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("interval "), "{text}");
    assert!(!text.contains('\x1b'));
}

#[test]
fn top_checks_its_arguments_before_connecting() {
    let path = SockPath::new();
    let cases: &[(&[&str], &str)] = &[
        (&["top", "--count", "0"], "--count"),
        (&["top", "--interval", "10ms"], "at least 100ms"),
        (&["stats", "--interval", "x"], "is not a duration"),
    ];
    for (args, want) in cases {
        let (code, out, err) = sfcctl(path.as_str(), args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn top_stops_with_exit_1_when_sfcd_goes_away() {
    let (path, server) = serve(|c| {
        c.hello();
        let (id, _) = c.request();
        c.ok(&id, json!([]));
        let (id, _) = c.request();
        c.ok(&id, json!({"generation": 1, "flows": []}));
        // Then hang up mid-watch.
    });
    let (code, _, err) = sfcctl(path.as_str(), &["top", "--interval", "100ms"], "");
    server.join().unwrap();
    assert_eq!(code, 1);
    // Refused write or end of stream, depending on timing.
    assert!(
        err.contains("closed the connection") || err.contains("Broken pipe"),
        "{err}"
    );
}
