//! Integration tests for `purple_sector_core::capture`: writer/reader round trips, hand-built
//! pcap/pcapng fixtures for every supported link layer, skip accounting, damaged input, and
//! interoperability with tshark/editcap (and a live capture on `lo`) when tshark is installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read};
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use purple_sector_core::capture::{
    CaptureError, CaptureFormat, CaptureReader, CaptureStats, CaptureWriter, CapturedDatagram,
    Direction, LinkType, MalformedReason, OwnedCapturedDatagram, read_all,
};
use purple_sector_core::protocol::GAME_PORT;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn v4(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Reads every datagram and the final stats; panics on error.
fn read_bytes(bytes: &[u8]) -> (Vec<OwnedCapturedDatagram>, CaptureStats) {
    read_bytes_port(bytes, GAME_PORT)
}

fn read_bytes_port(bytes: &[u8], port: u16) -> (Vec<OwnedCapturedDatagram>, CaptureStats) {
    let mut reader = CaptureReader::new(bytes).unwrap().with_game_port(port);
    let mut out = Vec::new();
    while let Some(d) = reader.next_datagram().unwrap() {
        out.push(d.to_owned());
    }
    let stats = reader.stats();
    assert_eq!(
        stats.packets,
        stats.datagrams + stats.skipped(),
        "{stats:?}"
    );
    assert_eq!(stats.datagrams, out.len() as u64);
    (out, stats)
}

fn owned(
    timestamp_ns: u64,
    direction: Direction,
    source: &str,
    destination: &str,
    payload: &[u8],
) -> OwnedCapturedDatagram {
    OwnedCapturedDatagram {
        timestamp_ns,
        direction,
        source: sa(source),
        destination: sa(destination),
        payload: payload.to_vec(),
    }
}

fn tmp_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("capture-{}-{name}", std::process::id()))
}

// --- Explicit byte builders for fixtures (independent of CaptureWriter) ----------------------

/// An IPv4 header (no options, checksum left 0) + UDP header (checksum 0) + payload.
fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len() as u16;
    let total = 20 + udp_len;
    let mut v = vec![0x45, 0x00];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 17, 0x00, 0x00]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&udp_len.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An IPv4 header with the given flags/fragment word and protocol, followed by `l4`.
fn ipv4_raw(flags_fragment: u16, proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = 20 + l4.len() as u16;
    let mut v = vec![0x45, 0x00];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0x00, 0x01]);
    v.extend_from_slice(&flags_fragment.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    v.extend_from_slice(l4);
    v
}

fn udp_header(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn ipv6_udp(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp = udp_header(sport, dport, payload);
    let mut v = vec![0x60, 0x00, 0x00, 0x00];
    v.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    v.extend_from_slice(&[17, 64]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&udp);
    v
}

fn ethernet(ethertype: u16, vlans: &[u16], packet: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    for &tpid in vlans {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&[0x00, 0x2a]); // VLAN 42
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(packet);
    v
}

/// Linux cooked capture v1: packet type, ARPHRD, address length, 8-byte address, protocol.
fn sll(protocol: u16, packet: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 1, 2, 3, 4, 5, 6, 0, 0];
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(packet);
    v
}

/// Linux cooked capture v2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, addr.
fn sll2(protocol: u16, packet: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0x03, 0x04, 0x04, 0x00]);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(packet);
    v
}

/// A classic pcap file: `(ts_sec, ts_frac, frame, orig_len)` records.
fn classic_pcap(
    big_endian: bool,
    nanos: bool,
    linktype: u32,
    records: &[(u32, u32, &[u8], u32)],
) -> Vec<u8> {
    let u32b = |x: u32| {
        if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    let u16b = |x: u16| {
        if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    let mut v = Vec::new();
    v.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    v.extend_from_slice(&u16b(2));
    v.extend_from_slice(&u16b(4));
    v.extend_from_slice(&u32b(0));
    v.extend_from_slice(&u32b(0));
    v.extend_from_slice(&u32b(65535));
    v.extend_from_slice(&u32b(linktype));
    for (sec, frac, frame, orig) in records {
        v.extend_from_slice(&u32b(*sec));
        v.extend_from_slice(&u32b(*frac));
        v.extend_from_slice(&u32b(frame.len() as u32));
        v.extend_from_slice(&u32b(*orig));
        v.extend_from_slice(frame);
    }
    v
}

/// pcapng blocks, written in the given byte order.
struct Ng {
    be: bool,
    bytes: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Ng {
        let mut ng = Ng {
            be,
            bytes: Vec::new(),
        };
        ng.shb();
        ng
    }

    fn u16(&self, x: u16) -> [u8; 2] {
        if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }

    fn u32(&self, x: u32) -> [u8; 4] {
        if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }

    fn block(&mut self, block_type: u32, mut body: Vec<u8>) {
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let total = 12 + body.len() as u32;
        let (t, l) = (self.u32(block_type), self.u32(total));
        self.bytes.extend_from_slice(&t);
        self.bytes.extend_from_slice(&l);
        self.bytes.extend_from_slice(&body);
        self.bytes.extend_from_slice(&l);
    }

    fn shb(&mut self) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]); // section length: unknown
        self.block(0x0a0d_0d0a, body);
    }

    fn idb(&mut self, linktype: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(linktype));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(snaplen));
        if !options.is_empty() {
            for (code, value) in options {
                body.extend_from_slice(&self.u16(*code));
                body.extend_from_slice(&self.u16(value.len() as u16));
                body.extend_from_slice(value);
                while body.len() % 4 != 0 {
                    body.push(0);
                }
            }
            body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        }
        self.block(1, body);
    }

    fn epb(&mut self, if_id: u32, ts: u64, frame: &[u8], orig_len: u32) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(if_id));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(frame.len() as u32));
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(frame);
        self.block(6, body);
    }

    fn spb(&mut self, frame: &[u8]) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(frame.len() as u32));
        body.extend_from_slice(frame);
        self.block(3, body);
    }
}

const CLIENT: [u8; 4] = [192, 168, 1, 20];
const GAME: [u8; 4] = [192, 168, 1, 10];

// ---------------------------------------------------------------------------------------------
// Writer → reader round trips
// ---------------------------------------------------------------------------------------------

