//! Reading and writing packet captures of Assetto Corsa's UDP traffic.
//!
//! [`CaptureReader`] reads classic pcap (either byte order, microsecond or nanosecond
//! timestamps) and pcapng (any number of sections and interfaces, each with its own link type
//! and `if_tsresol`/`if_tsoffset`), unwraps the link layer (raw IP, Ethernet with up to two
//! VLAN tags, Linux cooked SLL/SLL2, BSD NULL/LOOP loopback), IPv4 or IPv6, and UDP, and hands
//! out the UDP datagrams sent to or from the game's port ([`GAME_PORT`](crate::protocol::GAME_PORT), 9996) as
//! [`CapturedDatagram`]s whose payload borrows the reader's buffer. Every other packet is
//! skipped and counted in [`CaptureStats`]. Parsing never panics, whatever the input.
//!
//! [`CaptureWriter`] writes classic little-endian microsecond pcap files, with raw IPv4 or
//! Ethernet framing and correct IPv4 and UDP checksums, that Wireshark and tshark open;
//! [`SessionCapture`] writes a stored session back as the game's traffic.
//!
//! A file that ends in the middle of a record (a capture tool killed while writing) is read up
//! to its last complete record and then ends cleanly; the number of bytes left over is reported
//! as [`CaptureStats::truncated_tail_bytes`].

use std::io;
use std::net::SocketAddr;

mod decode;
mod reader;
mod session;
mod writer;

pub use reader::{CaptureReader, read_all};
pub use session::{SESSION_CLIENT_ADDR, SESSION_GAME_ADDR, SessionCapture, handshake_for};
pub use writer::{CaptureWriter, LinkType};

/// Which way a datagram went, relative to the game's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent to the game's port (handshakes and subscriptions from a client).
    ToGame,
    /// Sent from the game's port (the game's answers and telemetry).
    FromGame,
}

/// One UDP datagram from a capture, borrowing its payload from the reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturedDatagram<'a> {
    /// When the packet was captured, in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Whether the datagram went to or came from the game's port.
    pub direction: Direction,
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The receiver's address and port.
    pub destination: SocketAddr,
    /// The UDP payload, exactly as long as the UDP header says.
    pub payload: &'a [u8],
}

impl CapturedDatagram<'_> {
    /// The capture timestamp in microseconds since the Unix epoch (truncated).
    pub fn timestamp_us(&self) -> u64 {
        self.timestamp_ns / 1_000
    }

    /// Copies the payload out of the reader's buffer.
    pub fn to_owned(self) -> OwnedCapturedDatagram {
        OwnedCapturedDatagram {
            timestamp_ns: self.timestamp_ns,
            direction: self.direction,
            source: self.source,
            destination: self.destination,
            payload: self.payload.to_vec(),
        }
    }
}

/// A [`CapturedDatagram`] that owns its payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedCapturedDatagram {
    /// When the packet was captured, in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Whether the datagram went to or came from the game's port.
    pub direction: Direction,
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The receiver's address and port.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

impl OwnedCapturedDatagram {
    /// The capture timestamp in microseconds since the Unix epoch (truncated).
    pub fn timestamp_us(&self) -> u64 {
        self.timestamp_ns / 1_000
    }

    /// A borrowed view of this datagram.
    pub fn as_borrowed(&self) -> CapturedDatagram<'_> {
        CapturedDatagram {
            timestamp_ns: self.timestamp_ns,
            direction: self.direction,
            source: self.source,
            destination: self.destination,
            payload: &self.payload,
        }
    }
}

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap,
    /// pcapng (the default of Wireshark, tshark and dumpcap).
    PcapNg,
}

