//! `sfcctl`, the operator CLI of sfcd: arguments ([`Cli`]), the socket
//! client ([`client`]), text rendering ([`render`]), and [`run`], which ties
//! them together with injected stdin/stdout/stderr so tests can drive it.
//!
//! Exit codes: [`EXIT_OK`] 0, [`EXIT_ERROR`] 1 (an error answer, or a
//! failure after connecting; `status` when sfcd is not ready),
//! [`EXIT_USAGE`] 2 (bad arguments, found by clap or by the local checks),
//! [`EXIT_UNREACHABLE`] 3 (cannot connect).

pub mod client;
pub mod manifest;
pub mod render;
pub mod top;
pub mod wait;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::{Kind, API_VERSION};
use crate::protocol::{FlowFilter, FlowTable, ObjectArgs, PortView, Request, StatusView};
use crate::store::{ApplyReport, ObjectView};
use client::{Client, ClientError};

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;

/// The socket sfcd listens on unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/sfcd/sfcd.sock";

/// Operate sfcd, the DPF service-chain dataplane, through its control socket.
#[derive(Debug, Parser)]
#[command(name = "sfcctl", version, propagate_version = true)]
pub struct Cli {
    /// sfcd's control socket.
    #[arg(long, global = true, value_name = "PATH", env = "SFCD_SOCKET", hide_env_values = true, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Output format: table, json (the server's answer, pretty), yaml (the
    /// same as YAML) or wide (tables with more columns).
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// How long to wait for each answer [default: 10s]; for `wait`, how
    /// long to wait in all [default: 30s]. 30s, 2m, 500ms, 1m30s, or plain
    /// seconds (fractions allowed).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
    Wide,
    /// `flows` only: every hardware rule as a `dpdk-testpmd` command.
    Testpmd,
}

/// How long each answer may take unless `--timeout` says otherwise.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

