//! The per-frame decision: drop, forward to one port, or flood the switch.

use super::frame::{l2_header_len, EtherHeader, ETHER_HDR_LEN};
use super::{ForwardingState, Learned, PortAction, PortId, SwitchId, Tick};

/// Why a frame was dropped. The engine counts each reason per port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Received on a port in no switch.
    NoSwitch = 0,
    /// Received on the only resolved port of its switch.
    NoPeer = 1,
    /// Shorter than an Ethernet header.
    Runt = 2,
    /// L2 payload larger than the switch's MTU.
    OverMtu = 3,
    /// Multicast source MAC: invalid, never learned.
    BadSrcMac = 4,
    /// The output port's TX queue stayed full.
    TxFull = 5,
}

impl DropReason {
    pub const COUNT: usize = 6;
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::NoSwitch,
        DropReason::NoPeer,
        DropReason::Runt,
        DropReason::OverMtu,
        DropReason::BadSrcMac,
        DropReason::TxFull,
    ];

    /// The name shown by sfcctl and in metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::NoSwitch => "no-switch",
            DropReason::NoPeer => "no-peer",
            DropReason::Runt => "runt",
            DropReason::OverMtu => "over-mtu",
            DropReason::BadSrcMac => "bad-src-mac",
            DropReason::TxFull => "tx-full",
        }
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Drop(DropReason),
    /// To exactly this port.
    Forward(PortId),
    /// To every port of the switch except the ingress port.
    Flood(SwitchId),
}

/// The frame is too big for the MTU: its L2 payload (after Ethernet and up
/// to two VLAN tags) is larger than `mtu`. The first comparison is the only
/// cost for frames that fit.
#[inline]
pub fn over_mtu(frame: &[u8], pkt_len: u32, mtu: u16) -> bool {
    let mtu = u32::from(mtu);
    pkt_len > mtu + ETHER_HDR_LEN as u32 && pkt_len - l2_header_len(frame) as u32 > mtu
}

/// The result of learning a frame's source, for the offload thread and the
/// counters.
pub type LearnEvent = (SwitchId, Learned);

impl ForwardingState {
    /// Decides one frame that entered on `in_port`. `frame` is (at least)
    /// the first bytes of the frame, `pkt_len` its full length. On a
    /// learning switch this also learns the source MAC at time `now`.
    ///
    /// Exactly DPF's flows (dpf-chains.md section 5): a frame whose
    /// destination was learned on its own ingress port matches no learned
    /// rule (those are keyed on the *other* ports) and floods.
    #[inline]
    pub fn classify(&self, in_port: PortId, frame: &[u8], pkt_len: u32, now: Tick) -> Decision {
        self.classify_learn(in_port, frame, pkt_len, now).0
    }

    /// [`Self::classify`], also returning what learning did.
    #[inline]
    pub fn classify_learn(
        &self,
        in_port: PortId,
        frame: &[u8],
        pkt_len: u32,
        now: Tick,
    ) -> (Decision, Option<LearnEvent>) {
        if frame.len() < ETHER_HDR_LEN {
            return (Decision::Drop(DropReason::Runt), None);
        }
        match self.action(in_port) {
            PortAction::Drop => (Decision::Drop(DropReason::NoSwitch), None),
            PortAction::NoPeer { .. } => (Decision::Drop(DropReason::NoPeer), None),
            PortAction::CrossConnect { out, mtu } => {
                if over_mtu(frame, pkt_len, mtu) {
                    (Decision::Drop(DropReason::OverMtu), None)
                } else {
                    (Decision::Forward(out), None)
                }
            }
            PortAction::Switch(id) => self.switch_frame(id, in_port, frame, pkt_len, now),
        }
    }

