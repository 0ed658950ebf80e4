//! Test frames: Ethernet / IPv4 / UDP with a 20-byte payload header
//! (magic, trial, stream, sequence number, TSC timestamp) that fits a
//! 64-byte frame. Pure byte manipulation, testable without DPDK.

/// Ethernet + IPv4 + UDP.
pub const HDR_LEN: usize = 14 + 20 + 8;
/// "SF" + trial + stream + seq (u64) + tsc (u64).
pub const PAYLOAD_LEN: usize = 20;
/// Smallest frame that carries the payload (without FCS).
pub const MIN_FRAME: usize = HDR_LEN + PAYLOAD_LEN;
pub const MAX_FRAME: usize = 9000;
const MAGIC: [u8; 2] = *b"SF";
const OFF_IP: usize = 14;
const OFF_UDP: usize = 34;
const OFF_PAY: usize = HDR_LEN;

/// What the receiver reads back from a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub trial: u8,
    pub stream: u8,
    pub seq: u64,
    pub tsc: u64,
}

/// The MAC of index `idx` on port `port`: locally administered unicast
/// 02:pp:ii:ii:ii:ii.
pub fn mac(port: u8, idx: u32) -> [u8; 6] {
    let i = idx.to_be_bytes();
    [0x02, port, i[0], i[1], i[2], i[3]]
}

/// How one TX stream varies its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSpec {
    /// This stream's port index (source MACs and IPs).
    pub port: u8,
    /// Index of the port its frames are addressed to.
    pub peer: u8,
    /// Distinct source (and destination) MACs, >= 1.
    pub macs: u32,
    /// Distinct IP/UDP 5-tuples, >= 1.
    pub flows: u32,
}

/// A frame of `len` bytes (`len >= MIN_FRAME`) with zeroed payload, for
/// MAC index 0 and flow 0.
pub fn template(spec: &FlowSpec, len: usize) -> Vec<u8> {
    let len = len.clamp(MIN_FRAME, MAX_FRAME);
    let mut f = vec![0u8; len];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[OFF_IP..OFF_IP + 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((len - 14) as u16).to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    let udp = &mut f[OFF_UDP..OFF_UDP + 8];
    udp[4..6].copy_from_slice(&((len - OFF_UDP) as u16).to_be_bytes());
    // UDP checksum 0: none (IPv4 allows it).
    f[OFF_PAY..OFF_PAY + 2].copy_from_slice(&MAGIC);
    f[OFF_PAY + 3] = spec.port;
    set_addresses(&mut f, spec, 0, 0);
    f
}

/// Writes MACs for MAC index `m` and IPs/ports for flow `fl` (and the IP
/// checksum) into a frame made by [`template`].
#[inline]
pub fn set_addresses(f: &mut [u8], spec: &FlowSpec, m: u32, fl: u32) {
    if f.len() < MIN_FRAME {
        return;
    }
    f[0..6].copy_from_slice(&mac(spec.peer, m));
    f[6..12].copy_from_slice(&mac(spec.port, m));
    let fb = fl.to_be_bytes();
    // 10.<port>.<flow hi>.<flow lo> -> 10.<peer>.<flow hi>.<flow lo>
    f[OFF_IP + 12..OFF_IP + 16].copy_from_slice(&[10, spec.port, fb[2], fb[3]]);
    f[OFF_IP + 16..OFF_IP + 20].copy_from_slice(&[10, spec.peer, fb[2], fb[3]]);
    let sport = 1024 + (fl >> 16) as u16 % 60000;
    f[OFF_UDP..OFF_UDP + 2].copy_from_slice(&sport.to_be_bytes());
    f[OFF_UDP + 2..OFF_UDP + 4].copy_from_slice(&4789u16.to_be_bytes());
    f[OFF_IP + 10] = 0;
    f[OFF_IP + 11] = 0;
    let c = ip_checksum(&f[OFF_IP..OFF_IP + 20]);
    f[OFF_IP + 10..OFF_IP + 12].copy_from_slice(&c.to_be_bytes());
}

/// Internet checksum of an IPv4 header (checksum field zeroed).
pub fn ip_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for w in h.chunks(2) {
        let hi = u32::from(w[0]) << 8;
        let lo = w.get(1).map_or(0, |&b| u32::from(b));
        s += hi | lo;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Writes trial, sequence number and timestamp (stream is in the template).
#[inline]
pub fn stamp(f: &mut [u8], trial: u8, seq: u64, tsc: u64) {
    if f.len() < MIN_FRAME {
        return;
    }
    f[OFF_PAY + 2] = trial;
    f[OFF_PAY + 4..OFF_PAY + 12].copy_from_slice(&seq.to_le_bytes());
    f[OFF_PAY + 12..OFF_PAY + 20].copy_from_slice(&tsc.to_le_bytes());
}

/// Reads a stamp back; `None` for frames that are not ours (wrong type,
/// protocol, magic, or too short), so foreign traffic is counted apart.
#[inline]
pub fn parse(f: &[u8]) -> Option<Stamp> {
    if f.len() < MIN_FRAME
        || f[12..14] != [0x08, 0x00]
        || f[OFF_IP + 9] != 17
        || f[OFF_PAY..OFF_PAY + 2] != MAGIC
    {
        return None;
    }
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&f[o..o + 8]);
        u64::from_le_bytes(b)
    };
    Some(Stamp {
        trial: f[OFF_PAY + 2],
        stream: f[OFF_PAY + 3],
        seq: u64_at(OFF_PAY + 4),
        tsc: u64_at(OFF_PAY + 12),
    })
}

