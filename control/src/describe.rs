//! `dpfctl describe`-like trees: NAME, NAMESPACE, READY, REASON, SINCE,
//! MESSAGE, with each object's conditions under it, per-port resolution
//! under each chain, and "nodeSelector does not match" where an object
//! yields nothing on this node.

use crate::conditions::{age, parse_rfc3339, Condition, ConditionStatus, READY};
use crate::error::ControlError;
use crate::expand::Placement;
use crate::model::{Kind, ObjectKey};
use crate::resolve::port_name;
use crate::selector::go_map;
use crate::store::Store;

#[derive(Default)]
struct Node {
    name: String,
    namespace: String,
    ready: String,
    reason: String,
    since: String,
    message: String,
    children: Vec<Node>,
}

impl Node {
    fn text(name: impl Into<String>, message: impl Into<String>) -> Self {
        Node {
            name: name.into(),
            message: message.into(),
            ..Node::default()
        }
    }
}

pub(crate) fn describe(store: &Store, kind: Kind, key: &ObjectKey) -> Result<String, ControlError> {
    let applied = store.objects.contains_key(&(kind, key.clone()));
    let on_node = match kind {
        Kind::ServiceChain => store.view.chains.contains_key(key),
        Kind::ServiceInterface => store.view.interfaces.contains_key(key),
        _ => false,
    };
    if !applied && !on_node {
        return Err(ControlError::NotFound {
            kind: kind.to_string(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        });
    }
    let now = store.clock.now_unix();
    let mut root = object_node(store, kind, key, now);
    if applied && !on_node {
        match store.view.placement.get(&(kind, key.clone())) {
            Some(Placement::OnNode(child)) => {
                let ck = if kind.is_chain() {
                    Kind::ServiceChain
                } else {
                    Kind::ServiceInterface
                };
                root.children.push(object_node(store, ck, child, now));
            }
            Some(Placement::NotOnNode(why)) => {
                let ck = if kind.is_chain() {
                    "ServiceChain"
                } else {
                    "ServiceInterface"
                };
                root.children
                    .push(Node::text(format!("{ck} (none on this node)"), why.clone()));
            }
            None => {}
        }
    }
    if let Some(from) = store
        .objects
        .get(&(kind, key.clone()))
        .and_then(|s| s.object.converted_from.as_ref())
    {
        root.children
            .insert(0, Node::text("converted from", from.to_string()));
    }
    Ok(render(&root))
}

/// An object row with its conditions, plus per-node details.
fn object_node(store: &Store, kind: Kind, key: &ObjectKey, now: i64) -> Node {
    let conds = store
        .conditions
        .get(&(kind, key.clone()))
        .cloned()
        .unwrap_or_default();
    let mut node = Node {
        name: format!("{kind}/{}", key.name),
        namespace: key.namespace.clone(),
        ..Node::default()
    };
    if let Some(r) = conds.iter().find(|c| c.type_ == READY) {
        fill(&mut node, r, now);
    }
    for c in conds.iter().filter(|c| c.type_ != READY) {
        let mut n = Node {
            name: c.type_.clone(),
            ..Node::default()
        };
        fill(&mut n, c, now);
        node.children.push(n);
    }
    match kind {
        Kind::ServiceChain => chain_details(store, key, &mut node),
        Kind::ServiceInterface => {
            if let Some(i) = store.view.interfaces.get(key) {
                let msg = match port_name(&i.spec) {
                    Ok(p) if store.ports.contains(&p) => format!("{p} (present in the dataplane)"),
                    Ok(p) => format!("{p} (not in the dataplane)"),
                    Err(e) => e,
                };
                node.children
                    .push(Node::text(format!("{} port", i.spec.interface_type), msg));
                if let Some(vn) = i.spec.virtual_network() {
                    node.children.push(Node::text(
                        "virtualNetwork",
                        format!("{vn}: cannot be chained"),
                    ));
                }
            }
        }
        _ => {}
    }
    node
}

fn chain_details(store: &Store, key: &ObjectKey, node: &mut Node) {
    let Some(res) = store.resolution.get(key) else {
        return;
    };
    for sw in &res.switches {
        let mut s = Node::text(
            format!("switches[{}]", sw.index),
            format!("mtu {}, ports [{}]", sw.mtu, sw.ports.join(", ")),
        );
        for p in res.ports.iter().filter(|p| p.switch == sw.index) {
            let target = match (&p.interface, &p.port_name) {
                (Some(i), Some(n)) => format!(" -> ServiceInterface {i} -> {n}"),
                (Some(i), None) => format!(" -> ServiceInterface {i}"),
                _ => String::new(),
            };
            let (ready, msg) = match &p.error {
                None => ("True", format!("{}{target}", go_map(&p.match_labels))),
                Some(e) => ("False", format!("{}{target}: {e}", go_map(&p.match_labels))),
            };
            s.children.push(Node {
                name: format!("ports[{}]", p.port),
                ready: ready.to_string(),
                message: msg,
                ..Node::default()
            });
        }
        node.children.push(s);
    }
}

fn fill(n: &mut Node, c: &Condition, now: i64) {
    n.ready = match c.status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
    .to_string();
    n.reason = c.reason.as_str().to_string();
    n.since = parse_rfc3339(&c.last_transition_time)
        .map(|t| age(now - t))
        .unwrap_or_default();
    n.message = c.message.clone();
}

struct Row {
    cells: [String; 6],
    /// Prefix for continuation lines of a multi-line message.
    cont: String,
    more: Vec<String>,
}

fn flatten(n: &Node, first: &str, rest: &str, rows: &mut Vec<Row>) {
    let mut lines = n.message.lines();
    let msg = lines.next().unwrap_or("").to_string();
    let cont = format!("{rest}{}", if n.children.is_empty() { "  " } else { "│ " });
    rows.push(Row {
        cells: [
            format!("{first}{}", n.name),
            n.namespace.clone(),
            n.ready.clone(),
            n.reason.clone(),
            n.since.clone(),
            msg,
        ],
        cont,
        more: lines.map(str::to_string).collect(),
    });
    let last = n.children.len().saturating_sub(1);
    for (i, c) in n.children.iter().enumerate() {
        let (f, r) = if i == last {
            ("└─", "  ")
        } else {
            ("├─", "│ ")
        };
        flatten(c, &format!("{rest}{f}"), &format!("{rest}{r}"), rows);
    }
}

fn render(root: &Node) -> String {
    let mut rows = Vec::new();
    flatten(root, "", "", &mut rows);
    let header = ["NAME", "NAMESPACE", "READY", "REASON", "SINCE", "MESSAGE"];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.cells.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 6]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 5 {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i].saturating_sub(c.chars().count()) + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header);
    out.push('\n');
    for r in &rows {
        let c = &r.cells;
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
        out.push('\n');
        for m in &r.more {
            out.push_str(&line([&r.cont, "", "", "", "", m]));
            out.push('\n');
        }
    }
    out
}