fn sample_datagrams() -> Vec<OwnedCapturedDatagram> {
    vec![
        owned(
            1_700_000_000_000_001_000,
            Direction::ToGame,
            "192.168.1.20:50000",
            "192.168.1.10:9996",
            &pattern(12, 1),
        ),
        owned(
            1_700_000_000_016_000_000,
            Direction::FromGame,
            "192.168.1.10:9996",
            "192.168.1.20:50000",
            &pattern(408, 2),
        ),
        owned(
            1_700_000_000_032_999_000,
            Direction::FromGame,
            "192.168.1.10:9996",
            "192.168.1.20:50000",
            &pattern(328, 3),
        ),
        owned(
            1_700_000_000_033_000_000,
            Direction::ToGame,
            "10.0.0.2:9996",
            "10.0.0.1:9996",
            &[],
        ),
        owned(
            1_700_000_001_000_000_000,
            Direction::FromGame,
            "127.0.0.1:9996",
            "127.0.0.1:1",
            &pattern(1472, 4),
        ),
    ]
}

fn write_all(link: LinkType, datagrams: &[OwnedCapturedDatagram]) -> Vec<u8> {
    let mut writer = CaptureWriter::new(Vec::new(), link).unwrap();
    for d in datagrams {
        writer.write_captured(&d.as_borrowed()).unwrap();
    }
    assert_eq!(writer.datagrams_written(), datagrams.len() as u64);
    assert_eq!(writer.link_type(), link);
    writer.finish().unwrap()
}

#[test]
fn round_trip_both_link_types() {
    let datagrams = sample_datagrams();
    for link in [LinkType::RawIpv4, LinkType::Ethernet] {
        let bytes = write_all(link, &datagrams);
        let reader = CaptureReader::new(bytes.as_slice()).unwrap();
        assert_eq!(reader.format(), CaptureFormat::Pcap);
        assert_eq!(reader.game_port(), GAME_PORT);
        let (read, stats) = read_bytes(&bytes);
        assert_eq!(read, datagrams, "{link:?}");
        assert_eq!(
            stats,
            CaptureStats {
                packets: 5,
                datagrams: 5,
                ..CaptureStats::default()
            }
        );
        // Also through the convenience functions.
        assert_eq!(read_all(bytes.as_slice()).unwrap(), datagrams);
        assert_eq!(
            CaptureReader::new(bytes.as_slice())
                .unwrap()
                .into_owned_vec()
                .unwrap(),
            datagrams
        );
    }
}

#[test]
fn writer_timestamps_are_truncated_to_microseconds() {
    let mut writer = CaptureWriter::new(Vec::new(), LinkType::RawIpv4).unwrap();
    writer
        .write_datagram(
            1_600_000_000_999_999_999,
            v4("1.2.3.4:9996"),
            v4("5.6.7.8:7"),
            b"x",
        )
        .unwrap();
    let (read, _) = read_bytes(&writer.finish().unwrap());
    assert_eq!(read[0].timestamp_ns, 1_600_000_000_999_999_000);
    assert_eq!(read[0].timestamp_us(), 1_600_000_000_999_999);
    assert_eq!(read[0].as_borrowed().timestamp_us(), 1_600_000_000_999_999);
}

/// Checks the writer's bytes directly: file header, IPv4 header and UDP checksum.
#[test]
fn writer_bytes_and_checksums() {
    for (link, l2) in [(LinkType::RawIpv4, 0usize), (LinkType::Ethernet, 14)] {
        let payload = pattern(33, 9); // odd length exercises checksum padding
        let mut writer = CaptureWriter::new(Vec::new(), link).unwrap();
        writer
            .write_datagram(
                1_700_000_000_500_000_000,
                v4("192.168.1.10:9996"),
                v4("192.168.1.20:50000"),
                &payload,
            )
            .unwrap();
        let bytes = writer.finish().unwrap();
        let linktype: u32 = if link == LinkType::RawIpv4 { 101 } else { 1 };
        let mut header = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0,
        ];
        header.extend_from_slice(&linktype.to_le_bytes());
        assert_eq!(&bytes[..24], header.as_slice());
        let frame_len = l2 + 20 + 8 + 33;
        assert_eq!(bytes.len(), 24 + 16 + frame_len);
        assert_eq!(&bytes[24..28], &1_700_000_000u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &500_000u32.to_le_bytes());
        assert_eq!(&bytes[32..36], &(frame_len as u32).to_le_bytes());
        assert_eq!(&bytes[36..40], &(frame_len as u32).to_le_bytes());
        let frame = &bytes[40..];
        if l2 == 14 {
            assert_eq!(
                &frame[..14],
                &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]
            );
        }
        let ip = &frame[l2..l2 + 20];
        assert_eq!(ip[0], 0x45);
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 61);
        assert_eq!(ip[6] & 0x40, 0x40, "DF");
        assert_eq!(ip[8], 64, "TTL");
        assert_eq!(ip[9], 17);
        let sum = |bytes: &[u8], init: u32| {
            let mut s = init;
            for chunk in bytes.chunks(2) {
                s += u32::from(chunk[0]) << 8 | u32::from(*chunk.get(1).unwrap_or(&0));
            }
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            s
        };
        assert_eq!(sum(ip, 0), 0xffff, "IPv4 header checksum");
        let udp = &frame[l2 + 20..];
        assert_ne!(&udp[6..8], &[0, 0], "UDP checksum present");
        let pseudo = 0xc0a8 + 0x010a + 0xc0a8 + 0x0114 + 17 + udp.len() as u32;
        assert_eq!(sum(udp, pseudo), 0xffff, "UDP checksum");
    }
}

