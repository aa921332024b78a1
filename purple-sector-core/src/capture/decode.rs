//! Unwrapping a captured frame: link layer (raw IP, Ethernet with VLAN tags, Linux cooked
//! SLL/SLL2, BSD NULL/LOOP), IPv4 or IPv6 with extension headers, and UDP. No panics, every
//! access checked.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Why a packet was not returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Skip {
    LinkType,
    NotIp,
    NotUdp,
    Fragment,
    OtherPort,
    Truncated,
    Malformed,
}

/// A UDP datagram unwrapped from a frame, borrowing the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Udp<'a> {
    pub(super) source: SocketAddr,
    pub(super) destination: SocketAddr,
    pub(super) payload: &'a [u8],
}

mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const RAW_DLT12: i32 = 12;
    pub const RAW_DLT14: i32 = 14;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
pub(super) const IPPROTO_UDP: u8 = 17;

fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes
        .get(at..at.checked_add(N)?)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_be_bytes)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    /// IPv4 or IPv6, told by the version nibble.
    AnyIp,
    Ipv4,
    Ipv6,
}

/// Strips the link layer, returning the network layer and the network packet.
fn strip_link(link: i32, frame: &[u8]) -> Result<(Network, &[u8]), Skip> {
    let by_ethertype = |ethertype: u16| match ethertype {
        ETHERTYPE_IPV4 => Ok(Network::Ipv4),
        ETHERTYPE_IPV6 => Ok(Network::Ipv6),
        _ => Err(Skip::NotIp),
    };
    let by_family = |family: u32| match family {
        2 => Ok(Network::Ipv4),
        // AF_INET6 on NetBSD/OpenBSD, FreeBSD/DragonFly, macOS/iOS.
        24 | 28 | 30 => Ok(Network::Ipv6),
        _ => Err(Skip::NotIp),
    };
    let (network, start) = match link {
        linktype::RAW | linktype::RAW_DLT12 | linktype::RAW_DLT14 => (Network::AnyIp, 0),
        linktype::IPV4 => (Network::Ipv4, 0),
        linktype::IPV6 => (Network::Ipv6, 0),
        linktype::ETHERNET => {
            let mut ethertype = be16(frame, 12).ok_or(Skip::Truncated)?;
            let mut start = 14;
            // Up to two VLAN tags (802.1Q, 802.1ad, legacy QinQ).
            for _ in 0..2 {
                if matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
                    ethertype = be16(frame, start + 2).ok_or(Skip::Truncated)?;
                    start += 4;
                }
            }
            (by_ethertype(ethertype)?, start)
        }
        linktype::LINUX_SLL => (by_ethertype(be16(frame, 14).ok_or(Skip::Truncated)?)?, 16),
        linktype::LINUX_SLL2 => {
            if frame.len() < 20 {
                return Err(Skip::Truncated);
            }
            (by_ethertype(be16(frame, 0).ok_or(Skip::Truncated)?)?, 20)
        }
        linktype::NULL => {
            // Host byte order of the capturing machine: take whichever reading is small.
            let raw = array::<4>(frame, 0).ok_or(Skip::Truncated)?;
            let le = u32::from_le_bytes(raw);
            let family = if le <= 0xffff {
                le
            } else {
                u32::from_be_bytes(raw)
            };
            (by_family(family)?, 4)
        }
        linktype::LOOP => {
            let family = array::<4>(frame, 0)
                .map(u32::from_be_bytes)
                .ok_or(Skip::Truncated)?;
            (by_family(family)?, 4)
        }
        _ => return Err(Skip::LinkType),
    };
    let packet = frame.get(start..).ok_or(Skip::Truncated)?;
    Ok((network, packet))
}

/// Unwraps link layer, IP and UDP.
pub(super) fn decode_frame(link: i32, frame: &[u8]) -> Result<Udp<'_>, Skip> {
    let (network, packet) = strip_link(link, frame)?;
    let version = packet.first().ok_or(Skip::Truncated)? >> 4;
    match (network, version) {
        (Network::AnyIp | Network::Ipv4, 4) => decode_ipv4(packet),
        (Network::AnyIp | Network::Ipv6, 6) => decode_ipv6(packet),
        (Network::AnyIp, _) => Err(Skip::NotIp),
        _ => Err(Skip::Malformed),
    }
}