impl Cli {
    /// How long each answer may take.
    pub fn answer_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_ANSWER_TIMEOUT)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply DPF objects (YAML, several documents, or JSON); each file is
    /// all or nothing, files are applied in order.
    Apply {
        /// File of objects, `-` for stdin; repeat for several files.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Delete one applied object, or every object named in files.
    Delete(DeleteCmd),
    /// List objects of a kind (`all` for every kind), or show one.
    Get {
        /// DPUServiceChain, servicechains, ..., `all`; or KIND/NAME.
        kind: String,
        name: Option<String>,
        /// Namespace (a single object defaults to `default`; a list shows
        /// every namespace unless given).
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Show an object's conditions as a tree (dpfctl describe).
    Describe(ObjectCmd),
    /// Wait until an object has a condition (e.g. Ready), or is deleted.
    Wait(WaitCmd),
    /// Set the node's labels (they replace the current labels).
    LabelNode {
        /// KEY=VALUE pairs (an empty VALUE is allowed).
        #[arg(required = true, value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// Set the node's labels: `label node KEY=VALUE...` (same as label-node).
    Label {
        #[arg(value_enum)]
        target: LabelTarget,
        /// KEY=VALUE pairs (an empty VALUE is allowed).
        #[arg(required = true, value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// List the dataplane's ports, or attach/detach one.
    Ports {
        #[command(subcommand)]
        action: Option<PortsCmd>,
    },
    /// Dump the flow table (like ovs-ofctl dump-flows).
    Flows {
        /// Only this chain (NAMESPACE/NAME; NAME alone means `default/NAME`).
        #[arg(long, value_name = "NS/NAME")]
        chain: Option<String>,
        /// Only this switch index of the chain(s).
        #[arg(long, value_name = "N")]
        switch: Option<usize>,
        /// Only flows in or out of this port.
        #[arg(long, value_name = "NAME")]
        port: Option<String>,
    },
    /// Readiness, node, uptime, generation, workers and port links. Exits 0
    /// when sfcd is ready, 1 when it is not: a readiness probe.
    Status {
        /// Print nothing, not even errors: only the exit code (0 ready, 1 not
        /// ready or an error answer, 3 sfcd unreachable).
        #[arg(short, long)]
        quiet: bool,
    },
    /// Live rates per port and per switch, refreshed every interval until
    /// interrupted (or --count frames).
    Top(TopArgs),
    /// Rates per port and per switch over one interval; with --watch, the
    /// live view of `top`.
    Stats {
        /// Keep refreshing, like `top`.
        #[arg(short, long)]
        watch: bool,
        #[command(flatten)]
        every: TopArgs,
    },
    /// sfcctl's version and the server's (from its hello).
    Version,
    /// Print a shell completion script to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// KIND NAME [-n NS].
#[derive(Debug, clap::Args)]
pub struct ObjectCmd {
    /// DPUServiceChain, dpuservicechains, ...; or KIND/NAME.
    pub kind: String,
    pub name: Option<String>,
    /// Namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
}

/// `delete KIND NAME [-n NS]` or `delete -f FILE...`.
#[derive(Debug, clap::Args)]
pub struct DeleteCmd {
    /// DPUServiceChain, dpuservicechains, ...; or KIND/NAME.
    #[arg(required_unless_present = "files")]
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Namespace [default: default].
    #[arg(short, long, conflicts_with = "files")]
    pub namespace: Option<String>,
    /// Delete the objects named in FILE (`-` for stdin); repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE", conflicts_with_all = ["kind", "name"])]
    pub files: Vec<PathBuf>,
}

/// `wait --for=... KIND NAME [-n NS]`.
#[derive(Debug, clap::Args)]
pub struct WaitCmd {
    /// condition=TYPE (status True), condition=TYPE=True|False|Unknown, or
    /// delete.
    #[arg(long = "for", value_name = "CONDITION", value_parser = wait::parse_for)]
    pub for_: wait::WaitFor,
    #[command(flatten)]
    pub object: ObjectCmd,
}

/// `top`'s pace: how often and how many frames.
#[derive(Debug, Clone, clap::Args)]
pub struct TopArgs {
    /// Stop after N frames (default: `top` and `stats --watch` run until
    /// interrupted; `stats` prints one).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Time between samples: 1s, 500ms, 2s, ... (at least 100ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
}

/// A `top` interval: a duration as `--timeout` takes it, at least
/// [`top::MIN_INTERVAL`].
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_timeout(s)?;
    if d < top::MIN_INTERVAL {
        return Err(format!(
            "{s:?}: the interval must be at least {}",
            human_duration(top::MIN_INTERVAL)
        ));
    }
    Ok(d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabelTarget {
    Node,
}

#[derive(Debug, Subcommand)]
pub enum PortsCmd {
    /// Attach a port at run time: NAME and DPDK devargs.
    Attach { name: String, devargs: String },
    /// Detach a port (its chains lose it).
    Detach { name: String },
}

/// A timeout: `30s`, `2m`, `500ms`, `1h`, Go-style sums like `1m30s`, or
/// plain seconds (`10`, `0.5`). More than 0, at most a day.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{s:?} is not a duration: give e.g. 30s, 2m, 500ms, 1m30s or plain seconds (0.5)")
    };
    let t = s.trim();
    let secs: f64 = match t.parse::<f64>() {
        Ok(n) => n,
        Err(_) if t.is_empty() => return Err(bad()),
        Err(_) => {
            let mut total = 0.0;
            let mut rest = t;
            while !rest.is_empty() {
                let num = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                let n: f64 = rest[..num].parse().map_err(|_| bad())?;
                rest = &rest[num..];
                let unit = rest
                    .find(|c: char| c.is_ascii_digit() || c == '.')
                    .unwrap_or(rest.len());
                total += n * match &rest[..unit] {
                    "ms" => 0.001,
                    "s" => 1.0,
                    "m" => 60.0,
                    "h" => 3600.0,
                    _ => return Err(bad()),
                };
                rest = &rest[unit..];
            }
            total
        }
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{s:?}: the timeout must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration the way people write it: `500ms`, `1.5s`, `30s`, `2m`,
/// `1m30s`, `1h`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if d.subsec_millis() != 0 || ms < 60_000 {
        return format!("{}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (h, 0, 0) if h > 0 => format!("{h}h"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

/// A failure of one invocation, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    /// For stderr (one or more lines, no final newline).
    pub message: String,
    /// For stdout: what was done before the failure (e.g. the files applied
    /// before the one that failed).
    pub partial: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: format!("error: {}", message.into()),
            partial: String::new(),
        }
    }

    fn error(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_ERROR,
            message: format!("error: {}", message.into()),
            partial: String::new(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        // These two already say what they are, in the documented words.
        let message = match e {
            ClientError::Connect { .. } | ClientError::Server(_) => e.to_string(),
            _ => format!("error: {e}"),
        };
        Failure {
            code: e.exit_code(),
            message,
            partial: String::new(),
        }
    }
}

/// Runs sfcctl with `args` (program name first) and returns the exit code.
/// Output is taken not to be a terminal (see [`run_with`]).
pub fn run<I, T>(args: I, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, stdin, out, err, false)
}

/// [`run`], told whether `out` is a terminal (`top` then clears the screen
/// before each frame instead of appending frames).
pub fn run_with<I, T>(
    args: I,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    tty: bool,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let text = e.render().to_string();
            let code = e.exit_code();
            // Nothing sensible is left to do if the terminal is gone.
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    // The live view writes frame by frame.
    if let Some((every, count)) = live(&cli.command) {
        return match top::run(&cli, every.interval, count, out, tty) {
            Ok(()) => EXIT_OK,
            Err(f) => {
                let _ = writeln!(err, "{}", f.message);
                f.code
            }
        };
    }
    // `status --quiet`: the exit code says it all.
    if matches!(cli.command, Command::Status { quiet: true }) {
        return match execute(&cli, stdin) {
            Ok(_) => EXIT_OK,
            Err(f) => f.code,
        };
    }
    match execute(&cli, stdin) {
        Ok(text) => match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => EXIT_OK,
            // `sfcctl flows | head` closes the pipe early: not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
            Err(e) => {
                let _ = writeln!(err, "sfcctl: writing the output: {e}");
                EXIT_ERROR
            }
        },
        Err(f) => {
            let _ = out
                .write_all(f.partial.as_bytes())
                .and_then(|()| out.flush());
            let _ = writeln!(err, "{}", f.message);
            f.code
        }
    }
}

/// `top` and `stats`: their pace and how many frames (None: until
/// interrupted).
fn live(command: &Command) -> Option<(&TopArgs, Option<u64>)> {
    match command {
        Command::Top(every) => Some((every, every.count)),
        Command::Stats { watch: true, every } => Some((every, every.count)),
        Command::Stats {
            watch: false,
            every,
        } => Some((every, Some(every.count.unwrap_or(1)))),
        _ => None,
    }
}

/// Why sfcd says it is not ready, from its `status` answer.
pub fn not_ready_reason(s: &StatusView) -> String {
    if s.workers.is_empty() {
        return "sfcd is not ready: it has no workers".to_string();
    }
    let stale: Vec<String> = s
        .workers
        .iter()
        .filter(|w| w.last_poll_age_ms >= 1000)
        .map(|w| {
            format!(
                "worker {} last polled {} ago",
                w.index,
                render::duration_ms(w.last_poll_age_ms)
            )
        })
        .collect();
    if stale.is_empty() {
        "sfcd is not ready".to_string()
    } else {
        format!("sfcd is not ready: {}", stale.join(", "))
    }
}

/// Does what `cli` says and returns the text for stdout. `top` (and
/// `stats`) are run to the end here and their frames returned at once;
/// [`run`] streams them instead.
pub fn execute(cli: &Cli, stdin: &mut dyn Read) -> Result<String, Failure> {
    if let Some((every, count)) = live(&cli.command) {
        let Some(count) = count else {
            return Err(Failure::usage(
                "a live view without --count never ends; give --count N",
            ));
        };
        let mut buf = Vec::new();
        top::run(cli, every.interval, Some(count), &mut buf, false)?;
        return Ok(String::from_utf8_lossy(&buf).into_owned());
    }
    let structured = structured(cli.output);
    let wide = cli.output == Output::Wide;
    // Commands that need no server, and local checks before connecting.
    let req = match &cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "sfcctl", &mut buf);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        Command::Version => None,
        Command::Apply { files } => return apply_files(cli, files, stdin),
        Command::Delete(d) if !d.files.is_empty() => return delete_files(cli, &d.files, stdin),
        Command::Delete(d) => {
            let kind = d.kind.clone().unwrap_or_default();
            Some(Request::Delete(object_args(&ObjectCmd {
                kind,
                name: d.name.clone(),
                namespace: d.namespace.clone().unwrap_or_else(|| "default".into()),
            })?))
        }
        Command::Wait(w) => return wait::run(cli, w),
        Command::Describe(o) => Some(Request::Describe(object_args(o)?)),
        Command::Get {
            kind,
            name,
            namespace,
        } => Some(get_request(kind, name.as_deref(), namespace.as_deref())?),
        Command::LabelNode { labels } | Command::Label { labels, .. } => {
            Some(Request::SetNodeLabels {
                labels: parse_labels(labels)?,
            })
        }
        Command::Ports { action } => Some(match action {
            None => Request::Ports,
            Some(PortsCmd::Attach { name, devargs }) => Request::Attach {
                name: name.clone(),
                devargs: devargs.clone(),
            },
            Some(PortsCmd::Detach { name }) => Request::Detach { name: name.clone() },
        }),
        Command::Flows {
            chain,
            switch,
            port,
        } => Some(Request::Flows(FlowFilter {
            chain: chain.as_deref().map(chain_key).transpose()?,
            switch: *switch,
            port: port.clone(),
        })),
        Command::Status { .. } => Some(Request::Status),
        // Run by `live` above.
        Command::Top(_) | Command::Stats { .. } => return Ok(String::new()),
    };
    let mut client = Client::connect(&cli.socket, cli.answer_timeout())?;
    let Some(req) = req else {
        let hello = client.hello();
        if let Some(fmt) = structured {
            let v = serde_json::json!({
                "client": { "version": env!("CARGO_PKG_VERSION"), "protocol": crate::protocol::VERSION },
                "server": hello,
            });
            return Ok(fmt(&v));
        }
        return Ok(render::version(env!("CARGO_PKG_VERSION"), hello));
    };
    let result = client.call(&req)?;
    if let Request::Status = req {
        let view = decode::<StatusView>(req.op(), result.clone())?;
        let text = match structured {
            Some(fmt) => fmt(&result),
            None => render::status(&view),
        };
        if view.ready {
            return Ok(text);
        }
        return Err(Failure {
            code: EXIT_ERROR,
            message: not_ready_reason(&view),
            partial: text,
        });
    }
    if let Some(fmt) = structured {
        return Ok(fmt(&match (&cli.command, &req) {
            (Command::Get { namespace, .. }, Request::List { .. }) => {
                filter_namespace(result, namespace.as_deref())
            }
            _ => result,
        }));
    }
    let op = req.op();
    match &req {
        Request::Apply { .. } => Ok(render::apply_report(&decode::<ApplyReport>(op, result)?)),
        Request::Delete(a) => Ok(render::deleted(parse_kind(&a.kind)?, &a.name)),
        Request::Get(a) => {
            if result.is_null() {
                return Err(Failure::error(format!(
                    "{} {}/{} not found",
                    a.kind, a.namespace, a.name
                )));
            }
            let view = decode::<ObjectView>(op, result)?;
            Ok(render::objects(&[view], now_unix(), wide, false))
        }
        Request::List { kind } => {
            let namespace = match &cli.command {
                Command::Get { namespace, .. } => namespace.as_deref(),
                _ => None,
            };
            let views = decode::<Vec<ObjectView>>(op, filter_namespace(result, namespace))?;
            Ok(render::objects(&views, now_unix(), wide, kind.is_none()))
        }
        Request::Describe(_) => {
            // sfcd answers {"text": "..."}; a bare string is taken too.
            let text = match result {
                Value::String(t) => t,
                Value::Object(mut m) => match m.remove("text") {
                    Some(Value::String(t)) => t,
                    _ => return Err(bad_result(op, "no \"text\" in the answer")),
                },
                _ => return Err(bad_result(op, "no \"text\" in the answer")),
            };
            Ok(if text.ends_with('\n') || text.is_empty() {
                text
            } else {
                format!("{text}\n")
            })
        }
        Request::SetNodeLabels { labels } => {
            // sfcd answers with the labels the node now has.
            let now = result
                .get("labels")
                .and_then(|l| serde_json::from_value::<BTreeMap<String, String>>(l.clone()).ok());
            Ok(render::labels_set(now.as_ref().unwrap_or(labels)))
        }
        Request::Ports => Ok(render::ports(&decode::<Vec<PortView>>(op, result)?, wide)),
        Request::Attach { name, .. } => Ok(render::attached(
            name,
            result.get("id").and_then(Value::as_u64),
        )),
        Request::Detach { name } => Ok(render::detached(name)),
        Request::Flows(_) if cli.output == Output::Testpmd => {
            Ok(render::flows_testpmd(&decode::<FlowTable>(op, result)?))
        }
        Request::Flows(_) => Ok(render::flows(&decode::<FlowTable>(op, result)?)),
        // Answered above.
        Request::Status => Ok(render::status(&decode::<StatusView>(op, result)?)),
        Request::Hello => Ok(render::json(&result)),
    }
}

