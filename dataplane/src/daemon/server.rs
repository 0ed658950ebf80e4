//! The control socket: a Unix stream socket, one JSON request per line,
//! one JSON response per line. Each client has its own thread, so a slow or
//! broken client blocks nobody: not the dataplane (which never takes the
//! daemon lock) and not other clients (except while one op runs).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sfc_control::protocol::{
    decode_request, encode_response, ErrorCode, ProtocolError, Request, MAX_MESSAGE,
};

use super::service::{hello, Daemon};

/// Clients served at once; more are answered with an error and closed.
pub const MAX_CLIENTS: usize = 64;
/// A client that sends nothing for this long is disconnected.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Who may talk to sfcd: root, sfcd's own uid, and the configured uids and
/// gids. Checked on every connection with SO_PEERCRED.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

impl Access {
    pub fn new(mut uids: Vec<u32>, gids: Vec<u32>) -> Self {
        uids.push(0);
        uids.push(nix::unistd::geteuid().as_raw());
        uids.sort_unstable();
        uids.dedup();
        Self { uids, gids }
    }

    /// `Err(message)` naming the peer when it is not allowed.
    pub fn check(&self, stream: &UnixStream) -> Result<(), String> {
        let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
            .map_err(|e| format!("cannot read the peer's credentials (SO_PEERCRED): {e}"))?;
        let (uid, gid) = (cred.uid(), cred.gid());
        if self.uids.contains(&uid) || self.gids.contains(&gid) {
            return Ok(());
        }
        Err(format!(
            "peer pid {} uid {uid} gid {gid} is not allowed on this socket (allowed uids {:?}, gids {:?}; see --allow-uid/--allow-gid)",
            cred.pid(),
            self.uids,
            self.gids
        ))
    }
}

/// Binds the socket (removing a stale file) with `mode` (0600 by default)
/// and, if given, the owning `group`.
pub fn bind(path: &Path, mode: u32, group: Option<&str>) -> Result<UnixListener, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("socket directory {}: {e}", dir.display()))?;
    }
    if path.exists() {
        // A live sfcd answers on it: refuse to steal its socket.
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "socket {}: another sfcd is listening on it",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("socket {}: remove stale file: {e}", path.display()))?;
    }
    let l = UnixListener::bind(path).map_err(|e| format!("socket {}: {e}", path.display()))?;
    if let Some(g) = group {
        let gid = match g.parse::<u32>() {
            Ok(n) => nix::unistd::Gid::from_raw(n),
            Err(_) => {
                nix::unistd::Group::from_name(g)
                    .map_err(|e| format!("--socket-group {g}: {e}"))?
                    .ok_or_else(|| format!("--socket-group {g}: no such group"))?
                    .gid
            }
        };
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| format!("socket {}: chown: {e}", path.display()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("socket {}: chmod: {e}", path.display()))?;
    Ok(l)
}

/// Accepts clients until the process ends.
/// Holds the daemon weakly: at shutdown the main thread drops it (workers,
/// then ports) while this thread may still sit in `accept`.
pub fn serve(listener: UnixListener, daemon: Weak<Mutex<Daemon>>, path: PathBuf, access: Access) {
    let clients = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if let Err(msg) = access.check(&stream) {
            tracing::warn!(socket = %path.display(), "refused: {msg}");
            let e = ProtocolError::new(ErrorCode::Unauthorized, msg);
            let _ = writeln!(
                stream,
                "{}",
                encode_response(&serde_json::Value::Null, Err(e))
            );
            continue;
        }
        if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
            clients.fetch_sub(1, Ordering::SeqCst);
            let e = ProtocolError::new(
                ErrorCode::Internal,
                format!("too many clients (max {MAX_CLIENTS})"),
            );
            let _ = writeln!(
                stream,
                "{}",
                encode_response(&serde_json::Value::Null, Err(e))
            );
            continue;
        }
        let (daemon, clients) = (daemon.clone(), clients.clone());
        let spawned = std::thread::Builder::new()
            .name("sfc-client".into())
            .spawn(move || {
                client(stream, &daemon);
                clients.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            tracing::warn!(socket = %path.display(), "cannot start a client thread");
        }
    }
}

/// Reads one line of at most `max` bytes. `Ok(None)` at end of stream;
/// `Err(true)` if the line is too long (the rest is not read).
fn read_line(r: &mut impl BufRead, max: usize) -> Result<Option<String>, bool> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|_| false)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > max {
        return Err(true);
    } else {
        // End of stream in the middle of a line: a client that died or
        // half-wrote; nothing is applied.
        return Ok(None);
    }
    String::from_utf8(buf).map(Some).map_err(|_| false)
}

fn client(stream: UnixStream, daemon: &Weak<Mutex<Daemon>>) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut input = BufReader::new(stream);
    loop {
        let line = match read_line(&mut input, MAX_MESSAGE) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(too_long) => {
                let e = if too_long {
                    ProtocolError::new(
                        ErrorCode::TooLarge,
                        format!("request is over the limit of {MAX_MESSAGE} bytes"),
                    )
                } else {
                    ProtocolError::new(
                        ErrorCode::BadRequest,
                        "request is not UTF-8 text (or the read failed)",
                    )
                };
                let _ = writeln!(out, "{}", encode_response(&serde_json::Value::Null, Err(e)));
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let (id, req) = decode_request(&line);
        let started = Instant::now();
        let (op, result) = match req {
            Ok(Request::Hello) => ("hello", Ok(serde_json::json!(hello()))),
            Ok(req) => {
                let op = req.op();
                match daemon.upgrade() {
                    Some(d) => {
                        let mut d = d.lock().unwrap_or_else(|e| e.into_inner());
                        let r = d.handle(req);
                        d.record_op(op, started.elapsed().as_secs_f64());
                        (op, r)
                    }
                    None => (
                        op,
                        Err(ProtocolError::new(
                            ErrorCode::Internal,
                            "sfcd is shutting down",
                        )),
                    ),
                }
            }
            Err(e) => ("invalid", Err(e)),
        };
        match &result {
            Ok(_) => tracing::debug!(
                op,
                elapsed_us = started.elapsed().as_micros() as u64,
                "request"
            ),
            Err(e) => tracing::info!(
                op,
                code = e.code.as_str(),
                message = e.message.as_str(),
                "request refused"
            ),
        }
        if writeln!(out, "{}", encode_response(&id, result)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_line_bounds_and_splits() {
        let mut r = BufReader::new(&b"abc\ndef\nxyz"[..]);
        assert_eq!(read_line(&mut r, 10), Ok(Some("abc".into())));
        assert_eq!(read_line(&mut r, 10), Ok(Some("def".into())));
        // A half-written last line is dropped, never applied.
        assert_eq!(read_line(&mut r, 10), Ok(None));
        let mut r = BufReader::new(&b"0123456789ABC\n"[..]);
        assert_eq!(read_line(&mut r, 10), Err(true));
        let mut r = BufReader::new(&b"\xff\xfe\n"[..]);
        assert_eq!(read_line(&mut r, 10), Err(false));
    }
}