/// Counters kept by a [`CaptureReader`].
///
/// Every packet record counts in `packets` and in exactly one of `datagrams` or the
/// `skipped_*` counters, so `packets == datagrams + skipped()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CaptureStats {
    /// Packet records read (pcap records, pcapng enhanced and simple packet blocks).
    pub packets: u64,
    /// Datagrams returned by [`CaptureReader::next_datagram`].
    pub datagrams: u64,
    /// Packets with an unsupported link type, or naming a pcapng interface that was never
    /// described.
    pub skipped_link_type: u64,
    /// Frames that carry neither IPv4 nor IPv6 (ARP, LLDP, …).
    pub skipped_not_ip: u64,
    /// IP packets that are not UDP (TCP, ICMP, …).
    pub skipped_not_udp: u64,
    /// UDP over IP fragments (IPv4 with more-fragments set or a non-zero offset, IPv6 with a
    /// fragment header that is not an atomic fragment).
    pub skipped_fragment: u64,
    /// UDP datagrams whose ports are both different from the game port.
    pub skipped_other_port: u64,
    /// Packets cut short by the capture's snap length: headers, or a UDP length larger than
    /// the bytes captured.
    pub skipped_truncated: u64,
    /// Packets whose IP or UDP header is inconsistent (wrong version, IHL below 5, total or
    /// UDP length smaller than its header).
    pub skipped_malformed: u64,
    /// Bytes at the end of the file that do not form a complete record (the file was cut mid
    /// record); 0 for a file that ends cleanly.
    pub truncated_tail_bytes: u64,
}

impl CaptureStats {
    /// Total of the `skipped_*` counters.
    pub fn skipped(&self) -> u64 {
        self.skipped_link_type
            + self.skipped_not_ip
            + self.skipped_not_udp
            + self.skipped_fragment
            + self.skipped_other_port
            + self.skipped_truncated
            + self.skipped_malformed
    }
}

/// What is wrong with a malformed capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReason {
    /// The file ends before its file header (or first section header) does.
    #[error("file ends inside its header")]
    TruncatedHeader,
    /// The file header, or the first pcapng section header, is invalid.
    #[error("invalid file header")]
    InvalidHeader,
    /// A record or block could not be parsed.
    #[error("invalid record")]
    InvalidBlock,
    /// A record is larger than the reader's buffer (1 MiB), usually a corrupt length field.
    #[error("record larger than the read buffer")]
    RecordTooLarge,
    /// A pcapng interface declares a timestamp resolution finer than one unit per 2^63 or
    /// 10^19 of a second.
    #[error("unsupported if_tsresol {if_tsresol:#04x}")]
    InvalidTimestampResolution {
        /// The raw `if_tsresol` option value.
        if_tsresol: u8,
    },
}

/// Errors from reading or writing captures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading or writing the underlying stream failed.
    #[error("capture I/O failed")]
    Io(#[from] io::Error),
    /// The input starts with neither a pcap magic number nor a pcapng section header.
    #[error("not a pcap or pcapng file (first four bytes, little-endian: {magic:#010x})")]
    NotACapture {
        /// The first four bytes of the input as a little-endian `u32` (0 padded if shorter).
        magic: u32,
    },
    /// The file is damaged.
    #[error("malformed capture at byte offset {offset}: {reason}")]
    Malformed {
        /// Byte offset of the offending header or record in the file.
        offset: u64,
        /// What is wrong there.
        reason: MalformedReason,
    },
    /// A payload too large for one IPv4 datagram in a 65535-byte snap length.
    #[error("payload of {len} bytes is larger than the maximum of {max}")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The largest payload the writer's link type allows.
        max: usize,
    },
    /// [`CaptureWriter`] writes IPv4 only.
    #[error("IPv6 datagrams cannot be written")]
    Ipv6NotWritable,
    /// A timestamp whose seconds do not fit in a classic pcap record's 32 bits.
    #[error("timestamp {timestamp_ns} ns is beyond what classic pcap can store")]
    TimestampOutOfRange {
        /// The timestamp, in nanoseconds since the Unix epoch.
        timestamp_ns: u64,
    },
}