fn decode_ipv4(packet: &[u8]) -> Result<Udp<'_>, Skip> {
    let header: [u8; 20] = array(packet, 0).ok_or(Skip::Truncated)?;
    let ihl = usize::from(header[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(Skip::Malformed);
    }
    if packet.len() < ihl {
        return Err(Skip::Truncated);
    }
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if total_len < ihl {
        return Err(Skip::Malformed);
    }
    if header[9] != IPPROTO_UDP {
        return Err(Skip::NotUdp);
    }
    let flags_fragment = u16::from_be_bytes([header[6], header[7]]);
    if flags_fragment & 0x3fff != 0 {
        // More-fragments set, or a non-zero fragment offset.
        return Err(Skip::Fragment);
    }
    let source = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
    let destination = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
    // The total length trims link-layer padding and trailers; captured bytes bound it.
    let end = total_len.min(packet.len());
    let segment = packet.get(ihl..end).ok_or(Skip::Truncated)?;
    let (sport, dport, payload) = decode_udp(segment)?;
    Ok(Udp {
        source: SocketAddr::V4(SocketAddrV4::new(source, sport)),
        destination: SocketAddr::V4(SocketAddrV4::new(destination, dport)),
        payload,
    })
}

fn decode_ipv6(packet: &[u8]) -> Result<Udp<'_>, Skip> {
    let header: [u8; 40] = array(packet, 0).ok_or(Skip::Truncated)?;
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let end = (40 + payload_len).min(packet.len());
    let packet = packet.get(..end).ok_or(Skip::Truncated)?;
    let mut next = header[6];
    let mut at = 40usize;
    // Follow a bounded number of extension headers.
    for _ in 0..8 {
        match next {
            IPPROTO_UDP => break,
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let [nh, len] = array::<2>(packet, at).ok_or(Skip::Truncated)?;
                next = nh;
                at += (usize::from(len) + 1) * 8;
            }
            // Fragment header.
            44 => {
                let [nh, _, off_hi, off_lo] = array::<4>(packet, at).ok_or(Skip::Truncated)?;
                let offset_flags = u16::from_be_bytes([off_hi, off_lo]);
                if offset_flags & 0xfff9 != 0 {
                    // Non-zero offset or more-fragments: a real fragment.
                    return Err(if nh == IPPROTO_UDP {
                        Skip::Fragment
                    } else {
                        Skip::NotUdp
                    });
                }
                next = nh;
                at += 8;
            }
            _ => return Err(Skip::NotUdp),
        }
    }
    if next != IPPROTO_UDP {
        return Err(Skip::NotUdp);
    }
    let octets = |from: usize| {
        let mut a = [0u8; 16];
        if let Some(src) = header.get(from..from + 16) {
            a.copy_from_slice(src);
        }
        Ipv6Addr::from(a)
    };
    let segment = packet.get(at..).ok_or(Skip::Truncated)?;
    let (sport, dport, payload) = decode_udp(segment)?;
    Ok(Udp {
        source: SocketAddr::V6(SocketAddrV6::new(octets(8), sport, 0, 0)),
        destination: SocketAddr::V6(SocketAddrV6::new(octets(24), dport, 0, 0)),
        payload,
    })
}