/// The renderer of `-o json` / `-o yaml`; `None` for the tables.
fn structured(output: Output) -> Option<fn(&Value) -> String> {
    match output {
        Output::Json => Some(render::json),
        Output::Yaml => Some(render::yaml),
        Output::Table | Output::Wide | Output::Testpmd => None,
    }
}

/// `apply -f FILE...`: every file is read first, then applied with one
/// request each, in order; the first failure stops the rest.
fn apply_files(cli: &Cli, files: &[PathBuf], stdin: &mut dyn Read) -> Result<String, Failure> {
    let inputs = read_inputs(files, stdin)?;
    let mut client = Client::connect(&cli.socket, cli.answer_timeout())?;
    let structured = structured(cli.output);
    let mut text = String::new();
    let (mut results, mut notes) = (Vec::new(), Vec::new());
    for (i, (source, objects)) in inputs.into_iter().enumerate() {
        let answer = client.call(&Request::Apply { objects });
        let answer = answer.map_err(Failure::from).and_then(|v| {
            if structured.is_some() {
                Ok(v)
            } else {
                let report = decode::<ApplyReport>("apply", v.clone())?;
                text.push_str(&render::apply_report(&report));
                Ok(v)
            }
        });
        match answer {
            Ok(v) if files.len() == 1 => {
                return Ok(structured.map_or(text, |fmt| fmt(&v)));
            }
            Ok(v) => {
                // Several files' reports merge into one of the same shape.
                for (key, into) in [("results", &mut results), ("notes", &mut notes)] {
                    if let Some(Value::Array(items)) = v.get(key) {
                        into.extend(items.iter().cloned());
                    }
                }
            }
            Err(mut f) => {
                if files.len() > 1 {
                    let after = files.len() - i - 1;
                    f.message.push_str(&format!(
                        "\nnote: {source} was not applied; {i} file(s) before it were applied, {after} after it were not tried"
                    ));
                }
                f.partial = match structured {
                    Some(fmt) if i > 0 => {
                        fmt(&serde_json::json!({"results": results, "notes": notes}))
                    }
                    Some(_) => String::new(),
                    None => text,
                };
                return Err(f);
            }
        }
    }
    Ok(match structured {
        Some(fmt) => fmt(&serde_json::json!({"results": results, "notes": notes})),
        None => text,
    })
}

