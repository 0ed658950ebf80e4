//! Status conditions the DPF way (dpf-chains.md section 7): typed
//! conditions per kind, a `Ready` summary, transition times that move only
//! when a status flips, and an injectable clock so tests are deterministic.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Condition types, by object kind.
pub const READY: &str = "Ready";
pub const SERVICE_CHAIN_SET_RECONCILED: &str = "ServiceChainSetReconciled";
pub const SERVICE_CHAIN_SET_READY: &str = "ServiceChainSetReady";
pub const SERVICE_CHAIN_RECONCILED: &str = "ServiceChainReconciled";
pub const SERVICE_INTERFACE_SET_RECONCILED: &str = "ServiceInterfaceSetReconciled";
pub const SERVICE_INTERFACE_SET_READY: &str = "ServiceInterfaceSetReady";
pub const SERVICE_INTERFACE_RECONCILED: &str = "ServiceInterfaceReconciled";
/// Sets applied directly (not through a DPU* object) report on their
/// per-node children with these (sfcd's names; DPF documents none).
pub const SERVICE_CHAINS_READY: &str = "ServiceChainsReady";
pub const SERVICE_INTERFACES_READY: &str = "ServiceInterfacesReady";

/// DPF's `Ready` message prefix.
pub const MESSAGE_NOT_READY: &str = "The following conditions are not ready";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    Success,
    Pending,
    /// Recoverable.
    Error,
    /// Terminal.
    Failure,
    AwaitingDeletion,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Success => "Success",
            Reason::Pending => "Pending",
            Reason::Error => "Error",
            Reason::Failure => "Failure",
            Reason::AwaitingDeletion => "AwaitingDeletion",
        }
    }

    /// DPF's severity order for the Ready summary; Error has none and is
    /// reported as Pending there.
    fn severity(self) -> u8 {
        match self {
            Reason::AwaitingDeletion => 3,
            Reason::Failure => 2,
            Reason::Pending | Reason::Error | Reason::Success => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// A metav1.Condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    pub reason: Reason,
    pub message: String,
    /// RFC 3339, UTC.
    pub last_transition_time: String,
    pub observed_generation: i64,
}

/// A condition as computed, before times are attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Computed {
    pub type_: &'static str,
    pub ok: bool,
    pub reason: Reason,
    pub message: String,
}

impl Computed {
    pub(crate) fn ok(type_: &'static str, message: impl Into<String>) -> Self {
        Computed {
            type_,
            ok: true,
            reason: Reason::Success,
            message: message.into(),
        }
    }

    pub(crate) fn not_ok(type_: &'static str, reason: Reason, message: impl Into<String>) -> Self {
        Computed {
            type_,
            ok: false,
            reason,
            message: message.into(),
        }
    }
}

/// The Ready summary of the other conditions, exactly as DPF's SetSummary:
/// True when all are True, else False, listing the not-ready types, with
/// the most severe reason.
pub(crate) fn ready_summary(others: &[Computed]) -> Computed {
    let not_ready: Vec<&Computed> = others.iter().filter(|c| !c.ok).collect();
    if not_ready.is_empty() {
        return Computed::ok(READY, "");
    }
    let mut reason = Reason::Pending;
    for c in &not_ready {
        if c.reason.severity() > reason.severity() {
            reason = c.reason;
        }
    }
    let mut message = format!("{MESSAGE_NOT_READY}:");
    for c in &not_ready {
        message.push_str("\n* ");
        message.push_str(c.type_);
    }
    Computed::not_ok(READY, reason, message)
}

/// Turns computed conditions (Ready first, then the others) into status
/// conditions, keeping each previous lastTransitionTime while its status
/// has not changed.
pub(crate) fn finalize(
    others: Vec<Computed>,
    previous: &[Condition],
    now: &str,
    generation: i64,
) -> Vec<Condition> {
    let mut all = vec![ready_summary(&others)];
    all.extend(others);
    all.into_iter()
        .map(|c| {
            let status = if c.ok {
                ConditionStatus::True
            } else {
                ConditionStatus::False
            };
            let last_transition_time = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == status)
                .map(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.to_string());
            Condition {
                type_: c.type_.to_string(),
                status,
                reason: c.reason,
                message: c.message,
                last_transition_time,
                observed_generation: generation,
            }
        })
        .collect()
}

/// Where "now" comes from. The daemon uses [`SystemClock`]; tests use
/// [`ManualClock`] so transition times are exact.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(unix: i64) -> Self {
        ManualClock(AtomicI64::new(unix))
    }
    pub fn set(&self, unix: i64) {
        self.0.store(unix, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 UTC (`2024-05-01T12:00:00Z`) without a date crate: days to
/// civil date by Howard Hinnant's algorithm.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Inverse of [`rfc3339`] for the times this crate writes (used for SINCE).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `kubectl`-style age: 45s, 12m, 3h, 2d.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates_and_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for t in [0, 1_714_564_800, 951_782_400, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn ready_summary_lists_not_ready_and_maps_error_to_pending() {
        let r = ready_summary(&[
            Computed::ok(SERVICE_CHAIN_SET_RECONCILED, ""),
            Computed::not_ok(SERVICE_CHAIN_SET_READY, Reason::Error, "x"),
        ]);
        assert!(!r.ok);
        assert_eq!(r.reason, Reason::Pending);
        assert_eq!(
            r.message,
            "The following conditions are not ready:\n* ServiceChainSetReady"
        );
    }

    #[test]
    fn ready_summary_takes_most_severe_reason() {
        let r = ready_summary(&[
            Computed::not_ok("A", Reason::Pending, ""),
            Computed::not_ok("B", Reason::Failure, ""),
        ]);
        assert_eq!(r.reason, Reason::Failure);
        assert_eq!(
            r.message,
            "The following conditions are not ready:\n* A\n* B"
        );
        let r = ready_summary(&[
            Computed::not_ok("A", Reason::AwaitingDeletion, ""),
            Computed::not_ok("B", Reason::Failure, ""),
        ]);
        assert_eq!(r.reason, Reason::AwaitingDeletion);
        let r = ready_summary(&[Computed::ok("A", "")]);
        assert!(r.ok);
        assert_eq!(r.reason, Reason::Success);
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let c1 = finalize(vec![Computed::ok("A", "")], &[], "T1", 1);
        assert_eq!(c1[0].type_, READY);
        assert_eq!(c1[1].last_transition_time, "T1");
        // Same status, new message and generation: time kept.
        let c2 = finalize(vec![Computed::ok("A", "other")], &c1, "T2", 2);
        assert_eq!(c2[1].last_transition_time, "T1");
        assert_eq!(c2[1].observed_generation, 2);
        // Flip: time moves, for Ready too.
        let c3 = finalize(
            vec![Computed::not_ok("A", Reason::Error, "e")],
            &c2,
            "T3",
            2,
        );
        assert_eq!(c3[1].last_transition_time, "T3");
        assert_eq!(c3[0].last_transition_time, "T3");
        assert_eq!(c3[0].status, ConditionStatus::False);
    }

    #[test]
    fn age_formats_like_kubectl() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(3 * 86_400), "3d");
    }
}