/// Frame sizes: fixed, a sweep (one trial per size), or IMIX (mixed
/// within a trial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeSpec {
    Fixed(usize),
    Sweep(Vec<usize>),
    Imix,
}

/// Simple IMIX (7:4:1 of 64, 594, 1518 bytes), as a repeating pattern.
pub const IMIX_PATTERN: [usize; 12] = [64, 594, 64, 64, 594, 64, 1518, 64, 594, 64, 594, 64];

impl SizeSpec {
    pub fn parse(s: &str) -> Result<SizeSpec, String> {
        let one = |t: &str| -> Result<usize, String> {
            let n: usize = t
                .trim()
                .parse()
                .map_err(|_| format!("frame size {t:?} is not a number"))?;
            if !(MIN_FRAME..=MAX_FRAME).contains(&n) {
                return Err(format!(
                    "frame size {n} out of range {MIN_FRAME}..={MAX_FRAME} (bytes without FCS; the payload needs {MIN_FRAME})"
                ));
            }
            Ok(n)
        };
        let s = s.trim();
        if s.eq_ignore_ascii_case("imix") {
            return Ok(SizeSpec::Imix);
        }
        if let Some(list) = s.strip_prefix("sweep:") {
            let v = list.split(',').map(one).collect::<Result<Vec<_>, _>>()?;
            if v.is_empty() {
                return Err("empty sweep".into());
            }
            return Ok(SizeSpec::Sweep(v));
        }
        one(s).map(SizeSpec::Fixed)
    }

    /// The per-trial size patterns: one trial per entry.
    pub fn trials(&self) -> Vec<Vec<usize>> {
        match self {
            SizeSpec::Fixed(n) => vec![vec![*n]],
            SizeSpec::Sweep(v) => v.iter().map(|&n| vec![n]).collect(),
            SizeSpec::Imix => vec![IMIX_PATTERN.to_vec()],
        }
    }

    pub fn label(pattern: &[usize]) -> String {
        if pattern.len() == 1 {
            pattern[0].to_string()
        } else {
            "imix".into()
        }
    }
}

/// Mean frame size of a pattern (bytes without FCS).
pub fn mean_size(pattern: &[usize]) -> f64 {
    if pattern.is_empty() {
        return 0.0;
    }
    pattern.iter().sum::<usize>() as f64 / pattern.len() as f64
}