#[test]
fn writer_rejects_what_pcap_cannot_hold() {
    for link in [LinkType::RawIpv4, LinkType::Ethernet] {
        let max = link.max_payload();
        assert_eq!(
            max,
            if link == LinkType::RawIpv4 {
                65_507
            } else {
                65_493
            }
        );
        let mut writer = CaptureWriter::new(Vec::new(), link).unwrap();
        let big = vec![7u8; max + 1];
        match writer.write_datagram(0, v4("1.1.1.1:1"), v4("2.2.2.2:9996"), &big) {
            Err(CaptureError::PayloadTooLarge { len, max: m }) => {
                assert_eq!((len, m), (max + 1, max));
            }
            other => panic!("{other:?}"),
        }
        writer
            .write_datagram(0, v4("1.1.1.1:1"), v4("2.2.2.2:9996"), &big[..max])
            .unwrap();
        let too_late = (u64::from(u32::MAX) + 1) * 1_000_000_000;
        match writer.write_datagram(too_late, v4("1.1.1.1:1"), v4("2.2.2.2:9996"), b"") {
            Err(CaptureError::TimestampOutOfRange { timestamp_ns }) => {
                assert_eq!(timestamp_ns, too_late)
            }
            other => panic!("{other:?}"),
        }
        writer
            .write_datagram(too_late - 1, v4("1.1.1.1:1"), v4("2.2.2.2:9996"), b"")
            .unwrap();
        let v6 = CapturedDatagram {
            timestamp_ns: 0,
            direction: Direction::ToGame,
            source: sa("[::1]:5000"),
            destination: sa("[::1]:9996"),
            payload: b"x",
        };
        assert!(matches!(
            writer.write_captured(&v6),
            Err(CaptureError::Ipv6NotWritable)
        ));
        assert_eq!(writer.datagrams_written(), 2);
        let (read, _) = read_bytes(&writer.finish().unwrap());
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].payload.len(), max);
        assert_eq!(read[1].timestamp_ns, too_late - 1_000);
    }
}

#[test]
fn open_create_and_game_port() {
    let path = tmp_path("open.pcap");
    let mut writer = CaptureWriter::create(&path, LinkType::Ethernet).unwrap();
    writer
        .write_datagram(5_000, v4("127.0.0.1:40000"), v4("127.0.0.1:39996"), b"hi")
        .unwrap();
    writer
        .write_datagram(6_000, v4("127.0.0.1:9996"), v4("127.0.0.1:40000"), b"ho")
        .unwrap();
    drop(writer.finish().unwrap());
    let mut reader = CaptureReader::open(&path).unwrap().with_game_port(39996);
    let d = reader.next_datagram().unwrap().unwrap();
    assert_eq!(
        (d.direction, d.payload, d.timestamp_ns),
        (Direction::ToGame, &b"hi"[..], 5_000)
    );
    assert_eq!(reader.next_datagram().unwrap(), None);
    assert_eq!(reader.stats().skipped_other_port, 1);
    // Fused after the end.
    assert_eq!(reader.next_datagram().unwrap(), None);
    assert!(matches!(
        CaptureReader::open(tmp_path("does-not-exist")),
        Err(CaptureError::Io(e)) if e.kind() == io::ErrorKind::NotFound
    ));
    std::fs::remove_file(&path).unwrap();
}

fn arb_datagram() -> impl Strategy<Value = OwnedCapturedDatagram> {
    (
        proptest::collection::vec(any::<u8>(), 0..=1472),
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<bool>(),
        0..=u64::from(u32::MAX),
        0..1_000_000u64,
    )
        .prop_map(|(payload, a, b, port, to_game, sec, usec)| {
            let (src_port, dst_port) = if to_game {
                (port, GAME_PORT)
            } else {
                (GAME_PORT, port)
            };
            OwnedCapturedDatagram {
                timestamp_ns: sec * 1_000_000_000 + usec * 1_000,
                direction: if to_game || port == GAME_PORT {
                    Direction::ToGame
                } else {
                    Direction::FromGame
                },
                source: SocketAddr::from((a, src_port)),
                destination: SocketAddr::from((b, dst_port)),
                payload,
            }
        })
}

