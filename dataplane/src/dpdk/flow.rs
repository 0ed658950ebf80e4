//! rte_flow: typed rules, their FFI storage, and errors in the driver's words.
//!
//! A rule is plain data ([`FlowSpec`]: attributes, pattern items, actions),
//! so the offload layer builds and compares rules without DPDK. Only
//! [`validate`], [`create`] and the template API below touch the driver;
//! each builds the C arrays (items, actions, their spec/mask/conf structs)
//! in owned storage that lives until the call returns.
//!
//! Every failure is a [`FlowError`] with the port, the operation, the
//! driver's `rte_flow_error` type and message, and `rte_errno`.
//! [`FlowError::is_unsupported`] says "this port cannot do it, keep the
//! flow in software" (ENOSYS, ENOTSUP, or EINVAL pinned on an item, action
//! or attribute).
//!
//! Transfer rules are created on the port's transfer proxy
//! ([`pick_transfer_proxy`]); a rule whose ports are in different switch
//! domains is refused before the driver sees it.
//!
//! The template API (mlx5 hardware steering, `dv_flow_en=2`) is wrapped by
//! [`configure`], [`PatternTemplate`], [`ActionsTemplate`] and
//! [`TemplateTable`] (async create/destroy with push and pull);
//! [`probe_template`] sets it up for sfcd's two rule shapes. No virtual
//! device implements it, so that path has never run here.

use std::cell::Cell;
use std::ffi::{c_void, CStr};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::error::{errno_name, rte_errno, strerror};

pub const EINVAL: i32 = 22;
pub const ENOSYS: i32 = 38;
pub const ENOTSUP: i32 = 95;
pub const ETIMEDOUT: i32 = 110;
pub const ENODEV: i32 = 19;

pub type Result<T, E = FlowError> = std::result::Result<T, E>;

/// Which rte_flow API a port's rules go through; chosen once per port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowApi {
    /// `rte_flow_configure` succeeded on the proxy: templates, a template
    /// table and async create/destroy (mlx5 hardware steering).
    Template,
    /// The port has rte_flow: synchronous `rte_flow_create`.
    Sync,
    /// No rte_flow at all (ENOSYS): everything stays in software.
    None,
}

impl FlowApi {
    pub fn name(self) -> &'static str {
        match self {
            FlowApi::Template => "template",
            FlowApi::Sync => "sync",
            FlowApi::None => "none",
        }
    }
}

