//! The state directory: every accepted change is written here before the
//! client is answered, atomically (write a temp file, fsync, rename, fsync
//! the directory), so a crash at any point leaves the old or the new state,
//! never a torn one.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the state.
pub const STATE_FILE: &str = "state.json";

/// What is persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedState {
    pub version: u32,
    /// `sfc_control::Store::snapshot()`.
    pub store: String,
    /// Ports attached at run time (name -> devargs); ports from flags are
    /// not saved, the flags give them again.
    #[serde(default)]
    pub attached: BTreeMap<String, String>,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Creates the directory (mode 0700) if needed.
    pub fn open(dir: &Path) -> Result<Self, String> {
        fs::create_dir_all(dir).map_err(|e| format!("state directory {}: {e}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("state directory {}: chmod: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The saved state, `None` if there is none yet.
    pub fn load(&self) -> Result<Option<SavedState>, String> {
        let p = self.path();
        match fs::read_to_string(&p) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("state file {}: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("state file {}: {e}", p.display())),
        }
    }

    /// Writes `state` atomically. On error the previous file is intact.
    pub fn save(&self, state: &SavedState) -> Result<(), String> {
        let text = serde_json::to_string_pretty(state).map_err(|e| format!("encode state: {e}"))?;
        let tmp = self.dir.join(format!(".{STATE_FILE}.tmp"));
        let fail = |what: &str, e: std::io::Error| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write state to {}: {what}: {e}", self.dir.display())
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| fail("create", e))?;
        f.write_all(text.as_bytes()).map_err(|e| fail("write", e))?;
        f.sync_all().map_err(|e| fail("fsync", e))?;
        drop(f);
        fs::rename(&tmp, self.path()).map_err(|e| fail("rename", e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| {
                format!(
                    "cannot write state to {}: fsync directory: {e}",
                    self.dir.display()
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sfcd-statedir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let d = tmpdir("rt");
        let sd = StateDir::open(&d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sd.load(), Ok(None));
        let s = SavedState {
            version: 1,
            store: "{}".into(),
            attached: BTreeMap::from([("svc".into(), "net_null3".into())]),
        };
        assert_eq!(sd.save(&s), Ok(()));
        assert_eq!(sd.load(), Ok(Some(s)));
        let names: Vec<_> = fs::read_dir(&d)
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec![std::ffi::OsString::from(STATE_FILE)]);
        let mode = fs::metadata(&d)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o700);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_it() {
        let d = tmpdir("bad");
        let sd = StateDir::open(&d).unwrap_or_else(|e| panic!("{e}"));
        let _ = fs::write(sd.path(), "{not json");
        assert!(sd.load().is_err_and(|e| e.contains("state.json")));
        let _ = fs::remove_dir_all(&d);
    }
}
