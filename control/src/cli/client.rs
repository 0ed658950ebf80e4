//! The control-socket client: connect, `hello` (refusing a server of
//! another protocol version), then request/response exchanges of one line
//! each. Every read is bounded by [`MAX_MESSAGE`] and by a deadline, so a
//! stuck or hostile server cannot hang or exhaust `sfcctl`.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::protocol::{ErrorCode, Hello, ProtocolError, Request, Response, MAX_MESSAGE, VERSION};

/// Why a command could not get its answer. [`ClientError::exit_code`] maps
/// each to sfcctl's exit status.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket cannot be reached (absent, refused, not allowed).
    #[error("cannot reach sfcd at {}: {source} ({})", path.display(), connect_hint(source))]
    Connect { path: PathBuf, source: io::Error },
    /// No (complete) answer within the timeout.
    #[error("sfcd at {} did not answer {op:?} within {}", path.display(), secs(*timeout))]
    Timeout {
        path: PathBuf,
        op: &'static str,
        timeout: Duration,
    },
    /// The connection failed after it was made.
    #[error("talking to sfcd at {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The server closed the connection before a whole answer.
    #[error("sfcd at {} closed the connection without answering {op:?}", path.display())]
    Closed { path: PathBuf, op: &'static str },
    /// The answer line is longer than the protocol allows.
    #[error("sfcd's answer to {op:?} is over the protocol limit of {MAX_MESSAGE} bytes; refused")]
    ResponseTooLarge { op: &'static str },
    /// Our request line would be longer than the protocol allows.
    #[error("the {op:?} request is {size} bytes, over the protocol limit of {MAX_MESSAGE} bytes")]
    RequestTooLarge { op: &'static str, size: usize },
    /// The answer is not a protocol response (or not for our request).
    #[error("sfcd sent a malformed answer to {op:?}: {message}")]
    BadResponse { op: &'static str, message: String },
    /// The server speaks another protocol version.
    #[error("protocol version mismatch: this sfcctl speaks version {VERSION}, {server}; use the sfcctl that comes with this sfcd")]
    Version { server: String },
    /// The server does not know the operation (an older sfcd).
    #[error("{server} does not support {op:?} (it supports: {ops})")]
    Unsupported {
        server: String,
        op: &'static str,
        ops: String,
    },
    /// An error answer.
    #[error("error [{}]: {}", .0.code.as_str(), .0.message)]
    Server(ProtocolError),
}

fn connect_hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "may this user use the socket? try as root",
        _ => "is sfcd running?",
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

impl ClientError {
    /// 3 when sfcd cannot be reached, 1 for every other failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Connect { .. } => super::EXIT_UNREACHABLE,
            _ => super::EXIT_ERROR,
        }
    }
}

/// One connection to sfcd, past `hello`.
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    hello: Hello,
}

impl Client {
    /// Connects and says hello; fails unless the server speaks
    /// [`VERSION`].
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let io_err = |source| ClientError::Io {
            path: path.to_path_buf(),
            source,
        };
        let writer = stream.try_clone().map_err(io_err)?;
        let mut c = Client {
            path: path.to_path_buf(),
            timeout,
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
            hello: Hello {
                version: VERSION,
                server: String::new(),
                ops: Vec::new(),
            },
        };
        let answer = match c.exchange(&Request::Hello) {
            Ok(v) => v,
            // A server of another version refuses our hello itself.
            Err(ClientError::Server(e)) if e.code == ErrorCode::Version => {
                return Err(ClientError::Version {
                    server: format!("sfcd says: {}", e.message),
                })
            }
            Err(e) => return Err(e),
        };
        let hello: Hello =
            serde_json::from_value(answer).map_err(|e| ClientError::BadResponse {
                op: "hello",
                message: e.to_string(),
            })?;
        if hello.version != VERSION {
            return Err(ClientError::Version {
                server: format!("{} speaks version {}", hello.server, hello.version),
            });
        }
        c.hello = hello;
        Ok(c)
    }

    /// Changes how long each later answer may take.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The server's hello.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Sends one request and returns its result (an error answer is
    /// [`ClientError::Server`]).
    pub fn call(&mut self, req: &Request) -> Result<Value, ClientError> {
        let op = req.op();
        if !self.hello.ops.iter().any(|o| o == op) {
            return Err(ClientError::Unsupported {
                server: self.hello.server.clone(),
                op,
                ops: self.hello.ops.join(", "),
            });
        }
        self.exchange(req)
    }

    fn exchange(&mut self, req: &Request) -> Result<Value, ClientError> {
        let op = req.op();
        let id = self.next_id;
        self.next_id += 1;
        let mut line = req.encode(id);
        if line.len() > MAX_MESSAGE {
            return Err(ClientError::RequestTooLarge {
                op,
                size: line.len(),
            });
        }
        line.push('\n');
        let deadline = Instant::now() + self.timeout;
        self.writer
            .set_write_timeout(Some(self.timeout))
            .map_err(|e| self.io(e))?;
        if let Err(e) = self.writer.write_all(line.as_bytes()) {
            return Err(self.timeout_or_io(e, op));
        }
        let raw = self.read_line(op, deadline)?;
        let resp: Response =
            serde_json::from_slice(&raw).map_err(|e| ClientError::BadResponse {
                op,
                message: e.to_string(),
            })?;
        // sfcd answers with id null when it could not read the request at
        // all (too large, too many clients): its error is the news.
        if resp.id.is_null() && !resp.ok {
            return resp.into_result().map_err(ClientError::Server);
        }
        if resp.id != json!(id) {
            return Err(ClientError::BadResponse {
                op,
                message: format!("answer carries id {} instead of {id}", resp.id),
            });
        }
        resp.into_result().map_err(ClientError::Server)
    }

    /// One line (without its newline), at most [`MAX_MESSAGE`] bytes, by
    /// `deadline`.
    fn read_line(&mut self, op: &'static str, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        let mut line = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timed_out(op));
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .map_err(|e| self.io(e))?;
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.timeout_or_io(e, op)),
            };
            if buf.is_empty() {
                return Err(ClientError::Closed {
                    path: self.path.clone(),
                    op,
                });
            }
            let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            if line.len() + chunk.len() > MAX_MESSAGE {
                return Err(ClientError::ResponseTooLarge { op });
            }
            line.extend_from_slice(chunk);
            let used = done.unwrap_or(chunk.len());
            self.reader.consume(used);
            if done.is_some() {
                return Ok(line);
            }
        }
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn timed_out(&self, op: &'static str) -> ClientError {
        ClientError::Timeout {
            path: self.path.clone(),
            op,
            timeout: self.timeout,
        }
    }

    fn timeout_or_io(&self, e: io::Error, op: &'static str) -> ClientError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timed_out(op),
            _ => self.io(e),
        }
    }
}