/// `delete -f FILE...`: every object of the dataplane's kinds named in the
/// files, in order. An object that cannot be deleted (not found, ...) is
/// reported and the others are still deleted; the exit code is then 1.
fn delete_files(cli: &Cli, files: &[PathBuf], stdin: &mut dyn Read) -> Result<String, Failure> {
    let mut targets: Vec<manifest::Named> = Vec::new();
    let mut notes = Vec::new();
    for (source, text) in read_inputs(files, stdin)? {
        let found = manifest::named_objects(&text, &source).map_err(Failure::error)?;
        for t in found.objects {
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        notes.extend(found.notes);
    }
    let structured = structured(cli.output);
    let mut out = String::new();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut code = EXIT_OK;
    if !targets.is_empty() {
        let mut client = Client::connect(&cli.socket, cli.answer_timeout())?;
        for (i, t) in targets.iter().enumerate() {
            let mut entry = serde_json::json!({
                "kind": t.kind, "namespace": t.namespace, "name": t.name,
            });
            match client.call(&Request::Delete(t.args())) {
                Ok(_) => {
                    out.push_str(&render::deleted(t.kind, &t.name));
                    entry["deleted"] = Value::Bool(true);
                    results.push(entry);
                }
                Err(ClientError::Server(e)) => {
                    entry["deleted"] = Value::Bool(false);
                    entry["error"] = serde_json::json!(e);
                    results.push(entry);
                    let f = Failure::from(ClientError::Server(e));
                    errors.push(f.message);
                    code = f.code;
                }
                Err(e) => {
                    // The connection is gone or confused: stop here.
                    let f = Failure::from(e);
                    errors.push(f.message);
                    errors.push(format!(
                        "note: {} object(s) from {} on were not deleted",
                        targets.len() - i,
                        t
                    ));
                    code = f.code;
                    break;
                }
            }
        }
    }
    for n in &notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if targets.is_empty() {
        out.push_str("nothing to delete: no objects of the dataplane's kinds in the input\n");
    }
    if let Some(fmt) = structured {
        out = fmt(&serde_json::json!({"results": results, "notes": notes}));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Failure {
            code,
            message: errors.join("\n"),
            partial: out,
        })
    }
}