proptest! {
    #[test]
    fn round_trip_arbitrary(
        datagrams in proptest::collection::vec(arb_datagram(), 0..6),
        ethernet in any::<bool>(),
    ) {
        let link = if ethernet { LinkType::Ethernet } else { LinkType::RawIpv4 };
        let bytes = write_all(link, &datagrams);
        let (read, stats) = read_bytes(&bytes);
        prop_assert_eq!(read, datagrams);
        prop_assert_eq!(stats.skipped(), 0);
        prop_assert_eq!(stats.truncated_tail_bytes, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-built fixtures
// ---------------------------------------------------------------------------------------------

#[test]
fn big_endian_classic_pcap_literal() {
    #[rustfmt::skip]
    let file: &[u8] = &[
        // magic (big-endian, µs), version 2.4, thiszone, sigfigs, snaplen 65535, LINKTYPE_RAW
        0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0,
        0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x65,
        // record: ts 1700000000 s + 123456 µs, caplen 32, origlen 32
        0x65, 0x53, 0xf1, 0x00, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 0x20, 0, 0, 0, 0x20,
        // IPv4 192.168.1.10 -> 192.168.1.20, total length 32, UDP
        0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
        0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x14,
        // UDP 9996 -> 50000, length 12, checksum 0, payload
        0x27, 0x0c, 0xc3, 0x50, 0x00, 0x0c, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
    ];
    let (read, stats) = read_bytes(file);
    assert_eq!(
        read,
        vec![owned(
            1_700_000_000_123_456_000,
            Direction::FromGame,
            "192.168.1.10:9996",
            "192.168.1.20:50000",
            &[0xde, 0xad, 0xbe, 0xef]
        )]
    );
    assert_eq!(stats.packets, 1);
}

#[test]
fn nanosecond_classic_pcap_both_byte_orders() {
    let frame = ipv4_udp(CLIENT, GAME, 50000, 9996, b"nano");
    for be in [false, true] {
        let file = classic_pcap(
            be,
            true,
            101,
            &[(1_700_000_000, 987_654_321, &frame, frame.len() as u32)],
        );
        let (read, _) = read_bytes(&file);
        assert_eq!(
            read,
            vec![owned(
                1_700_000_000_987_654_321,
                Direction::ToGame,
                "192.168.1.20:50000",
                "192.168.1.10:9996",
                b"nano"
            )],
            "big endian: {be}"
        );
    }
    // Microsecond little-endian: the fraction is µs.
    let file = classic_pcap(
        false,
        false,
        101,
        &[(7, 654_321, &frame, frame.len() as u32)],
    );
    assert_eq!(read_bytes(&file).0[0].timestamp_ns, 7_654_321_000);
}

#[test]
fn raw_ip_link_type_variants() {
    let frame = ipv4_udp(CLIENT, GAME, 50000, 9996, b"raw");
    for linktype in [12, 14, 101, 228] {
        let file = classic_pcap(
            false,
            false,
            linktype,
            &[(1, 2, &frame, frame.len() as u32)],
        );
        let (read, _) = read_bytes(&file);
        assert_eq!(read.len(), 1, "linktype {linktype}");
        assert_eq!(read[0].payload, b"raw");
        assert_eq!(read[0].timestamp_ns, 1_000_002_000);
    }
    let lo6 = {
        let mut a = [0u8; 16];
        a[15] = 1;
        a
    };
    let frame6 = ipv6_udp(lo6, lo6, 9996, 50000, b"raw six");
    for linktype in [101, 229] {
        let file = classic_pcap(
            false,
            false,
            linktype,
            &[(1, 2, &frame6, frame6.len() as u32)],
        );
        let (read, _) = read_bytes(&file);
        assert_eq!(
            read,
            vec![owned(
                1_000_002_000,
                Direction::FromGame,
                "[::1]:9996",
                "[::1]:50000",
                b"raw six"
            )],
            "linktype {linktype}"
        );
    }
}

#[test]
fn bsd_null_loopback_both_byte_orders_and_loop() {
    let ip = ipv4_udp([127, 0, 0, 1], [127, 0, 0, 1], 9996, 61000, b"loopback");
    let lo6 = {
        let mut a = [0u8; 16];
        a[15] = 1;
        a
    };
    let ip6 = ipv6_udp(lo6, lo6, 61000, 9996, b"six");
    let mut records: Vec<Vec<u8>> = Vec::new();
    for family in [[2u8, 0, 0, 0], [0, 0, 0, 2]] {
        records.push([&family[..], &ip].concat());
    }
    records.push([&[30u8, 0, 0, 0][..], &ip6].concat()); // AF_INET6 on macOS, little-endian
    records.push([&[0u8, 0, 0, 28][..], &ip6].concat()); // AF_INET6 on FreeBSD, big-endian
    records.push([&[7u8, 0, 0, 0][..], &ip].concat()); // unknown family
    let recs: Vec<(u32, u32, &[u8], u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (100 + i as u32, 0, r.as_slice(), r.len() as u32))
        .collect();
    let (read, stats) = read_bytes(&classic_pcap(false, false, 0, &recs));
    assert_eq!(read.len(), 4);
    for d in &read[..2] {
        assert_eq!(d.payload, b"loopback");
        assert_eq!(d.direction, Direction::FromGame);
        assert_eq!(d.source, sa("127.0.0.1:9996"));
    }
    assert_eq!(read[0].timestamp_ns, 100_000_000_000);
    assert_eq!(read[1].timestamp_ns, 101_000_000_000);
    for d in &read[2..] {
        assert_eq!(
            (d.payload.as_slice(), d.direction),
            (&b"six"[..], Direction::ToGame)
        );
        assert_eq!(d.destination, sa("[::1]:9996"));
    }
    assert_eq!(stats.skipped_not_ip, 1);

    // LINKTYPE_LOOP: always network byte order.
    let loop_frame = [&[0u8, 0, 0, 2][..], &ip].concat();
    let (read, _) = read_bytes(&classic_pcap(
        true,
        false,
        108,
        &[(1, 0, &loop_frame, loop_frame.len() as u32)],
    ));
    assert_eq!(read[0].payload, b"loopback");
}

#[test]
fn ethernet_vlan_padding_and_ipv6() {
    // A 4-byte payload gives a 46-byte frame: Ethernet pads it to 60 bytes on the wire.
    let ip = ipv4_udp(CLIENT, GAME, 50000, 9996, b"tiny");
    let mut tagged = ethernet(0x0800, &[0x8100], &ip);
    tagged.resize(64, 0xee);
    let mut qinq = ethernet(0x0800, &[0x88a8, 0x8100], &ip);
    qinq.resize(64, 0xee);
    let mut plain = ethernet(0x0800, &[], &ip);
    plain.resize(60, 0xee);
    let ip6 = ipv6_udp(
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        9996,
        50001,
        b"v6 payload",
    );
    let eth6 = ethernet(0x86dd, &[0x8100], &ip6);
    let arp = ethernet(0x0806, &[], &[0; 28]);
    // UDP claims 24 bytes but IPv4 total length ends the packet after 12: the padding after
    // the IPv4 packet must not be read as payload.
    let mut overlong = ip.clone();
    overlong[24..26].copy_from_slice(&24u16.to_be_bytes());
    let mut overlong = ethernet(0x0800, &[], &overlong);
    overlong.resize(60, 0xee);
    let file = classic_pcap(
        false,
        false,
        1,
        &[
            (1, 1, &tagged, 64),
            (1, 2, &qinq, 64),
            (1, 3, &plain, 60),
            (1, 4, &eth6, eth6.len() as u32),
            (1, 5, &arp, arp.len() as u32),
            (1, 6, &overlong, 60),
        ],
    );
    let (read, stats) = read_bytes(&file);
    assert_eq!(read.len(), 4);
    for d in &read[..3] {
        assert_eq!(d.payload, b"tiny", "Ethernet padding must be trimmed");
        assert_eq!(d.source, sa("192.168.1.20:50000"));
    }
    assert_eq!(
        read[3],
        owned(
            1_000_004_000,
            Direction::FromGame,
            "[2001:db8::1]:9996",
            "[2001:db8::2]:50001",
            b"v6 payload"
        )
    );
    assert_eq!(stats.skipped_not_ip, 1);
    assert_eq!(stats.skipped_truncated, 1);
}

#[test]
fn pcapng_sll2_and_sll_interfaces() {
    let mut ng = Ng::new(false);
    ng.idb(276, 262_144, &[(9, vec![9])]); // interface 0: SLL2, nanoseconds
    ng.idb(113, 262_144, &[]); // interface 1: SLL, default microseconds
    let ip_a = ipv4_udp(CLIENT, GAME, 50000, 9996, &pattern(12, 5));
    let ip_b = ipv4_udp(GAME, CLIENT, 9996, 50000, &pattern(328, 6));
    let f0 = sll2(0x0800, &ip_a);
    let f1 = sll(0x0800, &ip_b);
    ng.epb(0, 1_700_000_000_123_456_789, &f0, f0.len() as u32);
    ng.epb(1, 1_700_000_000_123_457, &f1, f1.len() as u32);
    ng.epb(5, 1, &f1, f1.len() as u32); // no such interface
    let arp = sll2(0x0806, &[0; 28]);
    ng.epb(0, 2, &arp, arp.len() as u32);
    let reader = CaptureReader::new(ng.bytes.as_slice()).unwrap();
    assert_eq!(reader.format(), CaptureFormat::PcapNg);
    let (read, stats) = read_bytes(&ng.bytes);
    assert_eq!(
        read,
        vec![
            owned(
                1_700_000_000_123_456_789,
                Direction::ToGame,
                "192.168.1.20:50000",
                "192.168.1.10:9996",
                &pattern(12, 5)
            ),
            owned(
                1_700_000_000_123_457_000,
                Direction::FromGame,
                "192.168.1.10:9996",
                "192.168.1.20:50000",
                &pattern(328, 6)
            ),
        ]
    );
    assert_eq!(
        stats,
        CaptureStats {
            packets: 4,
            datagrams: 2,
            skipped_link_type: 1,
            skipped_not_ip: 1,
            ..CaptureStats::default()
        }
    );
}

#[test]
fn pcapng_ethernet_if_tsresol_9() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[(2, b"eth0".to_vec()), (9, vec![9])]);
    let frame = ethernet(0x0800, &[], &ipv4_udp(CLIENT, GAME, 50000, 9996, b"exact"));
    ng.epb(0, 1_732_575_000_000_000_001, &frame, frame.len() as u32);
    let (read, _) = read_bytes(&ng.bytes);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].timestamp_ns, 1_732_575_000_000_000_001);
    assert_eq!(read[0].payload, b"exact");
}