/// Writes frames as a classic pcap file (microsecond, Ethernet).
pub fn write_pcap<W: std::io::Write>(mut w: W, frames: &[Vec<u8>]) -> std::io::Result<()> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    w.write_all(&h)?;
    for (i, f) in frames.iter().enumerate() {
        let mut r = Vec::with_capacity(16);
        r.extend_from_slice(&((i / 1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&((i % 1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&(f.len() as u32).to_le_bytes());
        r.extend_from_slice(&(f.len() as u32).to_le_bytes());
        w.write_all(&r)?;
        w.write_all(f)?;
    }
    Ok(())
}

/// Reads the frames of a classic pcap file (either byte order, Ethernet).
pub fn read_pcap(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if bytes.len() < 24 {
        return Err("pcap file shorter than its header".into());
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err("not a pcap file (pcapng is not supported)".into()),
    };
    let rd = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = rd(&bytes[20..24]);
    if linktype != 1 {
        return Err(format!("pcap link type {linktype}, only Ethernet (1)"));
    }
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let caplen = rd(&bytes[off + 8..off + 12]) as usize;
        let start = off + 16;
        let end = start
            .checked_add(caplen)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| format!("truncated record at byte {off}"))?;
        if caplen > MAX_FRAME {
            return Err(format!("frame of {caplen} bytes at byte {off}"));
        }
        out.push(bytes[start..end].to_vec());
        off = end;
    }
    if out.is_empty() {
        return Err("pcap file holds no frames".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: FlowSpec = FlowSpec {
        port: 1,
        peer: 2,
        macs: 4096,
        flows: 16,
    };

    #[test]
    fn stamp_round_trips_in_a_64_byte_frame() {
        let mut f = template(&SPEC, 64);
        assert_eq!(f.len(), 64);
        stamp(&mut f, 7, 0x0102_0304_0506_0708, 0xdead_beef_cafe);
        assert_eq!(
            parse(&f),
            Some(Stamp {
                trial: 7,
                stream: 1,
                seq: 0x0102_0304_0506_0708,
                tsc: 0xdead_beef_cafe
            })
        );
    }

    #[test]
    fn foreign_frames_are_not_parsed() {
        assert_eq!(parse(&[0u8; 64]), None);
        assert_eq!(parse(&[0u8; 10]), None);
        let mut f = template(&SPEC, 64);
        f[OFF_PAY] = b'X';
        assert_eq!(parse(&f), None);
    }

    #[test]
    fn addresses_and_checksum() {
        let mut f = template(&SPEC, 128);
        set_addresses(&mut f, &SPEC, 0x0001_0203, 0x0000_0a0b);
        assert_eq!(&f[0..6], &[2, 2, 0, 1, 2, 3]);
        assert_eq!(&f[6..12], &[2, 1, 0, 1, 2, 3]);
        assert_eq!(&f[26..30], &[10, 1, 0x0a, 0x0b]);
        assert_eq!(&f[30..34], &[10, 2, 0x0a, 0x0b]);
        // A correct header sums to 0xffff (checksum of it is 0).
        assert_eq!(ip_checksum(&f[14..34]), 0);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 128 - 14);
        assert_eq!(u16::from_be_bytes([f[38], f[39]]), 128 - 34);
    }

    #[test]
    fn known_checksum() {
        // RFC 1071 style example header.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ip_checksum(&h), 0xb861);
    }

    #[test]
    fn size_specs() {
        assert_eq!(SizeSpec::parse("64"), Ok(SizeSpec::Fixed(64)));
        assert_eq!(
            SizeSpec::parse("sweep:64,128, 1518"),
            Ok(SizeSpec::Sweep(vec![64, 128, 1518]))
        );
        assert_eq!(SizeSpec::parse("IMIX"), Ok(SizeSpec::Imix));
        assert!(SizeSpec::parse("60").is_err());
        assert!(SizeSpec::parse("sweep:").is_err());
        assert!(SizeSpec::parse("sweep:64,x").is_err());
        assert!(SizeSpec::parse("100000").is_err());
        assert_eq!(
            SizeSpec::parse("sweep:64,128").map(|s| s.trials().len()),
            Ok(2)
        );
        let imix = IMIX_PATTERN;
        assert_eq!(imix.iter().filter(|&&s| s == 64).count(), 7);
        assert_eq!(imix.iter().filter(|&&s| s == 594).count(), 4);
        assert_eq!(imix.iter().filter(|&&s| s == 1518).count(), 1);
        assert!((mean_size(&imix) - 4342.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn pcap_round_trip() {
        let frames = vec![template(&SPEC, 64), template(&SPEC, 100)];
        let mut buf = Vec::new();
        assert!(write_pcap(&mut buf, &frames).is_ok());
        assert_eq!(read_pcap(&buf), Ok(frames));
        assert!(read_pcap(&buf[..30]).is_err());
        assert!(read_pcap(&[0u8; 24]).is_err());
    }
}