fn decode<T: DeserializeOwned>(op: &'static str, v: Value) -> Result<T, Failure> {
    serde_json::from_value(v).map_err(|e| bad_result(op, e))
}

fn bad_result(op: &'static str, e: impl std::fmt::Display) -> Failure {
    Failure::from(ClientError::BadResponse {
        op,
        message: e.to_string(),
    })
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Keeps the objects of `namespace` in a `list` answer (all when `None`).
fn filter_namespace(v: Value, namespace: Option<&str>) -> Value {
    match (v, namespace) {
        (Value::Array(items), Some(ns)) => Value::Array(
            items
                .into_iter()
                .filter(|o| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
                .collect(),
        ),
        (v, _) => v,
    }
}

/// Every `-f` input as (what to call it, text), in order; stdin (`-`) at
/// most once.
fn read_inputs(files: &[PathBuf], stdin: &mut dyn Read) -> Result<Vec<(String, String)>, Failure> {
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(Failure::usage("stdin (-f -) can be read only once"));
    }
    files
        .iter()
        .map(|f| {
            let name = if f.as_os_str() == "-" {
                "stdin".to_string()
            } else {
                f.display().to_string()
            };
            Ok((name, read_input(f, stdin)?))
        })
        .collect()
}

fn read_input(file: &std::path::Path, stdin: &mut dyn Read) -> Result<String, Failure> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        stdin
            .read_to_string(&mut text)
            .map_err(|e| Failure::error(format!("reading objects from stdin: {e}")))?;
    } else {
        text = std::fs::read_to_string(file)
            .map_err(|e| Failure::error(format!("reading {}: {e}", file.display())))?;
    }
    if text.trim().is_empty() {
        return Err(Failure::error(format!(
            "{}: no objects (the input is empty)",
            if file.as_os_str() == "-" {
                "stdin".to_string()
            } else {
                file.display().to_string()
            }
        )));
    }
    Ok(text)
}