/// Returns source port, destination port and payload; honours the UDP length field.
fn decode_udp(segment: &[u8]) -> Result<(u16, u16, &[u8]), Skip> {
    let header: [u8; 8] = array(segment, 0).ok_or(Skip::Truncated)?;
    let sport = u16::from_be_bytes([header[0], header[1]]);
    let dport = u16::from_be_bytes([header[2], header[3]]);
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    if len < 8 {
        return Err(Skip::Malformed);
    }
    let payload = segment.get(8..len).ok_or(Skip::Truncated)?;
    Ok((sport, dport, payload))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn ipv6(next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
        v.push(next);
        v.push(64);
        v.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(ext);
        v.extend_from_slice(l4);
        v
    }

    #[test]
    fn ipv6_extension_headers() {
        let l4 = udp(1234, 9996, b"hello");
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then UDP.
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let packet = ipv6(0, &ext, &l4);
        let d = decode_frame(linktype::RAW, &packet).unwrap();
        assert_eq!(d.payload, b"hello");
        assert_eq!(d.destination, "[fe80::1]:9996".parse().unwrap());
        assert_eq!(d.source, "[::1]:1234".parse().unwrap());

        // Atomic fragment (offset 0, M = 0) is a whole datagram.
        let packet = ipv6(44, &[17, 0, 0, 0, 0, 0, 0, 1], &l4);
        assert_eq!(
            decode_frame(linktype::IPV6, &packet).unwrap().payload,
            b"hello"
        );
        // First fragment (M = 1) and a later one are fragments.
        let packet = ipv6(44, &[17, 0, 0, 1, 0, 0, 0, 1], &l4);
        assert_eq!(decode_frame(linktype::RAW, &packet), Err(Skip::Fragment));
        let packet = ipv6(44, &[17, 0, 0, 8, 0, 0, 0, 1], &l4);
        assert_eq!(decode_frame(linktype::RAW, &packet), Err(Skip::Fragment));
        // Extension header running past the end.
        let packet = ipv6(0, &[17, 4], &[]);
        assert_eq!(decode_frame(linktype::RAW, &packet), Err(Skip::Truncated));
        // ICMPv6 and TCP are not UDP.
        assert_eq!(
            decode_frame(linktype::RAW, &ipv6(58, &[], &l4)),
            Err(Skip::NotUdp)
        );
        assert_eq!(
            decode_frame(linktype::RAW, &ipv6(6, &[], &l4)),
            Err(Skip::NotUdp)
        );
    }

    fn ipv4(flags_fragment: u16, proto: u8, ihl_words: u8, l4: &[u8]) -> Vec<u8> {
        let ihl = usize::from(ihl_words) * 4;
        let mut v = vec![0x40 | ihl_words, 0];
        v.extend_from_slice(&((ihl + l4.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&flags_fragment.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        v.resize(ihl, 0x01); // options: NOPs
        v.extend_from_slice(l4);
        v
    }

    #[test]
    fn ipv4_header_handling() {
        let l4 = udp(9996, 40000, b"abc");
        let packet = ipv4(0x4000, 17, 5, &l4);
        let d = decode_frame(linktype::IPV4, &packet).unwrap();
        assert_eq!(d.payload, b"abc");
        assert_eq!(d.source, "10.0.0.1:9996".parse().unwrap());
        // IHL with options is honoured.
        let packet = ipv4(0, 17, 7, &l4);
        let d = decode_frame(linktype::RAW, &packet).unwrap();
        assert_eq!(d.payload, b"abc");
        assert_eq!(
            decode_frame(linktype::RAW, &ipv4(0, 17, 4, &l4)),
            Err(Skip::Malformed)
        );
        assert_eq!(
            decode_frame(linktype::RAW, &ipv4(0x2000, 17, 5, &l4)),
            Err(Skip::Fragment)
        );
        assert_eq!(
            decode_frame(linktype::RAW, &ipv4(0x0001, 17, 5, &l4)),
            Err(Skip::Fragment)
        );
        assert_eq!(
            decode_frame(linktype::RAW, &ipv4(0, 6, 5, &l4)),
            Err(Skip::NotUdp)
        );
        // An IPv6 packet on an IPv4-only link type is malformed; garbage on raw IP is not IP.
        assert_eq!(
            decode_frame(linktype::IPV4, &ipv6(17, &[], &l4)),
            Err(Skip::Malformed)
        );
        assert_eq!(decode_frame(linktype::RAW, &[0x10; 30]), Err(Skip::NotIp));
        assert_eq!(decode_frame(linktype::RAW, &[]), Err(Skip::Truncated));
        // UDP length below 8, and beyond the captured bytes.
        let mut bad = ipv4(0, 17, 5, &l4);
        bad[24..26].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(decode_frame(linktype::RAW, &bad), Err(Skip::Malformed));
        bad[24..26].copy_from_slice(&12u16.to_be_bytes());
        assert_eq!(decode_frame(linktype::RAW, &bad), Err(Skip::Truncated));
    }

    #[test]
    fn null_loopback_family_either_byte_order() {
        let ip = ipv4(0, 17, 5, &udp(1, 9996, b"x"));
        for family in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let mut frame = family.to_vec();
            frame.extend_from_slice(&ip);
            assert_eq!(decode_frame(linktype::NULL, &frame).unwrap().payload, b"x");
        }
        let mut frame = vec![0, 0, 0, 2];
        frame.extend_from_slice(&ip);
        assert_eq!(decode_frame(linktype::LOOP, &frame).unwrap().payload, b"x");
        // LOOP is always network order.
        frame[..4].copy_from_slice(&[2, 0, 0, 0]);
        assert_eq!(decode_frame(linktype::LOOP, &frame), Err(Skip::NotIp));
        assert_eq!(decode_frame(linktype::NULL, &[2, 0]), Err(Skip::Truncated));
        assert_eq!(decode_frame(147, &frame), Err(Skip::LinkType));
    }
}
