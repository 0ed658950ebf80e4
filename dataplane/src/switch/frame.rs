//! The little of an Ethernet frame a switch reads: two MACs and the tags.

use std::fmt;

/// A MAC address in the low 48 bits of a u64, in wire order (the first byte
/// on the wire is the most significant of the 48).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub u64);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr(0xffff_ffff_ffff);

    pub fn from_bytes(b: [u8; 6]) -> Self {
        MacAddr(
            (u64::from(b[0]) << 40)
                | (u64::from(b[1]) << 32)
                | (u64::from(b[2]) << 24)
                | (u64::from(b[3]) << 16)
                | (u64::from(b[4]) << 8)
                | u64::from(b[5]),
        )
    }

    pub fn bytes(self) -> [u8; 6] {
        let v = self.0;
        [
            (v >> 40) as u8,
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ]
    }

    /// The I/G bit: set for multicast and broadcast.
    #[inline]
    pub fn is_multicast(self) -> bool {
        self.0 & 0x0100_0000_0000 != 0
    }

    /// Reads six bytes at the start of `b`, which must be at least 6 long.
    #[inline]
    fn read(b: &[u8]) -> Self {
        let mut w = [0u8; 8];
        w[2..8].copy_from_slice(&b[..6]);
        MacAddr(u64::from_be_bytes(w))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes();
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(format!(
                "MAC address {s:?}: expected 6 hex bytes separated by ':'"
            ));
        }
        let mut b = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            b[i] = u8::from_str_radix(p, 16)
                .map_err(|_| format!("MAC address {s:?}: {p:?} is not a hex byte"))?;
        }
        Ok(MacAddr::from_bytes(b))
    }
}

pub const ETHER_HDR_LEN: usize = 14;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

/// Destination and source of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtherHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
}

impl EtherHeader {
    /// `None` for a runt (shorter than an Ethernet header).
    #[inline]
    pub fn parse(frame: &[u8]) -> Option<Self> {
        if frame.len() < ETHER_HDR_LEN {
            return None;
        }
        Some(EtherHeader {
            dst: MacAddr::read(&frame[0..6]),
            src: MacAddr::read(&frame[6..12]),
        })
    }
}

/// Bytes of L2 header (Ethernet plus up to two VLAN tags) before the payload
/// whose size the MTU bounds.
pub fn l2_header_len(frame: &[u8]) -> usize {
    let mut off = 12;
    let mut len = ETHER_HDR_LEN;
    for _ in 0..2 {
        if frame.len() < off + 2 {
            break;
        }
        let ty = u16::from_be_bytes([frame[off], frame[off + 1]]);
        if ty == ETHERTYPE_VLAN || ty == ETHERTYPE_QINQ || ty == ETHERTYPE_QINQ_OLD {
            len += 4;
            off += 4;
        } else {
            break;
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_through_bytes_and_text() {
        let m: MacAddr = "02:00:5e:10:00:ff".parse().unwrap_or_default();
        assert_eq!(m.bytes(), [0x02, 0x00, 0x5e, 0x10, 0x00, 0xff]);
        assert_eq!(m.to_string(), "02:00:5e:10:00:ff");
        assert!("02:00:5e:10:00".parse::<MacAddr>().is_err());
        assert!("02:00:5e:10:00:zz".parse::<MacAddr>().is_err());
    }

    #[test]
    fn multicast_bit_is_the_lowest_bit_of_the_first_byte() {
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(MacAddr::from_bytes([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
        assert!(MacAddr::from_bytes([0x33, 0x33, 0, 0, 0, 1]).is_multicast());
        assert!(!MacAddr::from_bytes([0x02, 0, 0, 0, 0, 1]).is_multicast());
    }

    #[test]
    fn runts_do_not_parse() {
        assert_eq!(EtherHeader::parse(&[0u8; 13]), None);
        assert!(EtherHeader::parse(&[0u8; 14]).is_some());
    }

    #[test]
    fn vlan_and_qinq_tags_count_as_header() {
        let mut f = vec![0u8; 64];
        f[12] = 0x08;
        assert_eq!(l2_header_len(&f), 14);
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(l2_header_len(&f), 18);
        f[12..14].copy_from_slice(&[0x88, 0xa8]);
        f[16..18].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(l2_header_len(&f), 22);
    }
}