#[test]
fn pcapng_big_endian_power_of_two_resolution_offset_and_sections() {
    let frame = ipv4_udp(CLIENT, GAME, 50000, 9996, b"be");
    let mut ng = Ng::new(true);
    // 2^-10 s units, offset +100 s (big-endian i64 in a big-endian section).
    ng.idb(
        101,
        65535,
        &[(9, vec![0x80 | 10]), (14, 100i64.to_be_bytes().to_vec())],
    );
    ng.epb(0, 1024 * 5 + 512, &frame, frame.len() as u32);
    ng.spb(&frame); // simple packet block: no timestamp
    // A second, little-endian section with its own interface list.
    let mut second = Ng::new(false);
    second.idb(1, 65535, &[(9, vec![3])]); // milliseconds
    let eth = ethernet(0x0800, &[], &frame);
    second.epb(0, 42, &eth, eth.len() as u32);
    second.epb(1, 42, &eth, eth.len() as u32); // interface 1 belonged to no section here
    let mut file = ng.bytes.clone();
    file.extend_from_slice(&second.bytes);
    let (read, stats) = read_bytes(&file);
    let ts: Vec<u64> = read.iter().map(|d| d.timestamp_ns).collect();
    assert_eq!(ts, vec![105_500_000_000, 0, 42_000_000]);
    assert!(read.iter().all(|d| d.payload == b"be"));
    assert_eq!(stats.skipped_link_type, 1);
}

