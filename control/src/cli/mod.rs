//! `sfcctl`, the operator CLI of sfcd: arguments ([`Cli`]), the socket
//! client ([`client`]), text rendering ([`render`]), and [`run`], which ties
//! them together with injected stdin/stdout/stderr so tests can drive it.
//!
//! Exit codes: [`EXIT_OK`] 0, [`EXIT_ERROR`] 1 (an error answer, or a
//! failure after connecting), [`EXIT_USAGE`] 2 (bad arguments, found by
//! clap or by the local checks), [`EXIT_UNREACHABLE`] 3 (cannot connect).

pub mod client;
pub mod render;

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
    /// Output format: table, json (the server's answer, pretty) or wide
    /// (tables with more columns).
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Seconds to wait for each answer (fractions allowed).
    #[arg(long, global = true, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Wide,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply DPF objects (YAML, several documents, or JSON); all or nothing.
    Apply {
        /// File of objects, `-` for stdin.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
    },
    /// Delete one applied object.
    Delete(ObjectCmd),
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
    /// Set the node's labels (they replace the current labels).
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
    /// Readiness, node, uptime, generation, workers and port links.
    Status,
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

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{s:?}: the timeout must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A failure of one invocation, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: format!("error: {}", message.into()),
        }
    }

    fn error(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_ERROR,
            message: format!("error: {}", message.into()),
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
        }
    }
}

/// Runs sfcctl with `args` (program name first) and returns the exit code.
pub fn run<I, T>(args: I, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> i32
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
            let _ = writeln!(err, "{}", f.message);
            f.code
        }
    }
}

/// Does what `cli` says and returns the text for stdout.
pub fn execute(cli: &Cli, stdin: &mut dyn Read) -> Result<String, Failure> {
    let json = cli.output == Output::Json;
    let wide = cli.output == Output::Wide;
    // Commands that need no server, and local checks before connecting.
    let req = match &cli.command {
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "sfcctl", &mut buf);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        Command::Version => None,
        Command::Apply { file } => Some(Request::Apply {
            objects: read_input(file, stdin)?,
        }),
        Command::Delete(o) => Some(Request::Delete(object_args(o)?)),
        Command::Describe(o) => Some(Request::Describe(object_args(o)?)),
        Command::Get {
            kind,
            name,
            namespace,
        } => Some(get_request(kind, name.as_deref(), namespace.as_deref())?),
        Command::Label { labels, .. } => Some(Request::SetNodeLabels {
            labels: parse_labels(labels)?,
        }),
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
        Command::Status => Some(Request::Status),
    };
    let mut client = Client::connect(&cli.socket, cli.timeout)?;
    let Some(req) = req else {
        let hello = client.hello();
        if json {
            let v = serde_json::json!({
                "client": { "version": env!("CARGO_PKG_VERSION"), "protocol": crate::protocol::VERSION },
                "server": hello,
            });
            return Ok(render::json(&v));
        }
        return Ok(render::version(env!("CARGO_PKG_VERSION"), hello));
    };
    let result = client.call(&req)?;
    if json {
        return Ok(render::json(&match (&cli.command, &req) {
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
        Request::Flows(_) => Ok(render::flows(&decode::<FlowTable>(op, result)?)),
        Request::Status => Ok(render::status(&decode::<StatusView>(op, result)?)),
        Request::Hello => Ok(render::json(&result)),
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