/// A kind as kubectl users write it: `DPUServiceChain`, `servicechains`,
/// `dpuservicechain.svc.dpu.nvidia.com`.
pub fn parse_kind(s: &str) -> Result<Kind, Failure> {
    let group = API_VERSION.split('/').next().unwrap_or_default();
    let bare = s
        .strip_suffix(group)
        .and_then(|k| k.strip_suffix('.'))
        .unwrap_or(s);
    Kind::from_str(bare).map_err(|e| Failure::usage(e.to_string()))
}

/// KIND NAME, or KIND/NAME in one argument.
fn split_kind_name(kind: &str, name: Option<&str>) -> Result<(Kind, Option<String>), Failure> {
    match (kind.split_once('/'), name) {
        (Some((k, n)), None) if !n.is_empty() => Ok((parse_kind(k)?, Some(n.to_string()))),
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "give either KIND/NAME or KIND NAME, not {kind:?} and {:?}",
            name.unwrap_or_default()
        ))),
        (Some(_), None) => Err(Failure::usage(format!("{kind:?} names no object"))),
        (None, n) => Ok((parse_kind(kind)?, n.map(str::to_string))),
    }
}

fn object_args(o: &ObjectCmd) -> Result<ObjectArgs, Failure> {
    let (kind, name) = split_kind_name(&o.kind, o.name.as_deref())?;
    let name = name.ok_or_else(|| Failure::usage(format!("which {kind}? give its NAME")))?;
    Ok(ObjectArgs {
        kind: kind.as_str().to_string(),
        namespace: o.namespace.clone(),
        name,
    })
}