#[test]
fn pcapng_rejects_impossible_timestamp_resolution() {
    let mut ng = Ng::new(false);
    let idb_offset = ng.bytes.len() as u64;
    ng.idb(101, 65535, &[(9, vec![20])]);
    let mut reader = CaptureReader::new(ng.bytes.as_slice()).unwrap();
    match reader.next_datagram() {
        Err(CaptureError::Malformed { offset, reason }) => {
            assert_eq!(offset, idb_offset);
            assert_eq!(
                reason,
                MalformedReason::InvalidTimestampResolution { if_tsresol: 20 }
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reader.next_datagram().unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Skips
// ---------------------------------------------------------------------------------------------

#[test]
fn skipped_packets_are_counted() {
    let good = ipv4_udp(CLIENT, GAME, 50000, 9996, b"ok");
    let tcp = ipv4_raw(
        0x4000,
        6,
        &[
            0x27, 0x0c, 0xc3, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ],
    );
    let icmp = ipv4_raw(0, 1, &[8, 0, 0, 0, 0, 1, 0, 1]);
    let other_port = ipv4_udp(CLIENT, GAME, 5353, 5353, b"mdns");
    let first_fragment = ipv4_raw(0x2000, 17, &udp_header(50000, 9996, &[1; 100])[..48]);
    let later_fragment = ipv4_raw(0x0006, 17, &[2; 40]);
    // UDP says 208 bytes; the capture stopped (snaplen) after 60.
    let full = ipv4_udp(CLIENT, GAME, 50000, 9996, &[3; 200]);
    let snapped = &full[..60];
    let header_cut = &full[..24];
    let bad_ihl = {
        let mut v = good.clone();
        v[0] = 0x44;
        v
    };
    let bad_udp_len = {
        let mut v = good.clone();
        v[24..26].copy_from_slice(&4u16.to_be_bytes());
        v
    };
    let records: Vec<(u32, u32, &[u8], u32)> = vec![
        (1, 0, &good, good.len() as u32),
        (1, 1, &tcp, tcp.len() as u32),
        (1, 2, &icmp, icmp.len() as u32),
        (1, 3, &other_port, other_port.len() as u32),
        (1, 4, &first_fragment, first_fragment.len() as u32),
        (1, 5, &later_fragment, later_fragment.len() as u32),
        (1, 6, snapped, full.len() as u32),
        (1, 7, header_cut, full.len() as u32),
        (1, 8, &bad_ihl, bad_ihl.len() as u32),
        (1, 9, &bad_udp_len, bad_udp_len.len() as u32),
        (1, 10, &[], 0),
        (1, 11, &good, good.len() as u32),
    ];
    let (read, stats) = read_bytes(&classic_pcap(false, false, 101, &records));
    assert_eq!(read.len(), 2);
    assert_eq!(read[1].timestamp_ns, 1_000_011_000);
    assert_eq!(
        stats,
        CaptureStats {
            packets: 12,
            datagrams: 2,
            skipped_not_udp: 2,
            skipped_other_port: 1,
            skipped_fragment: 2,
            skipped_truncated: 3,
            skipped_malformed: 2,
            ..CaptureStats::default()
        }
    );

    // An unsupported link type (IEEE 802.11 radiotap) skips everything.
    let (read, stats) = read_bytes(&classic_pcap(false, false, 127, &records));
    assert!(read.is_empty());
    assert_eq!(stats.skipped_link_type, 12);
}

#[test]
fn game_port_decides_direction_and_filter() {
    let a = ipv4_udp(CLIENT, GAME, 40000, 9000, b"to");
    let b = ipv4_udp(GAME, CLIENT, 9000, 40000, b"from");
    let c = ipv4_udp(CLIENT, GAME, 40000, 9996, b"default port");
    let file = classic_pcap(
        false,
        false,
        101,
        &[(0, 0, &a, 30), (0, 0, &b, 32), (0, 0, &c, 40)],
    );
    let (read, stats) = read_bytes_port(&file, 9000);
    let dirs: Vec<_> = read.iter().map(|d| d.direction).collect();
    assert_eq!(dirs, vec![Direction::ToGame, Direction::FromGame]);
    assert_eq!(stats.skipped_other_port, 1);
    let (read, _) = read_bytes(&file);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].payload, b"default port");
}

// ---------------------------------------------------------------------------------------------
// Damaged files, errors and odd readers
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_tail_is_a_clean_end() {
    let datagrams = sample_datagrams();
    let bytes = write_all(LinkType::Ethernet, &datagrams);
    // Offsets where each record ends.
    let mut ends = vec![24usize];
    for d in &datagrams {
        let last = *ends.last().unwrap();
        ends.push(last + 16 + 14 + 28 + d.payload.len());
    }
    assert_eq!(*ends.last().unwrap(), bytes.len());
    // Every cut near a record boundary and inside the headers, plus a few mid-payload ones.
    let mut cuts: Vec<usize> = ends
        .iter()
        .flat_map(|&e| {
            [
                e.saturating_sub(1),
                e,
                e + 1,
                e + 15,
                e + 16,
                e + 17,
                e + 30,
                e + 45,
                e + 100,
            ]
        })
        .filter(|&c| (24..=bytes.len()).contains(&c))
        .collect();
    cuts.extend(24..80);
    for cut in cuts {
        let (read, stats) = read_bytes(&bytes[..cut]);
        let complete = ends.iter().filter(|&&e| e <= cut).count() - 1;
        assert_eq!(read, datagrams[..complete], "cut at {cut}");
        let expected_tail = cut - ends[complete];
        assert_eq!(
            stats.truncated_tail_bytes, expected_tail as u64,
            "cut at {cut}"
        );
    }
    // The same for pcapng.
    let mut ng = Ng::new(false);
    ng.idb(101, 0, &[]);
    let frame = ipv4_udp(CLIENT, GAME, 50000, 9996, b"ng");
    ng.epb(0, 1, &frame, frame.len() as u32);
    let whole = ng.bytes.len();
    ng.epb(0, 2, &frame, frame.len() as u32);
    let (read, stats) = read_bytes(&ng.bytes[..ng.bytes.len() - 3]);
    assert_eq!(read.len(), 1);
    assert_eq!(
        stats.truncated_tail_bytes,
        (ng.bytes.len() - 3 - whole) as u64
    );
}

#[test]
fn headers_that_are_not_captures() {
    let err = |bytes: &[u8]| CaptureReader::new(bytes).unwrap_err();
    assert!(matches!(
        err(&[]),
        CaptureError::Malformed {
            offset: 0,
            reason: MalformedReason::TruncatedHeader
        }
    ));
    assert!(matches!(
        err(b"hello world, no pcap"),
        CaptureError::NotACapture { magic: 0x6c6c_6568 }
    ));
    assert!(matches!(
        err(&[0xd4, 0xc3]),
        CaptureError::Malformed { offset: 2, .. }
    ));
    let header = classic_pcap(false, false, 1, &[]);
    assert!(matches!(
        err(&header[..10]),
        CaptureError::Malformed {
            offset: 10,
            reason: MalformedReason::TruncatedHeader
        }
    ));
    // A header alone is an empty capture.
    let (read, stats) = read_bytes(&header);
    assert!(read.is_empty());
    assert_eq!(stats, CaptureStats::default());
    let ng = Ng::new(false).bytes;
    assert!(matches!(
        err(&ng[..20]),
        CaptureError::Malformed {
            offset: 20,
            reason: MalformedReason::TruncatedHeader
        }
    ));
    let mut bad_bom = ng.clone();
    bad_bom[8] = 0;
    assert!(matches!(
        err(&bad_bom),
        CaptureError::Malformed {
            offset: 0,
            reason: MalformedReason::InvalidHeader
        }
    ));
    // The error message carries the numbers.
    let msg = CaptureError::NotACapture { magic: 0x1234_5678 }.to_string();
    assert!(msg.contains("0x12345678"), "{msg}");
}

#[test]
fn corrupt_records_report_their_offset() {
    // pcapng: a block whose trailing length disagrees with its leading one.
    let mut ng = Ng::new(false);
    ng.idb(101, 0, &[]);
    let frame = ipv4_udp(CLIENT, GAME, 50000, 9996, b"before");
    ng.epb(0, 1, &frame, frame.len() as u32);
    let bad_at = ng.bytes.len();
    ng.epb(0, 2, &frame, frame.len() as u32);
    let len = ng.bytes.len();
    ng.bytes[len - 1] ^= 0x40;
    ng.epb(0, 3, &frame, frame.len() as u32);
    let mut reader = CaptureReader::new(ng.bytes.as_slice()).unwrap();
    assert_eq!(reader.next_datagram().unwrap().unwrap().payload, b"before");
    match reader.next_datagram() {
        Err(CaptureError::Malformed { offset, reason }) => {
            assert_eq!(
                (offset, reason),
                (bad_at as u64, MalformedReason::InvalidBlock)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        reader.next_datagram().unwrap(),
        None,
        "fused after an error"
    );

    // Classic pcap: a record length far beyond the buffer.
    let good = ipv4_udp(CLIENT, GAME, 50000, 9996, b"x");
    let mut file = classic_pcap(false, false, 101, &[(0, 0, &good, 29)]);
    let bad_at = file.len() as u64;
    file.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
    file.extend_from_slice(&[0; 100]);
    let mut reader = CaptureReader::new(file.as_slice()).unwrap();
    assert!(reader.next_datagram().unwrap().is_some());
    match reader.next_datagram() {
        Err(CaptureError::Malformed { offset, reason }) => {
            assert_eq!((offset, reason), (bad_at, MalformedReason::RecordTooLarge));
        }
        other => panic!("{other:?}"),
    }
}

/// Returns one byte per call, with an `Interrupted` before every other byte.
struct Trickle<'a> {
    data: &'a [u8],
    interrupt: bool,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        match (self.data.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.data = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn one_byte_reads_give_the_same_datagrams() {
    let datagrams = sample_datagrams();
    let pcap = write_all(LinkType::RawIpv4, &datagrams);
    let mut ng = Ng::new(false);
    ng.idb(
        1,
        0,
        &[(
            2,
            b"a rather long interface name to make the IDB longer".to_vec(),
        )],
    );
    for (i, d) in datagrams.iter().enumerate() {
        let frame = ethernet(
            0x0800,
            &[],
            &ipv4_udp(CLIENT, GAME, 50000, 9996, &d.payload),
        );
        ng.epb(0, i as u64, &frame, frame.len() as u32);
    }
    for (bytes, expected) in [(&pcap, datagrams.len()), (&ng.bytes, datagrams.len())] {
        let reader = CaptureReader::new(Trickle {
            data: bytes,
            interrupt: false,
        })
        .unwrap();
        let slow = reader.into_owned_vec().unwrap();
        assert_eq!(slow.len(), expected);
        assert_eq!(slow, read_bytes(bytes).0);
    }
}

/// Hands out `data`, then fails.
struct FailAfter<'a> {
    data: &'a [u8],
}

impl Read for FailAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
        }
        let n = self.data.read(buf)?;
        Ok(n)
    }
}

#[test]
fn io_errors_keep_their_kind() {
    let bytes = write_all(LinkType::RawIpv4, &sample_datagrams());
    let mut reader = CaptureReader::new(FailAfter {
        data: &bytes[..542],
    })
    .unwrap();
    let mut seen = 0;
    let err = loop {
        match reader.next_datagram() {
            Ok(Some(_)) => seen += 1,
            Ok(None) => panic!("expected an I/O error"),
            Err(e) => break e,
        }
    };
    assert_eq!(seen, 2);
    match err {
        CaptureError::Io(e) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
            assert_eq!(e.to_string(), "gone");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        CaptureReader::new(FailAfter { data: &[] }),
        Err(CaptureError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset
    ));
}

/// Drives a reader over arbitrary input for a bounded number of steps.
fn drain(bytes: &[u8]) {
    if let Ok(mut reader) = CaptureReader::new(bytes) {
        for _ in 0..10_000 {
            match reader.next_datagram() {
                Ok(Some(d)) => assert!(d.payload.len() <= bytes.len()),
                Ok(None) | Err(_) => break,
            }
        }
        let stats = reader.stats();
        assert_eq!(stats.packets, stats.datagrams + stats.skipped());
    }
}

fn valid_pcapng() -> Vec<u8> {
    let mut ng = Ng::new(false);
    ng.idb(276, 0, &[(9, vec![9])]);
    ng.idb(0, 0, &[]);
    let ip = ipv4_udp(CLIENT, GAME, 50000, 9996, &[9; 20]);
    ng.epb(0, 1, &sll2(0x0800, &ip), 68);
    ng.epb(1, 2, &[&[2, 0, 0, 0][..], &ip].concat(), 52);
    ng.bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        drain(&bytes);
    }

    #[test]
    fn arbitrary_records_after_valid_headers_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..1024),
        linktype in prop_oneof![Just(0u32), Just(1), Just(12), Just(101), Just(108), Just(113), Just(228), Just(229), Just(276), any::<u32>()],
        nanos in any::<bool>(),
        be in any::<bool>(),
    ) {
        let mut file = classic_pcap(be, nanos, linktype, &[]);
        file.extend_from_slice(&tail);
        drain(&file);
        let mut ng = Ng::new(be).bytes;
        ng.extend_from_slice(&tail);
        drain(&ng);
    }

    #[test]
    fn mutated_captures_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
        ng in any::<bool>(),
    ) {
        let mut bytes = if ng { valid_pcapng() } else { write_all(LinkType::Ethernet, &sample_datagrams()) };
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let len = cut.index(bytes.len() + 1);
        drain(&bytes[..len]);
    }
}