impl fmt::Display for FlowApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rule attributes (`struct rte_flow_attr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowAttr {
    pub group: u32,
    pub priority: u32,
    pub ingress: bool,
    pub egress: bool,
    /// The rule lives in the embedded switch (E-Switch) and moves traffic
    /// between the ports of its domain.
    pub transfer: bool,
}

impl FlowAttr {
    /// A transfer rule in group 0, priority 0.
    pub const fn transfer() -> Self {
        FlowAttr {
            group: 0,
            priority: 0,
            ingress: false,
            egress: false,
            transfer: true,
        }
    }

    fn raw(&self) -> sfc_ffi::rte_flow_attr {
        let mut a = sfc_ffi::rte_flow_attr {
            group: self.group,
            priority: self.priority,
            ..Default::default()
        };
        a.set_ingress(u32::from(self.ingress));
        a.set_egress(u32::from(self.egress));
        a.set_transfer(u32::from(self.transfer));
        a
    }
}

/// A pattern item. Fields that are `Some` are matched exactly (mask all
/// ones); `None` fields are not matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item {
    /// Traffic that entered the embedded switch from the entity this ethdev
    /// represents (a VF, an SF, the wire behind an uplink).
    RepresentedPort {
        port_id: u16,
    },
    /// Ethernet header fields.
    Eth {
        dst: Option<[u8; 6]>,
        src: Option<[u8; 6]>,
        ether_type: Option<u16>,
    },
    End,
}

/// An action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send to the entity this ethdev represents (the VF, SF or wire).
    RepresentedPort {
        port_id: u16,
    },
    /// Count hits and bytes (queried with [`FlowRule::query_count`]).
    Count,
    Drop,
    Jump {
        group: u32,
    },
    End,
}

/// A whole rule as data: what `rte_flow_create` gets, without the port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowSpec {
    pub attr: FlowAttr,
    /// Ends with exactly one [`Item::End`].
    pub pattern: Vec<Item>,
    /// Ends with exactly one [`Action::End`].
    pub actions: Vec<Action>,
}

fn mac_text(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl fmt::Display for Item {
    /// testpmd's item syntax (22.11).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::RepresentedPort { port_id } => {
                write!(f, "represented_port ethdev_port_id is {port_id}")
            }
            Item::Eth {
                dst,
                src,
                ether_type,
            } => {
                f.write_str("eth")?;
                if let Some(d) = dst {
                    write!(f, " dst is {}", mac_text(d))?;
                }
                if let Some(s) = src {
                    write!(f, " src is {}", mac_text(s))?;
                }
                if let Some(t) = ether_type {
                    write!(f, " type is 0x{t:04x}")?;
                }
                Ok(())
            }
            Item::End => f.write_str("end"),
        }
    }
}

impl fmt::Display for Action {
    /// testpmd's action syntax (22.11).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::RepresentedPort { port_id } => {
                write!(f, "represented_port ethdev_port_id {port_id}")
            }
            Action::Count => f.write_str("count"),
            Action::Drop => f.write_str("drop"),
            Action::Jump { group } => write!(f, "jump group {group}"),
            Action::End => f.write_str("end"),
        }
    }
}

impl FlowSpec {
    /// The `dpdk-testpmd` command that makes the same rule on `port`;
    /// `verb` is `create` or `validate`.
    pub fn testpmd(&self, verb: &str, port: u16) -> String {
        let mut s = format!("flow {verb} {port}");
        let a = &self.attr;
        if a.group != 0 {
            s += &format!(" group {}", a.group);
        }
        if a.priority != 0 {
            s += &format!(" priority {}", a.priority);
        }
        for (set, word) in [
            (a.ingress, " ingress"),
            (a.egress, " egress"),
            (a.transfer, " transfer"),
        ] {
            if set {
                s += word;
            }
        }
        s += " pattern ";
        s += &join(&self.pattern);
        s += " actions ";
        s += &join(&self.actions);
        s
    }

    /// Ports the rule names in represented_port items and actions.
    pub fn ports(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .pattern
            .iter()
            .filter_map(|i| match i {
                Item::RepresentedPort { port_id } => Some(*port_id),
                _ => None,
            })
            .chain(self.actions.iter().filter_map(|a| match a {
                Action::RepresentedPort { port_id } => Some(*port_id),
                _ => None,
            }))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The lists end with exactly one End each.
    pub fn check(&self) -> Result<()> {
        let ends = self.pattern.iter().filter(|i| **i == Item::End).count();
        if ends != 1 || self.pattern.last() != Some(&Item::End) {
            return Err(FlowError::Malformed(
                "the pattern must end with exactly one `end` item".into(),
            ));
        }
        let ends = self.actions.iter().filter(|a| **a == Action::End).count();
        if ends != 1 || self.actions.last() != Some(&Action::End) {
            return Err(FlowError::Malformed(
                "the actions must end with exactly one `end` action".into(),
            ));
        }
        if self.actions.len() < 2 {
            return Err(FlowError::Malformed("a rule needs an action".into()));
        }
        Ok(())
    }
}

fn join<T: fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `enum rte_flow_error_type`: which part of the rule the driver blames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowErrorType(pub u32);

impl FlowErrorType {
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "none",
            1 => "unspecified",
            2 => "handle",
            3 => "group",
            4 => "priority",
            5 => "ingress",
            6 => "egress",
            7 => "transfer",
            8 => "attributes",
            9 => "item number",
            10 => "item spec",
            11 => "item last",
            12 => "item mask",
            13 => "item",
            14 => "action number",
            15 => "action conf",
            16 => "action",
            17 => "state",
            _ => "?",
        }
    }

    /// The driver pinned the error on an attribute, item or action: the
    /// rule asks for something this port does not do.
    pub fn is_rule_part(self) -> bool {
        (3..=16).contains(&self.0)
    }
}

impl fmt::Display for FlowErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// An rte_flow failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("port {port}: flow {op} failed: {message} ({} {errno}; rte_flow error type {kind})", errno_name(*errno))]
    Driver {
        port: u16,
        op: &'static str,
        errno: i32,
        kind: FlowErrorType,
        message: String,
    },
    #[error("port {proxy}: a transfer rule cannot join ports of different switch domains ({detail}); refused before the driver")]
    SwitchDomain { proxy: u16, detail: String },
    #[error("malformed flow rule: {0}")]
    Malformed(String),
    #[error("port {port}: {msg}")]
    Port { port: u16, msg: String },
}

impl FlowError {
    pub fn errno(&self) -> Option<i32> {
        match self {
            FlowError::Driver { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// "This port stays in software": the driver has no rte_flow (ENOSYS),
    /// not this operation (ENOTSUP), or rejects an item, action or
    /// attribute it does not implement (EINVAL with the error pinned on
    /// that part). A switch-domain refusal is unsupported too.
    pub fn is_unsupported(&self) -> bool {
        match self {
            FlowError::Driver { errno, kind, .. } => {
                *errno == ENOSYS || *errno == ENOTSUP || (*errno == EINVAL && kind.is_rule_part())
            }
            FlowError::SwitchDomain { .. } => true,
            _ => false,
        }
    }

    /// An error from a DPDK return value (negative errno, else rte_errno)
    /// and the driver's `rte_flow_error`.
    fn driver(port: u16, op: &'static str, ret: i32, err: &sfc_ffi::rte_flow_error) -> Self {
        let errno = if ret < 0 { -ret } else { rte_errno() };
        let message = if err.message.is_null() {
            strerror(errno)
        } else {
            // SAFETY: the driver sets `message` to a NUL-terminated string
            // (usually static) that stays valid at least until the next
            // rte_flow call on this thread; it is copied at once.
            unsafe { CStr::from_ptr(err.message) }
                .to_string_lossy()
                .into_owned()
        };
        FlowError::Driver {
            port,
            op,
            errno,
            kind: FlowErrorType(err.type_),
            message,
        }
    }

    /// An error from rte_errno alone (a call that returned NULL).
    fn driver_errno(port: u16, op: &'static str, err: &sfc_ffi::rte_flow_error) -> Self {
        Self::driver(port, op, 0, err)
    }
}

fn pair_ptr<T>(r: &T) -> *const c_void {
    (r as *const T).cast::<c_void>()
}

/// The pattern as C items, with the spec/mask structs they point to.
/// Boxed: the items point into them, and a Vec moves its elements when it
/// grows.
#[allow(clippy::vec_box)]
struct RawPattern {
    items: Vec<sfc_ffi::rte_flow_item>,
    _ethdev: Vec<Box<[sfc_ffi::rte_flow_item_ethdev; 2]>>,
    _eth: Vec<Box<[sfc_ffi::rte_flow_item_eth; 2]>>,
}

/// A boxed C struct with every byte zero, padding included: drivers
/// compare spec and mask structs bytewise (net_tap rejects an eth mask
/// with stray padding bits), so they must never hold garbage.
fn zeroed_box<T: Copy>() -> Box<T> {
    let layout = std::alloc::Layout::new::<T>();
    assert!(layout.size() > 0, "zero-sized FFI struct");
    // SAFETY: the layout is T's and non-zero-sized; a null return is
    // handled; all-zero bytes are a valid value of the plain C structs
    // used here (integers, byte arrays, unions of them); Box::from_raw
    // takes memory from the global allocator with T's layout.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<T>();
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(p)
    }
}

/// Sets the header fields of an eth item in place (padding untouched).
fn set_eth(e: &mut sfc_ffi::rte_flow_item_eth, dst: [u8; 6], src: [u8; 6], ether_type: u16) {
    e.__bindgen_anon_1 = sfc_ffi::rte_flow_item_eth__bindgen_ty_1 {
        hdr: sfc_ffi::rte_ether_hdr {
            dst_addr: sfc_ffi::rte_ether_addr { addr_bytes: dst },
            src_addr: sfc_ffi::rte_ether_addr { addr_bytes: src },
            ether_type: ether_type.to_be(),
        },
    };
}

impl RawPattern {
    /// Boxed spec/mask pairs do not move when their Vec grows, so the item
    /// pointers stay valid as long as `self` lives.
    fn new(pattern: &[Item]) -> Self {
        let mut raw = RawPattern {
            items: Vec::with_capacity(pattern.len()),
            _ethdev: Vec::new(),
            _eth: Vec::new(),
        };
        for item in pattern {
            let (type_, spec, mask): (u32, *const c_void, *const c_void) = match *item {
                Item::RepresentedPort { port_id } => {
                    let mut b: Box<[sfc_ffi::rte_flow_item_ethdev; 2]> = zeroed_box();
                    b[0].port_id = port_id;
                    b[1].port_id = u16::MAX;
                    let (s, m) = (pair_ptr(&b[0]), pair_ptr(&b[1]));
                    raw._ethdev.push(b);
                    (
                        sfc_ffi::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT,
                        s,
                        m,
                    )
                }
                Item::Eth {
                    dst,
                    src,
                    ether_type,
                } => {
                    let mut b: Box<[sfc_ffi::rte_flow_item_eth; 2]> = zeroed_box();
                    set_eth(
                        &mut b[0],
                        dst.unwrap_or_default(),
                        src.unwrap_or_default(),
                        ether_type.unwrap_or_default(),
                    );
                    set_eth(
                        &mut b[1],
                        if dst.is_some() { [0xff; 6] } else { [0; 6] },
                        if src.is_some() { [0xff; 6] } else { [0; 6] },
                        if ether_type.is_some() { 0xffff } else { 0 },
                    );
                    let (s, m) = (pair_ptr(&b[0]), pair_ptr(&b[1]));
                    raw._eth.push(b);
                    (sfc_ffi::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_ETH, s, m)
                }
                Item::End => (
                    sfc_ffi::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_END,
                    std::ptr::null(),
                    std::ptr::null(),
                ),
            };
            raw.items.push(sfc_ffi::rte_flow_item {
                type_,
                spec,
                last: std::ptr::null(),
                mask,
            });
        }
        raw
    }

    fn as_ptr(&self) -> *const sfc_ffi::rte_flow_item {
        self.items.as_ptr()
    }
}

/// The actions as C actions, with the conf structs they point to (boxed,
/// as in [`RawPattern`]).
#[allow(clippy::vec_box)]
struct RawActions {
    actions: Vec<sfc_ffi::rte_flow_action>,
    _ethdev: Vec<Box<sfc_ffi::rte_flow_action_ethdev>>,
    _jump: Vec<Box<sfc_ffi::rte_flow_action_jump>>,
}

impl RawActions {
    /// `masks`: for an actions template, every conf value is zero, which
    /// makes each value a per-rule argument.
    fn new(actions: &[Action], masks: bool) -> Self {
        let mut raw = RawActions {
            actions: Vec::with_capacity(actions.len()),
            _ethdev: Vec::new(),
            _jump: Vec::new(),
        };
        for a in actions {
            let (type_, conf): (u32, *const c_void) = match *a {
                Action::RepresentedPort { port_id } => {
                    let mut b: Box<sfc_ffi::rte_flow_action_ethdev> = zeroed_box();
                    b.port_id = if masks { 0 } else { port_id };
                    let p = pair_ptr(&*b);
                    raw._ethdev.push(b);
                    (
                        sfc_ffi::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT,
                        p,
                    )
                }
                // No conf: counter id 0, not shared.
                Action::Count => (
                    sfc_ffi::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_COUNT,
                    std::ptr::null(),
                ),
                Action::Drop => (
                    sfc_ffi::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_DROP,
                    std::ptr::null(),
                ),
                Action::Jump { group } => {
                    let mut b: Box<sfc_ffi::rte_flow_action_jump> = zeroed_box();
                    b.group = if masks { 0 } else { group };
                    let p = pair_ptr(&*b);
                    raw._jump.push(b);
                    (sfc_ffi::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_JUMP, p)
                }
                Action::End => (
                    sfc_ffi::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_END,
                    std::ptr::null(),
                ),
            };
            raw.actions.push(sfc_ffi::rte_flow_action { type_, conf });
        }
        raw
    }

    fn as_ptr(&self) -> *const sfc_ffi::rte_flow_action {
        self.actions.as_ptr()
    }
}

/// The EAL name of the device behind `port`, if the port id is in use.
pub fn device_name(port: u16) -> Option<String> {
    let mut buf = [0 as std::ffi::c_char; sfc_ffi::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: the buffer holds RTE_ETH_NAME_MAX_LEN bytes, as the call
    // requires; an unused port id is an error, not UB.
    let ret = unsafe { sfc_ffi::rte_eth_dev_get_name_by_port(port, buf.as_mut_ptr()) };
    if ret != 0 {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The port's E-Switch domain (`rte_eth_dev_info.switch_info`), `None`
/// when the driver reports none.
pub fn switch_domain(port: u16) -> Result<Option<u16>> {
    let mut info = sfc_ffi::rte_eth_dev_info::default();
    // SAFETY: out pointer to a local; an invalid port id is an error.
    let ret = unsafe { sfc_ffi::rte_eth_dev_info_get(port, &mut info) };
    if ret < 0 {
        return Err(FlowError::Port {
            port,
            msg: format!("device info: {}", strerror(-ret)),
        });
    }
    let d = info.switch_info.domain_id;
    Ok(
        (u32::from(d) != sfc_ffi::RTE_ETH_DEV_SWITCH_DOMAIN_ID_INVALID
            && !info.switch_info.name.is_null())
        .then_some(d),
    )
}

/// The port through which transfer rules for `port` are managed. Drivers
/// without the notion answer `port` itself; a port without rte_flow fails
/// with ENOSYS.
pub fn pick_transfer_proxy(port: u16) -> Result<u16> {
    let mut proxy = port;
    let mut err = sfc_ffi::rte_flow_error::default();
    // SAFETY: out pointers to locals; an invalid port id is an error.
    let ret = unsafe { sfc_ffi::rte_flow_pick_transfer_proxy(port, &mut proxy, &mut err) };
    if ret < 0 {
        return Err(FlowError::driver(port, "pick transfer proxy", ret, &err));
    }
    Ok(proxy)
}

/// Refuses a transfer rule on `port` whose ports (and `port` itself) are
/// not all in one switch domain. Ports without a domain pass together (the
/// driver decides); a port with a domain never joins one without.
fn check_domains(port: u16, spec: &FlowSpec) -> Result<()> {
    check_domains_with(port, spec, switch_domain)
}

fn check_domains_with(
    port: u16,
    spec: &FlowSpec,
    switch_domain: impl Fn(u16) -> Result<Option<u16>>,
) -> Result<()> {
    if !spec.attr.transfer {
        return Ok(());
    }
    // The proxy first, so the message reads from it.
    let mut ports = vec![port];
    ports.extend(spec.ports().into_iter().filter(|p| *p != port));
    let mut seen: Vec<(u16, Option<u16>)> = Vec::with_capacity(ports.len());
    for p in ports {
        seen.push((p, switch_domain(p)?));
    }
    if let Some((first, rest)) = seen.split_first() {
        if let Some(other) = rest.iter().find(|(_, d)| *d != first.1) {
            let show = |d: Option<u16>| d.map_or("none".to_owned(), |d| d.to_string());
            return Err(FlowError::SwitchDomain {
                proxy: port,
                detail: format!(
                    "port {} is in domain {}, port {} in domain {}",
                    first.0,
                    show(first.1),
                    other.0,
                    show(other.1)
                ),
            });
        }
    }
    Ok(())
}

/// `rte_flow_validate` of `spec` on `port`.
pub fn validate(port: u16, spec: &FlowSpec) -> Result<()> {
    spec.check()?;
    check_domains(port, spec)?;
    let attr = spec.attr.raw();
    let pattern = RawPattern::new(&spec.pattern);
    let actions = RawActions::new(&spec.actions, false);
    let mut err = sfc_ffi::rte_flow_error::default();
    // SAFETY: attr, the END-terminated item and action arrays and every
    // spec/mask/conf they point to live until the call returns.
    let ret = unsafe {
        sfc_ffi::rte_flow_validate(port, &attr, pattern.as_ptr(), actions.as_ptr(), &mut err)
    };
    if ret < 0 {
        return Err(FlowError::driver(port, "validate", ret, &err));
    }
    Ok(())
}

/// `rte_flow_create` of `spec` on `port` (synchronous API).
pub fn create(port: u16, spec: &FlowSpec) -> Result<FlowRule> {
    spec.check()?;
    check_domains(port, spec)?;
    let device = device_name(port).ok_or_else(|| FlowError::Port {
        port,
        msg: "no such port".into(),
    })?;
    let attr = spec.attr.raw();
    let pattern = RawPattern::new(&spec.pattern);
    let actions = RawActions::new(&spec.actions, false);
    let mut err = sfc_ffi::rte_flow_error::default();
    // SAFETY: as in `validate`; the driver copies what it keeps.
    let flow = unsafe {
        sfc_ffi::rte_flow_create(port, &attr, pattern.as_ptr(), actions.as_ptr(), &mut err)
    };
    if flow.is_null() {
        return Err(FlowError::driver_errno(port, "create", &err));
    }
    Ok(FlowRule {
        port,
        device,
        flow,
        via: Via::Sync,
    })
}

/// Hardware counter of a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCount {
    pub hits: u64,
    pub bytes: u64,
}

#[derive(Debug)]
enum Via {
    Sync,
    Template(Rc<TemplateTable>),
}

/// A rule in the driver. Dropping it destroys it (errors are logged);
/// [`FlowRule::destroy`] reports them. Not `Send`: template rules share
/// their table's flow queue, which one thread uses.
///
/// The rule must be destroyed before its port is closed (closing frees it
/// in the driver); as a guard, destroy checks that the port id still names
/// the same device and otherwise leaves the handle alone.
#[derive(Debug)]
pub struct FlowRule {
    port: u16,
    device: String,
    flow: *mut sfc_ffi::rte_flow,
    via: Via,
}

impl FlowRule {
    /// The port the rule was created on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Made through the template API.
    pub fn is_template(&self) -> bool {
        matches!(self.via, Via::Template(_))
    }

    fn port_still_ours(&self) -> Result<()> {
        if device_name(self.port).as_deref() == Some(self.device.as_str()) {
            Ok(())
        } else {
            Err(FlowError::Port {
                port: self.port,
                msg: format!("is no longer device {}: the rule went with it", self.device),
            })
        }
    }

    /// The rule's COUNT action: packets and bytes since it was made.
    pub fn query_count(&self) -> Result<FlowCount> {
        self.port_still_ours()?;
        let action = sfc_ffi::rte_flow_action {
            type_: sfc_ffi::rte_flow_action_type_RTE_FLOW_ACTION_TYPE_COUNT,
            conf: std::ptr::null(),
        };
        let mut data = sfc_ffi::rte_flow_query_count::default();
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: `flow` is a live rule of this port (not destroyed: that
        // consumes self); the action and the out struct are locals of the
        // types COUNT queries use.
        let ret = unsafe {
            sfc_ffi::rte_flow_query(
                self.port,
                self.flow,
                &action,
                (&mut data as *mut sfc_ffi::rte_flow_query_count).cast::<c_void>(),
                &mut err,
            )
        };
        if ret < 0 {
            return Err(FlowError::driver(self.port, "query count", ret, &err));
        }
        Ok(FlowCount {
            hits: if data.hits_set() != 0 { data.hits } else { 0 },
            bytes: if data.bytes_set() != 0 { data.bytes } else { 0 },
        })
    }

    /// Removes the rule. On error the driver keeps it (it goes when the
    /// port closes); the handle is not tried again.
    pub fn destroy(mut self) -> Result<()> {
        self.destroy_inner()
    }

    fn destroy_inner(&mut self) -> Result<()> {
        let flow = std::mem::replace(&mut self.flow, std::ptr::null_mut());
        if flow.is_null() {
            return Ok(());
        }
        self.port_still_ours()?;
        match &self.via {
            Via::Sync => {
                let mut err = sfc_ffi::rte_flow_error::default();
                // SAFETY: `flow` was made on this port, which still is the
                // same device, and is destroyed once (nulled above).
                let ret = unsafe { sfc_ffi::rte_flow_destroy(self.port, flow, &mut err) };
                if ret < 0 {
                    return Err(FlowError::driver(self.port, "destroy", ret, &err));
                }
                Ok(())
            }
            Via::Template(table) => table.async_destroy(flow),
        }
    }
}

impl Drop for FlowRule {
    fn drop(&mut self) {
        if let Err(e) = self.destroy_inner() {
            tracing::warn!(target: "sfcd::offload", error = %e, "flow rule not destroyed");
        }
    }
}

// ---- template API (mlx5 hardware steering) ----

/// Sizes for [`configure`] and the template table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateConfig {
    /// Rules (and counters) the table holds.
    pub rules: u32,
    /// Depth of the one flow queue sfcd uses.
    pub queue_size: u32,
    /// How long to wait for one async operation's result.
    pub op_timeout: Duration,
    /// `rte_flow_configure` needs a stopped port. If the proxy was started
    /// (sfcd's ports are started at probe), stop it, configure, start it
    /// again. Only safe before any thread polls the port.
    pub restart_proxy: bool,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        Self {
            rules: 1 << 16,
            queue_size: 256,
            op_timeout: Duration::from_millis(100),
            restart_proxy: false,
        }
    }
}

/// What `rte_flow_info_get` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowInfo {
    pub max_queues: u32,
    pub max_counters: u32,
    pub max_queue_size: u32,
}

/// `rte_flow_info_get`: fails (ENOTSUP) on drivers without the template
/// API.
pub fn info(port: u16) -> Result<FlowInfo> {
    let mut pi = sfc_ffi::rte_flow_port_info::default();
    let mut qi = sfc_ffi::rte_flow_queue_info::default();
    let mut err = sfc_ffi::rte_flow_error::default();
    // SAFETY: out pointers to locals.
    let ret = unsafe { sfc_ffi::rte_flow_info_get(port, &mut pi, &mut qi, &mut err) };
    if ret < 0 {
        return Err(FlowError::driver(port, "info", ret, &err));
    }
    Ok(FlowInfo {
        max_queues: pi.max_nb_queues,
        max_counters: pi.max_nb_counters,
        max_queue_size: qi.max_size,
    })
}

/// `rte_flow_configure` with one flow queue of `cfg.queue_size` and
/// `cfg.rules` counters. The port must be configured and stopped.
pub fn configure(port: u16, cfg: &TemplateConfig) -> Result<()> {
    let port_attr = sfc_ffi::rte_flow_port_attr {
        nb_counters: cfg.rules,
        ..Default::default()
    };
    let queue = sfc_ffi::rte_flow_queue_attr {
        size: cfg.queue_size,
    };
    let mut queues: [*const sfc_ffi::rte_flow_queue_attr; 1] = [&queue];
    let mut err = sfc_ffi::rte_flow_error::default();
    // SAFETY: port_attr and the one-element queue attribute array (and the
    // struct it points to) are locals that outlive the call.
    let ret =
        unsafe { sfc_ffi::rte_flow_configure(port, &port_attr, 1, queues.as_mut_ptr(), &mut err) };
    if ret < 0 {
        return Err(FlowError::driver(port, "configure", ret, &err));
    }
    Ok(())
}

/// Stops `port`, configures its flow engine, starts it again (also when
/// configuring failed).
fn configure_restarting(port: u16, cfg: &TemplateConfig) -> Result<()> {
    // SAFETY: a valid port; the caller promised no thread polls it.
    let ret = unsafe { sfc_ffi::rte_eth_dev_stop(port) };
    if ret < 0 {
        return Err(FlowError::Port {
            port,
            msg: format!("stop for flow configure: {}", strerror(-ret)),
        });
    }
    let configured = configure(port, cfg);
    // SAFETY: the port was started before the stop above.
    let ret = unsafe { sfc_ffi::rte_eth_dev_start(port) };
    if ret < 0 {
        return Err(FlowError::Port {
            port,
            msg: format!("restart after flow configure: {}", strerror(-ret)),
        });
    }
    configured
}

/// A pattern template (`rte_flow_pattern_template_create`); the items'
/// masks say what is matched, the values come with each rule.
#[derive(Debug)]
pub struct PatternTemplate {
    port: u16,
    raw: *mut sfc_ffi::rte_flow_pattern_template,
}

impl PatternTemplate {
    pub fn create(port: u16, transfer: bool, pattern: &[Item]) -> Result<Self> {
        let mut attr = sfc_ffi::rte_flow_pattern_template_attr::default();
        attr.set_relaxed_matching(0);
        attr.set_transfer(u32::from(transfer));
        attr.set_ingress(u32::from(!transfer));
        let items = RawPattern::new(pattern);
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: attr and the END-terminated items (with their boxed
        // spec/mask) live until the call returns.
        let raw = unsafe {
            sfc_ffi::rte_flow_pattern_template_create(port, &attr, items.as_ptr(), &mut err)
        };
        if raw.is_null() {
            return Err(FlowError::driver_errno(port, "pattern template", &err));
        }
        Ok(Self { port, raw })
    }
}

impl Drop for PatternTemplate {
    fn drop(&mut self) {
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: made on this port, destroyed once, after every table
        // using it (TemplateTable drops its table first).
        let ret =
            unsafe { sfc_ffi::rte_flow_pattern_template_destroy(self.port, self.raw, &mut err) };
        if ret < 0 {
            let e = FlowError::driver(self.port, "destroy pattern template", ret, &err);
            tracing::warn!(target: "sfcd::offload", error = %e);
        }
    }
}

/// An actions template (`rte_flow_actions_template_create`): the action
/// list; every conf value is given per rule.
#[derive(Debug)]
pub struct ActionsTemplate {
    port: u16,
    raw: *mut sfc_ffi::rte_flow_actions_template,
}

impl ActionsTemplate {
    pub fn create(port: u16, transfer: bool, actions: &[Action]) -> Result<Self> {
        let mut attr = sfc_ffi::rte_flow_actions_template_attr::default();
        attr.set_transfer(u32::from(transfer));
        attr.set_ingress(u32::from(!transfer));
        let acts = RawActions::new(actions, false);
        let masks = RawActions::new(actions, true);
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: attr and both END-terminated lists (and their boxed
        // confs) live until the call returns.
        let raw = unsafe {
            sfc_ffi::rte_flow_actions_template_create(
                port,
                &attr,
                acts.as_ptr(),
                masks.as_ptr(),
                &mut err,
            )
        };
        if raw.is_null() {
            return Err(FlowError::driver_errno(port, "actions template", &err));
        }
        Ok(Self { port, raw })
    }
}

impl Drop for ActionsTemplate {
    fn drop(&mut self) {
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: as for PatternTemplate.
        let ret =
            unsafe { sfc_ffi::rte_flow_actions_template_destroy(self.port, self.raw, &mut err) };
        if ret < 0 {
            let e = FlowError::driver(self.port, "destroy actions template", ret, &err);
            tracing::warn!(target: "sfcd::offload", error = %e);
        }
    }
}

/// A template table with its templates and the flow queue (0) its rules
/// are made on. Rules made here hold it (`Rc`): it is destroyed after the
/// last of them.
#[derive(Debug)]
pub struct TemplateTable {
    port: u16,
    raw: *mut sfc_ffi::rte_flow_template_table,
    patterns: Vec<PatternTemplate>,
    actions: Vec<ActionsTemplate>,
    /// Item shape of each pattern template, to pick one for a rule.
    shapes: Vec<Vec<ItemShape>>,
    action_shapes: Vec<Vec<ActionShape>>,
    queue: u32,
    op_timeout: Duration,
    next_token: Cell<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemShape {
    RepresentedPort,
    Eth {
        dst: bool,
        src: bool,
        ether_type: bool,
    },
    End,
}

fn item_shape(i: &Item) -> ItemShape {
    match i {
        Item::RepresentedPort { .. } => ItemShape::RepresentedPort,
        Item::Eth {
            dst,
            src,
            ether_type,
        } => ItemShape::Eth {
            dst: dst.is_some(),
            src: src.is_some(),
            ether_type: ether_type.is_some(),
        },
        Item::End => ItemShape::End,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionShape {
    RepresentedPort,
    Count,
    Drop,
    Jump,
    End,
}

fn action_shape(a: &Action) -> ActionShape {
    match a {
        Action::RepresentedPort { .. } => ActionShape::RepresentedPort,
        Action::Count => ActionShape::Count,
        Action::Drop => ActionShape::Drop,
        Action::Jump { .. } => ActionShape::Jump,
        Action::End => ActionShape::End,
    }
}

impl TemplateTable {
    /// A table for rules with `attr` made from `patterns` x `actions`
    /// (lists given with example values; only their shape and masks
    /// count).
    pub fn create(
        port: u16,
        attr: FlowAttr,
        rules: u32,
        patterns: &[Vec<Item>],
        actions: &[Vec<Action>],
        op_timeout: Duration,
    ) -> Result<Rc<Self>> {
        let mut pts = Vec::with_capacity(patterns.len());
        for p in patterns {
            pts.push(PatternTemplate::create(port, attr.transfer, p)?);
        }
        let mut ats = Vec::with_capacity(actions.len());
        for a in actions {
            ats.push(ActionsTemplate::create(port, attr.transfer, a)?);
        }
        let table_attr = sfc_ffi::rte_flow_template_table_attr {
            flow_attr: attr.raw(),
            nb_flows: rules,
        };
        let mut pt_ptrs: Vec<*mut sfc_ffi::rte_flow_pattern_template> =
            pts.iter().map(|t| t.raw).collect();
        let mut at_ptrs: Vec<*mut sfc_ffi::rte_flow_actions_template> =
            ats.iter().map(|t| t.raw).collect();
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: the attribute and both pointer arrays are locals; the
        // templates they name are alive (owned by pts/ats, which the table
        // keeps until after it is destroyed).
        let raw = unsafe {
            sfc_ffi::rte_flow_template_table_create(
                port,
                &table_attr,
                pt_ptrs.as_mut_ptr(),
                pt_ptrs.len() as u8,
                at_ptrs.as_mut_ptr(),
                at_ptrs.len() as u8,
                &mut err,
            )
        };
        if raw.is_null() {
            return Err(FlowError::driver_errno(port, "template table", &err));
        }
        Ok(Rc::new(Self {
            port,
            raw,
            patterns: pts,
            actions: ats,
            shapes: patterns
                .iter()
                .map(|p| p.iter().map(item_shape).collect())
                .collect(),
            action_shapes: actions
                .iter()
                .map(|a| a.iter().map(action_shape).collect())
                .collect(),
            queue: 0,
            op_timeout,
            next_token: Cell::new(1),
        }))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rte_flow_async_create` on queue 0, pushed, and waited for.
    pub fn async_create(self: &Rc<Self>, spec: &FlowSpec) -> Result<FlowRule> {
        spec.check()?;
        check_domains(self.port, spec)?;
        let shape: Vec<ItemShape> = spec.pattern.iter().map(item_shape).collect();
        let pt = self
            .shapes
            .iter()
            .position(|s| *s == shape)
            .ok_or_else(|| {
                FlowError::Malformed(format!(
                    "no pattern template of port {} fits the pattern",
                    self.port
                ))
            })?;
        let ashape: Vec<ActionShape> = spec.actions.iter().map(action_shape).collect();
        let at = self
            .action_shapes
            .iter()
            .position(|s| *s == ashape)
            .ok_or_else(|| {
                FlowError::Malformed(format!(
                    "no actions template of port {} fits the actions",
                    self.port
                ))
            })?;
        let device = device_name(self.port).ok_or_else(|| FlowError::Port {
            port: self.port,
            msg: "no such port".into(),
        })?;
        let pattern = RawPattern::new(&spec.pattern);
        let actions = RawActions::new(&spec.actions, false);
        let op = sfc_ffi::rte_flow_op_attr::default(); // postpone = 0
        let token = self.token();
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: the table is alive (self); this thread is the only user
        // of queue 0 (TemplateTable is !Send, !Sync); items and actions
        // live until the call returns; the token is an opaque value the
        // driver hands back, never dereferenced.
        let flow = unsafe {
            sfc_ffi::rte_flow_async_create(
                self.port,
                self.queue,
                &op,
                self.raw,
                pattern.as_ptr(),
                pt as u8,
                actions.as_ptr(),
                at as u8,
                token as *mut c_void,
                &mut err,
            )
        };
        if flow.is_null() {
            return Err(FlowError::driver_errno(self.port, "async create", &err));
        }
        self.push_and_wait(token, "async create")?;
        Ok(FlowRule {
            port: self.port,
            device,
            flow,
            via: Via::Template(self.clone()),
        })
    }

    fn async_destroy(&self, flow: *mut sfc_ffi::rte_flow) -> Result<()> {
        let op = sfc_ffi::rte_flow_op_attr::default();
        let token = self.token();
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: `flow` was made in this table and is destroyed once; the
        // queue has one user (this thread).
        let ret = unsafe {
            sfc_ffi::rte_flow_async_destroy(
                self.port,
                self.queue,
                &op,
                flow,
                token as *mut c_void,
                &mut err,
            )
        };
        if ret < 0 {
            return Err(FlowError::driver(self.port, "async destroy", ret, &err));
        }
        self.push_and_wait(token, "async destroy")
    }

    fn token(&self) -> usize {
        let t = self.next_token.get();
        self.next_token.set(t.wrapping_add(1).max(1));
        t
    }

    /// Pushes queued operations and pulls results until `token`'s arrives
    /// (bounded by `op_timeout`).
    fn push_and_wait(&self, token: usize, op: &'static str) -> Result<()> {
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: queue 0 of a flow-configured port, one user.
        let ret = unsafe { sfc_ffi::rte_flow_push(self.port, self.queue, &mut err) };
        if ret < 0 {
            return Err(FlowError::driver(self.port, "push", ret, &err));
        }
        let deadline = Instant::now() + self.op_timeout;
        let mut results = [sfc_ffi::rte_flow_op_result::default(); 16];
        loop {
            let mut err = sfc_ffi::rte_flow_error::default();
            // SAFETY: the results array has room for its length; one user.
            let n = unsafe {
                sfc_ffi::rte_flow_pull(
                    self.port,
                    self.queue,
                    results.as_mut_ptr(),
                    results.len() as u16,
                    &mut err,
                )
            };
            if n < 0 {
                return Err(FlowError::driver(self.port, "pull", n, &err));
            }
            for r in results.iter().take(n as usize) {
                if r.user_data as usize == token {
                    if r.status == sfc_ffi::rte_flow_op_status_RTE_FLOW_OP_SUCCESS {
                        return Ok(());
                    }
                    return Err(FlowError::Driver {
                        port: self.port,
                        op,
                        errno: 5, // EIO: the queue reports only "error"
                        kind: FlowErrorType(1),
                        message: "the flow queue reported the operation failed".into(),
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(FlowError::Driver {
                    port: self.port,
                    op,
                    errno: ETIMEDOUT,
                    kind: FlowErrorType(1),
                    message: format!("no result within {:?}", self.op_timeout),
                });
            }
            std::thread::yield_now();
        }
    }
}

impl Drop for TemplateTable {
    fn drop(&mut self) {
        let mut err = sfc_ffi::rte_flow_error::default();
        // SAFETY: made on this port; every rule of the table is gone (each
        // held an Rc to it); destroyed once, before its templates (the
        // fields drop after this body).
        let ret =
            unsafe { sfc_ffi::rte_flow_template_table_destroy(self.port, self.raw, &mut err) };
        if ret < 0 {
            let e = FlowError::driver(self.port, "destroy template table", ret, &err);
            tracing::warn!(target: "sfcd::offload", error = %e);
        }
        // Tables before templates: drop order made explicit.
        self.actions.clear();
        self.patterns.clear();
    }
}

/// The two rule shapes sfcd makes: port -> port, and (port, dst MAC) ->
/// port, each with COUNT.
pub fn sfcd_patterns() -> Vec<Vec<Item>> {
    vec![
        vec![Item::RepresentedPort { port_id: 0 }, Item::End],
        vec![
            Item::RepresentedPort { port_id: 0 },
            Item::Eth {
                dst: Some([0; 6]),
                src: None,
                ether_type: None,
            },
            Item::End,
        ],
    ]
}

pub fn sfcd_actions() -> Vec<Vec<Action>> {
    vec![vec![
        Action::RepresentedPort { port_id: 0 },
        Action::Count,
        Action::End,
    ]]
}

/// How a port's flows will be made, decided once.
#[derive(Debug)]
pub struct PortFlow {
    pub port: u16,
    pub api: FlowApi,
    /// Where the port's transfer rules are created.
    pub proxy: u16,
    /// Why the API is not Template (or None): the driver's answer.
    pub note: Option<FlowError>,
    /// The proxy's template table when `api` is Template.
    pub table: Option<Rc<TemplateTable>>,
}

/// Decides a port's [`FlowApi`]: no transfer proxy (ENOSYS: no rte_flow)
/// is `None`; a proxy whose flow engine takes `rte_flow_configure` and
/// sfcd's templates is `Template`; otherwise `Sync`. `known` holds the
/// tables of proxies already set up (a proxy is configured once).
pub fn probe_port(
    port: u16,
    cfg: &TemplateConfig,
    known: &dyn Fn(u16) -> Option<Rc<TemplateTable>>,
) -> PortFlow {
    let proxy = match pick_transfer_proxy(port) {
        Ok(p) => p,
        Err(e) => {
            return PortFlow {
                port,
                api: FlowApi::None,
                proxy: port,
                note: Some(e),
                table: None,
            }
        }
    };
    if let Some(table) = known(proxy) {
        return PortFlow {
            port,
            api: FlowApi::Template,
            proxy,
            note: None,
            table: Some(table),
        };
    }
    match probe_template(proxy, cfg) {
        Ok(table) => PortFlow {
            port,
            api: FlowApi::Template,
            proxy,
            note: None,
            table: Some(table),
        },
        Err(e) => PortFlow {
            port,
            api: FlowApi::Sync,
            proxy,
            note: Some(e),
            table: None,
        },
    }
}

/// Sets up the template API on `proxy` for sfcd's rule shapes:
/// `rte_flow_info_get`, `rte_flow_configure` (restarting the port if
/// `cfg.restart_proxy` and it is started), the templates and the table.
pub fn probe_template(proxy: u16, cfg: &TemplateConfig) -> Result<Rc<TemplateTable>> {
    info(proxy)?;
    match configure(proxy, cfg) {
        Ok(()) => {}
        // A started port: EINVAL before the driver is asked.
        Err(e) if e.errno() == Some(EINVAL) && cfg.restart_proxy => {
            configure_restarting(proxy, cfg)?
        }
        // Perhaps configured before start by whoever made the port: the
        // templates below tell.
        Err(e) if e.errno() == Some(EINVAL) => {
            tracing::debug!(target: "sfcd::offload", port = proxy, error = %e, "flow configure refused; trying templates as is");
        }
        Err(e) => return Err(e),
    }
    TemplateTable::create(
        proxy,
        FlowAttr::transfer(),
        cfg.rules,
        &sfcd_patterns(),
        &sfcd_actions(),
        cfg.op_timeout,
    )
}

/// Creates `spec` on `port` through `table` when there is one, else with
/// the synchronous API.
pub fn create_via(
    port: u16,
    table: Option<&Rc<TemplateTable>>,
    spec: &FlowSpec,
) -> Result<FlowRule> {
    match table {
        Some(t) if t.port() == port => t.async_create(spec),
        _ => create(port, spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xc(a: u16, b: u16) -> FlowSpec {
        FlowSpec {
            attr: FlowAttr::transfer(),
            pattern: vec![Item::RepresentedPort { port_id: a }, Item::End],
            actions: vec![
                Action::RepresentedPort { port_id: b },
                Action::Count,
                Action::End,
            ],
        }
    }

    #[test]
    fn testpmd_syntax_of_a_cross_connect_rule() {
        assert_eq!(
            xc(1, 2).testpmd("create", 0),
            "flow create 0 transfer pattern represented_port ethdev_port_id is 1 / end \
             actions represented_port ethdev_port_id 2 / count / end"
        );
    }

    #[test]
    fn testpmd_syntax_of_eth_jump_and_attributes() {
        let spec = FlowSpec {
            attr: FlowAttr {
                group: 1,
                priority: 3,
                ingress: true,
                egress: false,
                transfer: false,
            },
            pattern: vec![
                Item::Eth {
                    dst: Some([2, 0, 0, 0, 0, 0x0a]),
                    src: Some([2, 0, 0, 0, 0, 0x0b]),
                    ether_type: Some(0x0800),
                },
                Item::End,
            ],
            actions: vec![Action::Jump { group: 2 }, Action::Drop, Action::End],
        };
        assert_eq!(
            spec.testpmd("validate", 4),
            "flow validate 4 group 1 priority 3 ingress pattern eth dst is 02:00:00:00:00:0a \
             src is 02:00:00:00:00:0b type is 0x0800 / end actions jump group 2 / drop / end"
        );
    }

    #[test]
    fn rules_must_end_once_with_end() {
        let mut s = xc(1, 2);
        assert!(s.check().is_ok());
        s.pattern.pop();
        assert!(matches!(s.check(), Err(FlowError::Malformed(_))));
        let mut s = xc(1, 2);
        s.actions.insert(0, Action::End);
        assert!(matches!(s.check(), Err(FlowError::Malformed(_))));
        let mut s = xc(1, 2);
        s.actions = vec![Action::End];
        assert!(matches!(s.check(), Err(FlowError::Malformed(_))));
    }

    #[test]
    fn raw_pattern_keeps_spec_and_mask_pairs() {
        let spec = FlowSpec {
            attr: FlowAttr::transfer(),
            pattern: vec![
                Item::RepresentedPort { port_id: 7 },
                Item::Eth {
                    dst: Some([2, 0, 0, 0, 0, 9]),
                    src: None,
                    ether_type: None,
                },
                Item::End,
            ],
            actions: vec![Action::Count, Action::End],
        };
        let raw = RawPattern::new(&spec.pattern);
        assert_eq!(raw.items.len(), 3);
        assert_eq!(
            raw.items[0].type_,
            sfc_ffi::rte_flow_item_type_RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT
        );
        assert_eq!(raw._ethdev[0][0].port_id, 7);
        assert_eq!(raw._ethdev[0][1].port_id, u16::MAX);
        assert_eq!(
            raw.items[0].mask,
            (&raw._ethdev[0][1] as *const sfc_ffi::rte_flow_item_ethdev).cast::<c_void>()
        );
        assert_eq!(
            raw.items[1].mask,
            (&raw._eth[0][1] as *const sfc_ffi::rte_flow_item_eth).cast::<c_void>()
        );
        // SAFETY (test): reading the struct variant the union was built with.
        let (sd, md, ms) = unsafe {
            (
                raw._eth[0][0]
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .dst
                    .addr_bytes,
                raw._eth[0][1]
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .dst
                    .addr_bytes,
                raw._eth[0][1]
                    .__bindgen_anon_1
                    .__bindgen_anon_1
                    .src
                    .addr_bytes,
            )
        };
        assert_eq!(sd, [2, 0, 0, 0, 0, 9]);
        assert_eq!(md, [0xff; 6]);
        assert_eq!(ms, [0; 6]);
        assert!(raw.items[2].spec.is_null() && raw.items[2].mask.is_null());
        // Every byte that is not a matched field is zero, padding included.
        let size = std::mem::size_of::<sfc_ffi::rte_flow_item_eth>();
        // SAFETY (test): reads the bytes of a live, initialised struct.
        let mask = unsafe {
            std::slice::from_raw_parts(
                (&raw._eth[0][1] as *const sfc_ffi::rte_flow_item_eth).cast::<u8>(),
                size,
            )
        };
        assert_eq!(&mask[..6], &[0xff; 6]);
        assert!(mask[6..].iter().all(|b| *b == 0), "{mask:?}");
    }

    #[test]
    fn a_transfer_rule_across_switch_domains_is_refused_before_the_driver() {
        let domains = |p: u16| -> Result<Option<u16>> {
            Ok(match p {
                0..=2 => Some(1),
                3 => Some(2),
                _ => None,
            })
        };
        assert!(check_domains_with(0, &xc(1, 2), domains).is_ok());
        let e = check_domains_with(0, &xc(1, 3), domains);
        assert_eq!(
            e,
            Err(FlowError::SwitchDomain {
                proxy: 0,
                detail: "port 0 is in domain 1, port 3 in domain 2".into()
            })
        );
        assert!(matches!(
            check_domains_with(0, &xc(1, 4), domains),
            Err(FlowError::SwitchDomain { .. })
        ));
        // Ports without domains: the driver decides.
        assert!(check_domains_with(4, &xc(5, 6), domains).is_ok());
        // Not a transfer rule: no E-Switch involved.
        let mut ingress = xc(1, 3);
        ingress.attr.transfer = false;
        assert!(check_domains_with(0, &ingress, domains).is_ok());
    }

    #[test]
    fn unsupported_means_enosys_enotsup_or_einval_on_a_rule_part() {
        let e = |errno, kind| FlowError::Driver {
            port: 0,
            op: "create",
            errno,
            kind: FlowErrorType(kind),
            message: String::new(),
        };
        assert!(e(ENOSYS, 1).is_unsupported());
        assert!(e(ENOTSUP, 7).is_unsupported());
        assert!(e(EINVAL, 13).is_unsupported());
        assert!(e(EINVAL, 16).is_unsupported());
        assert!(!e(EINVAL, 1).is_unsupported());
        assert!(!e(12, 1).is_unsupported()); // ENOMEM: a real failure
        assert!(FlowError::SwitchDomain {
            proxy: 0,
            detail: String::new()
        }
        .is_unsupported());
    }
}