    #[inline]
    fn switch_frame(
        &self,
        id: SwitchId,
        in_port: PortId,
        frame: &[u8],
        pkt_len: u32,
        now: Tick,
    ) -> (Decision, Option<LearnEvent>) {
        let Some(sw) = self.switch(id) else {
            return (Decision::Drop(DropReason::NoSwitch), None);
        };
        let Some(eth) = EtherHeader::parse(frame) else {
            return (Decision::Drop(DropReason::Runt), None);
        };
        if over_mtu(frame, pkt_len, sw.mtu) {
            return (Decision::Drop(DropReason::OverMtu), None);
        }
        if eth.src.is_multicast() {
            return (Decision::Drop(DropReason::BadSrcMac), None);
        }
        let learned = sw.table.learn(eth.src, in_port, now);
        let event = (learned != Learned::Refreshed).then_some((id, learned));
        if eth.dst.is_multicast() {
            return (Decision::Flood(id), event);
        }
        match sw.table.lookup(eth.dst) {
            Some(out) if out != in_port && sw.has_port(out) => (Decision::Forward(out), event),
            _ => (Decision::Flood(id), event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MacAddr, StateConfig, SwitchSpec};
    use super::*;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];
    const C: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc];
    const BCAST: [u8; 6] = [0xff; 6];

    fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[0..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    fn state(switches: &[&[PortId]]) -> ForwardingState {
        let specs: Vec<SwitchSpec> = switches
            .iter()
            .enumerate()
            .map(|(i, p)| SwitchSpec::new(format!("s{i}"), p))
            .collect();
        ForwardingState::build(&specs, None, StateConfig::default()).unwrap_or_default()
    }

    fn go(st: &ForwardingState, port: PortId, f: &[u8], now: Tick) -> Decision {
        st.classify(port, f, f.len() as u32, now)
    }

    #[test]
    fn cross_connect_forwards_both_ways_without_learning() {
        let st = state(&[&[1, 2]]);
        assert_eq!(go(&st, 1, &frame(B, A), 0), Decision::Forward(2));
        assert_eq!(go(&st, 2, &frame(A, B), 0), Decision::Forward(1));
        // Even broadcast goes straight across.
        assert_eq!(go(&st, 1, &frame(BCAST, A), 0), Decision::Forward(2));
    }

    #[test]
    fn a_port_in_no_switch_drops() {
        let st = state(&[&[1, 2]]);
        assert_eq!(
            go(&st, 3, &frame(B, A), 0),
            Decision::Drop(DropReason::NoSwitch)
        );
    }

    #[test]
    fn unknown_unicast_broadcast_and_multicast_flood() {
        let st = state(&[&[1, 2, 3]]);
        assert_eq!(go(&st, 1, &frame(B, A), 0), Decision::Flood(0));
        assert_eq!(go(&st, 1, &frame(BCAST, A), 0), Decision::Flood(0));
        let mcast = [0x01, 0x00, 0x5e, 0, 0, 1];
        assert_eq!(go(&st, 1, &frame(mcast, A), 0), Decision::Flood(0));
    }

    #[test]
    fn flood_set_excludes_the_ingress_port() {
        let st = state(&[&[1, 2, 3]]);
        let Decision::Flood(id) = go(&st, 2, &frame(BCAST, A), 0) else {
            panic!("broadcast must flood");
        };
        let out: Vec<PortId> = st
            .switch(id)
            .map(|s| s.ports.iter().copied().filter(|p| *p != 2).collect())
            .unwrap_or_default();
        assert_eq!(out, vec![1, 3]);
    }

    #[test]
    fn the_reply_goes_only_to_the_learned_port() {
        let st = state(&[&[1, 2, 3]]);
        assert_eq!(go(&st, 1, &frame(B, A), 0), Decision::Flood(0));
        assert_eq!(go(&st, 2, &frame(A, B), 0), Decision::Forward(1));
        assert_eq!(go(&st, 1, &frame(B, A), 0), Decision::Forward(2));
    }

    #[test]
    fn a_mac_that_moves_is_relearned_on_its_new_port() {
        let st = state(&[&[1, 2, 3]]);
        go(&st, 1, &frame(BCAST, A), 0);
        assert_eq!(go(&st, 2, &frame(A, B), 0), Decision::Forward(1));
        let (_, ev) = st.classify_learn(3, &frame(BCAST, A), 60, 1);
        assert_eq!(ev, Some((0, Learned::Moved { from: 1 })));
        assert_eq!(go(&st, 2, &frame(A, B), 1), Decision::Forward(3));
    }

    #[test]
    fn two_switches_never_leak_into_each_other() {
        let st = state(&[&[1, 2, 3], &[4, 5, 6]]);
        go(&st, 1, &frame(BCAST, A), 0);
        // A is known in switch 0 only; from switch 1 it is unknown: flood
        // within switch 1.
        assert_eq!(go(&st, 4, &frame(A, C), 0), Decision::Flood(1));
        let sw1 = st.switch(1).map(|s| s.ports.clone()).unwrap_or_default();
        assert_eq!(sw1, vec![4, 5, 6]);
        assert_eq!(
            st.switch(1).map(|s| s.table.lookup(MacAddr::from_bytes(A))),
            Some(None)
        );
        // Even a MAC learned in switch 0 on port 1 is never used from switch 1.
        go(&st, 5, &frame(BCAST, B), 0);
        assert_eq!(go(&st, 1, &frame(B, A), 0), Decision::Flood(0));
    }

    #[test]
    fn aging_at_the_boundary_with_an_injected_clock() {
        let st = state(&[&[1, 2, 3]]);
        go(&st, 1, &frame(BCAST, A), 1_000);
        // 10 s idle exactly: still there.
        assert_eq!(st.expire(11_000), 0);
        assert_eq!(go(&st, 2, &frame(A, B), 11_000), Decision::Forward(1));
        // B refreshed at 11_000, A not since 1_000: one ms past 10 s later,
        // A expires and traffic to it floods again.
        assert_eq!(st.expire(11_001), 1);
        assert_eq!(go(&st, 2, &frame(A, B), 11_001), Decision::Flood(0));
    }

    #[test]
    fn destination_learned_on_the_ingress_port_floods_like_dpf() {
        let st = state(&[&[1, 2, 3]]);
        go(&st, 1, &frame(BCAST, A), 0);
        assert_eq!(go(&st, 1, &frame(A, C), 0), Decision::Flood(0));
    }

    #[test]
    fn runts_oversize_and_multicast_sources_are_dropped_with_their_reason() {
        let st = state(&[&[1, 2, 3], &[4, 5]]);
        assert_eq!(go(&st, 1, &[0u8; 13], 0), Decision::Drop(DropReason::Runt));
        assert_eq!(go(&st, 4, &[0u8; 10], 0), Decision::Drop(DropReason::Runt));
        let mut big = frame(B, A);
        big.resize(1515, 0);
        assert_eq!(go(&st, 1, &big, 0), Decision::Drop(DropReason::OverMtu));
        assert_eq!(go(&st, 4, &big, 0), Decision::Drop(DropReason::OverMtu));
        big.truncate(1514);
        assert_eq!(go(&st, 4, &big, 0), Decision::Forward(5));
        // A VLAN tag does not count against the MTU.
        let mut tagged = frame(B, A);
        tagged[12..14].copy_from_slice(&[0x81, 0x00]);
        tagged.resize(1518, 0);
        assert_eq!(go(&st, 4, &tagged, 0), Decision::Forward(5));
        assert_eq!(
            go(&st, 1, &frame(B, [0x03, 0, 0, 0, 0, 1]), 0),
            Decision::Drop(DropReason::BadSrcMac)
        );
        assert_eq!(st.switch(0).map(|s| s.table.len()), Some(0));
    }

    #[test]
    fn removing_a_port_stops_forwarding_to_it_at_once() {
        let old = state(&[&[1, 2, 3]]);
        go(&old, 3, &frame(BCAST, C), 0);
        assert_eq!(go(&old, 1, &frame(C, A), 0), Decision::Forward(3));
        let new = ForwardingState::build(
            &[SwitchSpec::new("s0", &[1, 2, 4])],
            Some(&old),
            StateConfig::default(),
        )
        .unwrap_or_default();
        assert_eq!(go(&new, 1, &frame(C, A), 0), Decision::Flood(0));
        // And the learned A (port 1) survived the update.
        assert_eq!(go(&new, 2, &frame(A, B), 0), Decision::Forward(1));
    }
}