// ---------------------------------------------------------------------------------------------
// tshark / editcap interoperability
// ---------------------------------------------------------------------------------------------

/// Whether `tshark` and `editcap` run. When they don't, tests that need them fail if the `CI`
/// environment variable is set (CI installs them) and print a notice otherwise.
fn tshark_available() -> bool {
    let runs = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("tshark") && runs("editcap") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("tshark/editcap not found, but CI is set: install them (apt-get install -y tshark)");
    }
    eprintln!("NOTICE: tshark/editcap not on PATH; skipping this interoperability test");
    false
}

/// Runs tshark and returns its stdout lines.
fn tshark_fields(path: &std::path::Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    cmd.args([
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ]);
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Parses tshark's `frame.time_epoch` ("seconds.fraction") into nanoseconds, exactly.
fn epoch_ns(s: &str) -> u64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_owned();
    assert!(frac.len() <= 9, "{s}");
    while frac.len() < 9 {
        frac.push('0');
    }
    sec.parse::<u64>().unwrap() * 1_000_000_000 + frac.parse::<u64>().unwrap()
}

#[test]
fn tshark_reads_our_files_with_good_checksums() {
    if !tshark_available() {
        return;
    }
    let datagrams = sample_datagrams();
    for link in [LinkType::RawIpv4, LinkType::Ethernet] {
        let path = tmp_path(&format!("tshark-{link:?}.pcap"));
        std::fs::write(&path, write_all(link, &datagrams)).unwrap();
        let rows = tshark_fields(
            &path,
            &[
                "frame.time_epoch",
                "ip.src",
                "udp.srcport",
                "ip.dst",
                "udp.dstport",
                "udp.length",
                "ip.ttl",
                "ip.flags.df",
                "ip.checksum.status",
                "udp.checksum.status",
            ],
        );
        assert_eq!(rows.len(), datagrams.len(), "{link:?}: {rows:?}");
        for (row, d) in rows.iter().zip(&datagrams) {
            assert_eq!(epoch_ns(&row[0]), d.timestamp_ns, "{row:?}");
            assert_eq!(row[1], d.source.ip().to_string());
            assert_eq!(row[2], d.source.port().to_string());
            assert_eq!(row[3], d.destination.ip().to_string());
            assert_eq!(row[4], d.destination.port().to_string());
            assert_eq!(row[5], (8 + d.payload.len()).to_string());
            assert_eq!(row[6], "64");
            assert!(row[7] == "1" || row[7] == "True", "DF: {row:?}");
            assert_eq!(
                row[8], "1",
                "IPv4 checksum status must be Good (1): {row:?}"
            );
            assert_eq!(row[9], "1", "UDP checksum status must be Good (1): {row:?}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn editcap_conversions_read_back() {
    if !tshark_available() {
        return;
    }
    let datagrams = sample_datagrams();
    for link in [LinkType::RawIpv4, LinkType::Ethernet] {
        let input = tmp_path(&format!("editcap-in-{link:?}.pcap"));
        std::fs::write(&input, write_all(link, &datagrams)).unwrap();
        for (format, expected) in [
            ("pcapng", CaptureFormat::PcapNg),
            ("nsecpcap", CaptureFormat::Pcap),
        ] {
            let output = tmp_path(&format!("editcap-out-{link:?}.{format}"));
            let status = Command::new("editcap")
                .args(["-F", format])
                .arg(&input)
                .arg(&output)
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            let reader = CaptureReader::open(&output).unwrap();
            assert_eq!(reader.format(), expected);
            let mut reader = reader;
            let mut read = Vec::new();
            while let Some(d) = reader.next_datagram().unwrap() {
                read.push(d.to_owned());
            }
            assert_eq!(read, datagrams, "{link:?} via {format}");
            assert_eq!(reader.stats().skipped(), 0);
            std::fs::remove_file(&output).unwrap();
        }
        std::fs::remove_file(&input).unwrap();
    }
}

/// Kills (and reaps) a child process that is still running when the test ends or panics.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Captures real traffic on `lo` with tshark while a "game" socket answers a "client", then
/// reads the pcapng that tshark wrote.
#[test]
fn live_loopback_capture_reads_back() {
    if !tshark_available() {
        return;
    }
    const PACKETS: usize = 10;
    let game = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    game.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let game_addr = game.local_addr().unwrap();
    let client_addr = client.local_addr().unwrap();
    let port = game_addr.port();
    let path = tmp_path("live.pcapng");
    let _ = std::fs::remove_file(&path);
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut child = KillOnDrop(
        Command::new("tshark")
            .args([
                "-q",
                "-i",
                "lo",
                "-f",
                &format!("udp port {port}"),
                "-c",
                &PACKETS.to_string(),
                "-w",
            ])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Keep a request/answer exchange going until tshark has its packets (bounded).
    let request = |seq: u32| {
        let mut p = pattern(328, seq as u8);
        p[..4].copy_from_slice(&seq.to_le_bytes());
        p
    };
    let answer = |seq: u32| request(seq).iter().map(|b| !b).collect::<Vec<u8>>();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 2048];
    let mut seq = 0u32;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            panic!("tshark did not capture {PACKETS} packets on lo within 20 s");
        }
        client.send_to(&request(seq), game_addr).unwrap();
        if let Ok((n, from)) = game.recv_from(&mut buf) {
            assert_eq!((n, from), (328, client_addr));
            game.send_to(&answer(seq), from).unwrap();
            let _ = client.recv_from(&mut buf);
        }
        seq += 1;
        std::thread::sleep(Duration::from_millis(50));
    };
    let finished = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut e) = child.0.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        // Capturing needs privileges (root or CAP_NET_RAW): CI has them, a developer may not.
        if std::env::var_os("CI").is_some() {
            panic!("tshark could not capture on lo ({status}): {stderr}");
        }
        eprintln!("NOTICE: tshark cannot capture on lo here ({status}), skipping: {stderr}");
        return;
    }

    let mut reader = CaptureReader::open(&path).unwrap().with_game_port(port);
    assert_eq!(reader.format(), CaptureFormat::PcapNg);
    let mut read = Vec::new();
    while let Some(d) = reader.next_datagram().unwrap() {
        read.push(d.to_owned());
    }
    assert_eq!(read.len(), PACKETS, "{:?}", reader.stats());
    assert_eq!(reader.stats().skipped(), 0);
    let mut last_ts = 0;
    let mut last_seq = None;
    for d in &read {
        assert_eq!(d.payload.len(), 328);
        assert!(
            d.timestamp_ns >= last_ts && d.timestamp_ns >= started && d.timestamp_ns <= finished
        );
        last_ts = d.timestamp_ns;
        match d.direction {
            Direction::ToGame => {
                assert_eq!((d.source, d.destination), (client_addr, game_addr));
                let seq = u32::from_le_bytes(d.payload[..4].try_into().unwrap());
                assert_eq!(d.payload, request(seq));
                assert!(last_seq.is_none_or(|last| seq > last));
                last_seq = Some(seq);
            }
            Direction::FromGame => {
                assert_eq!((d.source, d.destination), (game_addr, client_addr));
                let seq = u32::from_le_bytes(
                    d.payload[..4]
                        .iter()
                        .map(|b| !b)
                        .collect::<Vec<_>>()
                        .try_into()
                        .unwrap(),
                );
                assert_eq!(d.payload, answer(seq));
            }
        }
    }
    let to_game = read
        .iter()
        .filter(|d| d.direction == Direction::ToGame)
        .count();
    assert_eq!(to_game, PACKETS / 2, "requests and answers alternate");
    std::fs::remove_file(&path).unwrap();
}