fn get_request(
    kind: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<Request, Failure> {
    if kind.eq_ignore_ascii_case("all") {
        if let Some(n) = name {
            return Err(Failure::usage(format!(
                "`get all` lists every kind; name a kind to get {n:?}"
            )));
        }
        return Ok(Request::List { kind: None });
    }
    let (kind, name) = split_kind_name(kind, name)?;
    Ok(match name {
        Some(name) => Request::Get(ObjectArgs {
            kind: kind.as_str().to_string(),
            namespace: namespace.unwrap_or("default").to_string(),
            name,
        }),
        None => Request::List {
            kind: Some(kind.as_str().to_string()),
        },
    })
}

/// `KEY=VALUE` arguments as labels, each checked as Kubernetes does.
pub fn parse_labels(args: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut labels = BTreeMap::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(Failure::usage(format!(
                "label {a:?} is not KEY=VALUE (e.g. feature.node.kubernetes.io/dpu=true)"
            )));
        };
        crate::validate::label_key(k, &format!("label {a:?}"))
            .and_then(|()| crate::validate::label_value(v, &format!("label {a:?}")))
            .map_err(|e| Failure::usage(format!("{}: {}", e.path, e.message)))?;
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Failure::usage(format!("label key {k:?} is given twice")));
        }
    }
    Ok(labels)
}

/// `NS/NAME` of a chain; a bare NAME is in `default`.
fn chain_key(s: &str) -> Result<String, Failure> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(s.to_string())
        }
        None if !s.is_empty() => Ok(format!("default/{s}")),
        _ => Err(Failure::usage(format!(
            "--chain {s:?} is not NAMESPACE/NAME"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts_take_units_go_style_sums_and_plain_seconds() {
        let ok = |s: &str| parse_timeout(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok("0.3"), Duration::from_millis(300));
        assert_eq!(ok("86400"), Duration::from_secs(86_400));
        for bad in ["", "s", "5x", "m5", "1.2.3s", "5 s", "five", "30S"] {
            let e = parse_timeout(bad).unwrap_err();
            assert!(e.contains("is not a duration"), "{bad:?}: {e}");
        }
        for out_of_range in ["0", "0s", "-1", "86401", "25h", "inf", "NaN"] {
            let e = parse_timeout(out_of_range).unwrap_err();
            assert!(
                e.contains("must be more than 0 and at most 86400 seconds"),
                "{out_of_range:?}: {e}"
            );
        }
    }

    #[test]
    fn durations_are_shown_the_way_they_are_written() {
        let h = |ms: u64| human_duration(Duration::from_millis(ms));
        assert_eq!(h(500), "500ms");
        assert_eq!(h(1500), "1.5s");
        assert_eq!(h(30_000), "30s");
        assert_eq!(h(60_000), "1m");
        assert_eq!(h(90_000), "1m30s");
        assert_eq!(h(3_600_000), "1h");
        assert_eq!(h(3_690_000), "1h1m30s");
    }

    #[test]
    fn wait_takes_its_timeout_from_the_global_flag_with_its_own_default() {
        let cli =
            Cli::try_parse_from(["sfcctl", "wait", "--for=delete", "servicechain/x"]).unwrap();
        assert_eq!(cli.timeout, None);
        assert_eq!(cli.answer_timeout(), DEFAULT_ANSWER_TIMEOUT);
        let cli = Cli::try_parse_from([
            "sfcctl",
            "wait",
            "--for=condition=Ready",
            "servicechain",
            "x",
            "--timeout",
            "60s",
        ])
        .unwrap();
        assert_eq!(cli.timeout, Some(Duration::from_secs(60)));
        let Command::Wait(w) = &cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(
            (w.object.kind.as_str(), w.object.name.as_deref()),
            ("servicechain", Some("x"))
        );
    }
}
