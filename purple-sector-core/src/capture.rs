//! Reading and writing packet captures of Assetto Corsa's UDP traffic.
//!
//! [`CaptureReader`] reads classic pcap (either byte order, microsecond or nanosecond
//! timestamps) and pcapng (any number of sections and interfaces, each with its own link type
//! and `if_tsresol`/`if_tsoffset`), unwraps the link layer (raw IP, Ethernet with up to two
//! VLAN tags, Linux cooked SLL/SLL2, BSD NULL/LOOP loopback), IPv4 or IPv6, and UDP, and hands
//! out the UDP datagrams sent to or from the game's port ([`DEFAULT_GAME_PORT`], 9996) as
//! [`CapturedDatagram`]s whose payload borrows the reader's buffer. Every other packet is
//! skipped and counted in [`CaptureStats`]. Parsing never panics, whatever the input.
//!
//! [`CaptureWriter`] writes classic little-endian microsecond pcap files, with raw IPv4 or
//! Ethernet framing and correct IPv4 and UDP checksums, that Wireshark and tshark open.
//!
//! A file that ends in the middle of a record (a capture tool killed while writing) is read up
//! to its last complete record and then ends cleanly; the number of bytes left over is reported
//! as [`CaptureStats::truncated_tail_bytes`].

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{
    Block, LegacyPcapBlock, LegacyPcapReader, Linktype, OptionCode, PcapBlockOwned, PcapError,
    PcapHeader, PcapNGReader, ToVec,
};

/// The UDP port Assetto Corsa's Remote Telemetry listens on.
pub const DEFAULT_GAME_PORT: u16 = 9996;

/// Size of the reader's buffer; also the largest record (pcap record or pcapng block) it reads.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// Largest pcapng Section Header Block accepted at the start of a file.
const MAX_SECTION_HEADER_BYTES: u32 = 1 << 20;

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
    #[error("capture I/O failed: {0}")]
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

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Where an I/O error seen by [`Source`] waits for the reader to pick it up (pcap-parser turns
/// I/O errors into a bare `ReadError`).
type ErrorSlot = Arc<Mutex<Option<io::Error>>>;

/// The input stream, with the header bytes already read for format detection put back in front.
struct Source<R> {
    prefix: Vec<u8>,
    prefix_pos: usize,
    inner: R,
    error: ErrorSlot,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.prefix.get(self.prefix_pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (true, Some(dst), Some(src)) = (n > 0, buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
            self.prefix_pos += n;
            return Ok(n);
        }
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    return Err(kind.into());
                }
                ok => return ok,
            }
        }
    }
}

/// Reads up to `buf.len()` bytes, stopping early only at end of input.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Time unit of a pcapng interface's timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsUnit {
    /// 10^-n seconds, n ≤ 19.
    Pow10(u8),
    /// 2^-n seconds, n ≤ 63.
    Pow2(u8),
}

impl TsUnit {
    fn from_if_tsresol(raw: u8) -> Option<TsUnit> {
        if raw & 0x80 == 0 {
            (raw <= 19).then_some(TsUnit::Pow10(raw))
        } else {
            let n = raw & 0x7f;
            (n <= 63).then_some(TsUnit::Pow2(n))
        }
    }

    /// Converts a count of units to nanoseconds, exactly where the unit allows (truncating
    /// finer units), saturating at `u64::MAX`.
    fn to_ns(self, ticks: u64) -> u64 {
        let ns: u128 = match self {
            TsUnit::Pow10(n) if n <= 9 => u128::from(ticks) * 10u128.pow(u32::from(9 - n)),
            TsUnit::Pow10(n) => u128::from(ticks) / 10u128.pow(u32::from(n - 9)),
            TsUnit::Pow2(n) => (u128::from(ticks) * 1_000_000_000) >> n,
        };
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// Adds a signed number of seconds to a nanosecond timestamp, clamping to `0..=u64::MAX`.
fn add_offset_seconds(ns: u64, offset_s: i64) -> u64 {
    if offset_s == 0 {
        return ns;
    }
    let total = i128::from(ns) + i128::from(offset_s) * 1_000_000_000;
    u64::try_from(total.max(0)).unwrap_or(u64::MAX)
}

/// A pcapng interface, from its Interface Description Block.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: i32,
    unit: TsUnit,
    offset_s: i64,
    snaplen: u32,
}

/// Why a packet was not returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    LinkType,
    NotIp,
    NotUdp,
    Fragment,
    OtherPort,
    Truncated,
    Malformed,
}

/// A datagram found in the current record; the payload is located by address so that no
/// borrow of the reader outlives the parse.
#[derive(Debug, Clone, Copy)]
struct Found {
    timestamp_ns: u64,
    direction: Direction,
    source: SocketAddr,
    destination: SocketAddr,
    payload_addr: usize,
    payload_len: usize,
}

/// A UDP datagram unwrapped from a frame, borrowing the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Udp<'a> {
    source: SocketAddr,
    destination: SocketAddr,
    payload: &'a [u8],
}

/// Decoding state shared by both container formats.
struct State {
    game_port: u16,
    stats: CaptureStats,
    /// Classic pcap: link type and timestamp precision from the file header.
    legacy_link: i32,
    legacy_nanos: bool,
    /// pcapng: the current section's byte order and interfaces.
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Bytes of the record returned last, consumed at the next call.
    pending_consume: usize,
    error: ErrorSlot,
}

enum Step {
    Datagram(Found),
    End,
    Fail(CaptureError),
}

enum ReadFailure {
    NeedMore,
    End,
    TruncatedTail,
    TooLarge,
    Read,
    Invalid,
}

impl State {
    fn take_io_error(&self) -> io::Error {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| io::Error::other("read failed"))
    }

    fn count(&mut self, skip: Skip) {
        let s = &mut self.stats;
        let counter = match skip {
            Skip::LinkType => &mut s.skipped_link_type,
            Skip::NotIp => &mut s.skipped_not_ip,
            Skip::NotUdp => &mut s.skipped_not_udp,
            Skip::Fragment => &mut s.skipped_fragment,
            Skip::OtherPort => &mut s.skipped_other_port,
            Skip::Truncated => &mut s.skipped_truncated,
            Skip::Malformed => &mut s.skipped_malformed,
        };
        *counter += 1;
    }

    /// Unwraps one captured frame; counts it.
    fn packet(&mut self, link: i32, timestamp_ns: u64, frame: &[u8]) -> Option<Found> {
        self.stats.packets += 1;
        match decode_frame(link, frame) {
            Ok(udp) => {
                let direction = if udp.destination.port() == self.game_port {
                    Direction::ToGame
                } else if udp.source.port() == self.game_port {
                    Direction::FromGame
                } else {
                    self.count(Skip::OtherPort);
                    return None;
                };
                self.stats.datagrams += 1;
                Some(Found {
                    timestamp_ns,
                    direction,
                    source: udp.source,
                    destination: udp.destination,
                    payload_addr: udp.payload.as_ptr() as usize,
                    payload_len: udp.payload.len(),
                })
            }
            Err(skip) => {
                self.count(skip);
                None
            }
        }
    }

    /// Handles one block; `Ok(Some)` when it holds a datagram for the game port.
    fn block(
        &mut self,
        block: PcapBlockOwned<'_>,
        offset: u64,
    ) -> Result<Option<Found>, CaptureError> {
        match block {
            PcapBlockOwned::Legacy(b) => {
                let frac = if self.legacy_nanos {
                    u64::from(b.ts_usec)
                } else {
                    u64::from(b.ts_usec) * 1_000
                };
                let ts = u64::from(b.ts_sec) * 1_000_000_000 + frac;
                Ok(self.packet(self.legacy_link, ts, b.data))
            }
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy_link = h.network.0 & 0xffff;
                self.legacy_nanos = h.is_nanosecond_precision();
                Ok(None)
            }
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                self.big_endian = shb.big_endian();
                self.interfaces.clear();
                Ok(None)
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                let unit =
                    TsUnit::from_if_tsresol(idb.if_tsresol).ok_or(CaptureError::Malformed {
                        offset,
                        reason: MalformedReason::InvalidTimestampResolution {
                            if_tsresol: idb.if_tsresol,
                        },
                    })?;
                let big_endian = self.big_endian;
                let offset_s = idb
                    .options
                    .iter()
                    .find(|o| o.code == OptionCode::IfTsoffset)
                    .and_then(|o| o.value.get(..8))
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, |b| {
                        if big_endian {
                            i64::from_be_bytes(b)
                        } else {
                            i64::from_le_bytes(b)
                        }
                    });
                self.interfaces.push(Interface {
                    link: i32::from(idb.linktype.0 as u16),
                    unit,
                    offset_s,
                    snaplen: idb.snaplen,
                });
                Ok(None)
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| self.interfaces.get(i))
                    .copied()
                else {
                    self.stats.packets += 1;
                    self.count(Skip::LinkType);
                    return Ok(None);
                };
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = add_offset_seconds(iface.unit.to_ns(ticks), iface.offset_s);
                Ok(self.packet(iface.link, ts, epb.packet_data()))
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let Some(iface) = self.interfaces.first().copied() else {
                    self.stats.packets += 1;
                    self.count(Skip::LinkType);
                    return Ok(None);
                };
                let mut len = usize::try_from(spb.origlen).unwrap_or(usize::MAX);
                if iface.snaplen != 0 {
                    len = len.min(usize::try_from(iface.snaplen).unwrap_or(usize::MAX));
                }
                let data = spb.data.get(..len).unwrap_or(spb.data);
                // Simple packet blocks carry no timestamp.
                Ok(self.packet(iface.link, 0, data))
            }
            PcapBlockOwned::NG(_) => Ok(None),
        }
    }
}

/// Reads blocks until one holds a datagram for the game port, the input ends, or it fails.
fn advance<I: PcapReaderIterator>(it: &mut I, st: &mut State) -> Step {
    if st.pending_consume != 0 {
        it.consume_noshift(st.pending_consume);
        st.pending_consume = 0;
    }
    loop {
        let offset = it.consumed() as u64;
        let parsed = match it.next() {
            Ok((len, block)) => Ok((len, st.block(block, offset))),
            Err(PcapError::Incomplete(_)) => Err(ReadFailure::NeedMore),
            Err(PcapError::Eof) => Err(ReadFailure::End),
            Err(PcapError::UnexpectedEof) => Err(ReadFailure::TruncatedTail),
            Err(PcapError::BufferTooSmall) => Err(ReadFailure::TooLarge),
            Err(PcapError::ReadError) => Err(ReadFailure::Read),
            Err(_) => Err(ReadFailure::Invalid),
        };
        match parsed {
            Ok((len, Ok(Some(found)))) => {
                st.pending_consume = len;
                return Step::Datagram(found);
            }
            Ok((len, Ok(None))) => it.consume_noshift(len),
            Ok((_, Err(e))) => return Step::Fail(e),
            Err(ReadFailure::NeedMore) => {
                let before = it.data().len();
                if it.refill().is_err() {
                    return Step::Fail(CaptureError::Io(st.take_io_error()));
                }
                if it.data().len() == before && !it.reader_exhausted() {
                    // The buffer is full and the record still is not complete.
                    return Step::Fail(CaptureError::Malformed {
                        offset,
                        reason: MalformedReason::RecordTooLarge,
                    });
                }
            }
            Err(ReadFailure::End) => return Step::End,
            Err(ReadFailure::TruncatedTail) => {
                st.stats.truncated_tail_bytes = it.data().len() as u64;
                return Step::End;
            }
            Err(ReadFailure::TooLarge) => {
                return Step::Fail(CaptureError::Malformed {
                    offset,
                    reason: MalformedReason::RecordTooLarge,
                });
            }
            Err(ReadFailure::Read) => return Step::Fail(CaptureError::Io(st.take_io_error())),
            Err(ReadFailure::Invalid) => {
                return Step::Fail(CaptureError::Malformed {
                    offset,
                    reason: MalformedReason::InvalidBlock,
                });
            }
        }
    }
}

enum Inner<R: Read> {
    Pcap(LegacyPcapReader<Source<R>>),
    PcapNg(PcapNGReader<Source<R>>),
}

/// Reads the UDP datagrams to and from the game's port out of a pcap or pcapng capture.
///
/// The reader streams through a 1 MiB buffer and does not allocate per packet;
/// [`next_datagram`](Self::next_datagram) lends out each payload until the next call.
/// Packets that are not UDP to or from the game port are skipped and counted in
/// [`stats`](Self::stats). A file cut off mid-record ends cleanly after its last complete
/// record, with the leftover bytes counted in [`CaptureStats::truncated_tail_bytes`]. After an
/// error, the reader returns `Ok(None)`.
///
/// ```
/// use std::net::SocketAddrV4;
/// use purple_sector_core::capture::{CaptureReader, CaptureWriter, Direction, LinkType};
///
/// // Record a handshake to the game, in memory.
/// let client: SocketAddrV4 = "192.168.1.20:50000".parse()?;
/// let game: SocketAddrV4 = "192.168.1.10:9996".parse()?;
/// let mut writer = CaptureWriter::new(Vec::new(), LinkType::Ethernet)?;
/// writer.write_datagram(1_700_000_000_123_456_000, client, game, &[0; 12])?;
/// let file = writer.finish()?;
///
/// let mut reader = CaptureReader::new(file.as_slice())?;
/// while let Some(datagram) = reader.next_datagram()? {
///     assert_eq!(datagram.direction, Direction::ToGame);
///     assert_eq!(datagram.timestamp_us(), 1_700_000_000_123_456);
///     assert_eq!(datagram.payload.len(), 12);
/// }
/// assert_eq!(reader.stats().datagrams, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CaptureReader<R: Read> {
    inner: Inner<R>,
    state: State,
    done: bool,
}

impl<R: Read> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format())
            .field("game_port", &self.state.game_port)
            .field("stats", &self.state.stats)
            .finish_non_exhaustive()
    }
}

impl CaptureReader<File> {
    /// Opens a capture file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        Self::new(File::open(path)?)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Starts reading a capture, detecting pcap or pcapng from its first bytes.
    pub fn new(mut reader: R) -> Result<Self, CaptureError> {
        let mut prefix = vec![0u8; 12];
        let got = read_full(&mut reader, &mut prefix)?;
        let mut magic_bytes = [0u8; 4];
        if let (Some(dst), Some(src)) =
            (magic_bytes.get_mut(..got.min(4)), prefix.get(..got.min(4)))
        {
            dst.copy_from_slice(src);
        }
        let magic = u32::from_le_bytes(magic_bytes);
        let truncated = |offset: usize| CaptureError::Malformed {
            offset: offset as u64,
            reason: MalformedReason::TruncatedHeader,
        };
        let invalid = || CaptureError::Malformed {
            offset: 0,
            reason: MalformedReason::InvalidHeader,
        };
        let format = match magic {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
                CaptureFormat::Pcap
            }
            0x0a0d_0d0a => CaptureFormat::PcapNg,
            _ if got < 4 => return Err(truncated(got)),
            _ => return Err(CaptureError::NotACapture { magic }),
        };
        let header_len = match format {
            CaptureFormat::Pcap => 24,
            CaptureFormat::PcapNg => {
                if got < 12 {
                    return Err(truncated(got));
                }
                let word = |at: usize| {
                    prefix
                        .get(at..at + 4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .unwrap_or_default()
                };
                let bom = word(8);
                let block_len = match bom {
                    [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(word(4)),
                    [0x1a, 0x2b, 0x3c, 0x4d] => u32::from_be_bytes(word(4)),
                    _ => return Err(invalid()),
                };
                if !(28..=MAX_SECTION_HEADER_BYTES).contains(&block_len) || block_len % 4 != 0 {
                    return Err(invalid());
                }
                block_len as usize
            }
        };
        if got < prefix.len() {
            if got < header_len {
                return Err(truncated(got));
            }
            prefix.truncate(got);
        } else {
            prefix.resize(header_len.max(prefix.len()), 0);
            let more = prefix
                .get_mut(got..)
                .map_or(Ok(0), |rest| read_full(&mut reader, rest))?;
            if got + more < header_len {
                return Err(truncated(got + more));
            }
        }
        let error = ErrorSlot::default();
        let source = Source {
            prefix,
            prefix_pos: 0,
            inner: reader,
            error: Arc::clone(&error),
        };
        let inner = match format {
            CaptureFormat::Pcap => Inner::Pcap(
                LegacyPcapReader::new(READ_BUFFER_BYTES, source).map_err(|_| invalid())?,
            ),
            CaptureFormat::PcapNg => {
                Inner::PcapNg(PcapNGReader::new(READ_BUFFER_BYTES, source).map_err(|_| invalid())?)
            }
        };
        Ok(CaptureReader {
            inner,
            state: State {
                game_port: DEFAULT_GAME_PORT,
                stats: CaptureStats::default(),
                legacy_link: 0,
                legacy_nanos: false,
                big_endian: false,
                interfaces: Vec::new(),
                pending_consume: 0,
                error,
            },
            done: false,
        })
    }

    /// Sets the game's UDP port (default [`DEFAULT_GAME_PORT`]).
    pub fn with_game_port(mut self, port: u16) -> Self {
        self.state.game_port = port;
        self
    }

    /// Next UDP datagram to or from the game port; packets that aren't (other ports, non-UDP,
    /// fragments, unsupported link types) are skipped and counted.
    ///
    /// Returns `Ok(None)` at the end of the capture, and after an error.
    pub fn next_datagram(&mut self) -> Result<Option<CapturedDatagram<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let step = match &mut self.inner {
            Inner::Pcap(r) => advance(r, &mut self.state),
            Inner::PcapNg(r) => advance(r, &mut self.state),
        };
        match step {
            Step::Datagram(found) => {
                let data = match &self.inner {
                    Inner::Pcap(r) => r.data(),
                    Inner::PcapNg(r) => r.data(),
                };
                let payload = found
                    .payload_addr
                    .checked_sub(data.as_ptr() as usize)
                    .and_then(|start| data.get(start..start.checked_add(found.payload_len)?));
                match payload {
                    Some(payload) => Ok(Some(CapturedDatagram {
                        timestamp_ns: found.timestamp_ns,
                        direction: found.direction,
                        source: found.source,
                        destination: found.destination,
                        payload,
                    })),
                    None => {
                        // Unreachable: the payload was parsed out of this very buffer.
                        self.done = true;
                        Err(CaptureError::Malformed {
                            offset: self.offset(),
                            reason: MalformedReason::InvalidBlock,
                        })
                    }
                }
            }
            Step::End => {
                self.done = true;
                Ok(None)
            }
            Step::Fail(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn offset(&self) -> u64 {
        match &self.inner {
            Inner::Pcap(r) => r.consumed() as u64,
            Inner::PcapNg(r) => r.consumed() as u64,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> CaptureStats {
        self.state.stats
    }

    /// The capture's container format.
    pub fn format(&self) -> CaptureFormat {
        match self.inner {
            Inner::Pcap(_) => CaptureFormat::Pcap,
            Inner::PcapNg(_) => CaptureFormat::PcapNg,
        }
    }

    /// The game port datagrams are matched against.
    pub fn game_port(&self) -> u16 {
        self.state.game_port
    }

    /// Reads every remaining datagram into owned values.
    pub fn into_owned_vec(mut self) -> Result<Vec<OwnedCapturedDatagram>, CaptureError> {
        let mut out = Vec::new();
        while let Some(d) = self.next_datagram()? {
            out.push(d.to_owned());
        }
        Ok(out)
    }
}

/// Reads every datagram to or from [`DEFAULT_GAME_PORT`] in a capture.
pub fn read_all<R: Read>(reader: R) -> Result<Vec<OwnedCapturedDatagram>, CaptureError> {
    CaptureReader::new(reader)?.into_owned_vec()
}

// ---------------------------------------------------------------------------------------------
// Frame decoding (no panics, every access checked)
// ---------------------------------------------------------------------------------------------

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

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const IPPROTO_UDP: u8 = 17;

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
fn decode_frame(link: i32, frame: &[u8]) -> Result<Udp<'_>, Skip> {
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

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// The framing [`CaptureWriter`] puts around each IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Bare IPv4 packets (`LINKTYPE_RAW`, 101).
    RawIpv4,
    /// Ethernet II frames with zero MAC addresses and ethertype 0x0800 (`LINKTYPE_ETHERNET`, 1).
    Ethernet,
}

impl LinkType {
    /// The pcap link type number.
    pub fn pcap_link_type(self) -> u16 {
        match self {
            LinkType::RawIpv4 => 101,
            LinkType::Ethernet => 1,
        }
    }

    /// Bytes of framing before the IPv4 header.
    fn header_len(self) -> usize {
        match self {
            LinkType::RawIpv4 => 0,
            LinkType::Ethernet => 14,
        }
    }

    /// The largest UDP payload a frame of this type can carry within the 65535-byte snap
    /// length (65507 for raw IPv4, 65493 for Ethernet).
    pub fn max_payload(self) -> usize {
        WRITER_SNAPLEN as usize - self.header_len() - 28
    }
}

const WRITER_SNAPLEN: u32 = 65_535;

/// Writes classic pcap files (little-endian, microsecond timestamps, snap length 65535) of
/// IPv4/UDP datagrams, with valid IPv4 header and UDP checksums.
///
/// Timestamps are stored with microsecond precision; nanoseconds are truncated.
#[derive(Debug)]
pub struct CaptureWriter<W: Write> {
    out: W,
    link_type: LinkType,
    frame: Vec<u8>,
    written: u64,
}

impl CaptureWriter<BufWriter<File>> {
    /// Creates (or truncates) a capture file, buffered.
    pub fn create(path: impl AsRef<Path>, link_type: LinkType) -> Result<Self, CaptureError> {
        Self::new(BufWriter::new(File::create(path)?), link_type)
    }
}

fn serialization_failed() -> CaptureError {
    CaptureError::Io(io::Error::other("pcap serialization failed"))
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the pcap file header.
    pub fn new(mut writer: W, link_type: LinkType) -> Result<Self, CaptureError> {
        let mut header = PcapHeader {
            magic_number: 0xa1b2_c3d4,
            version_major: 2,
            version_minor: 4,
            thiszone: 0,
            sigfigs: 0,
            snaplen: WRITER_SNAPLEN,
            network: Linktype(i32::from(link_type.pcap_link_type())),
        };
        let bytes = header.to_vec().map_err(|_| serialization_failed())?;
        writer.write_all(&bytes)?;
        Ok(CaptureWriter {
            out: writer,
            link_type,
            frame: Vec::with_capacity(2048),
            written: 0,
        })
    }

    /// Writes one UDP datagram, timestamped in nanoseconds since the Unix epoch.
    pub fn write_datagram(
        &mut self,
        timestamp_ns: u64,
        source: SocketAddrV4,
        destination: SocketAddrV4,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        let max = self.link_type.max_payload();
        if payload.len() > max {
            return Err(CaptureError::PayloadTooLarge {
                len: payload.len(),
                max,
            });
        }
        let ts_sec = u32::try_from(timestamp_ns / 1_000_000_000)
            .map_err(|_| CaptureError::TimestampOutOfRange { timestamp_ns })?;
        // Below 10^6, so the conversion cannot fail.
        let ts_usec = u32::try_from(timestamp_ns % 1_000_000_000 / 1_000).unwrap_or(0);

        let udp_len =
            u16::try_from(8 + payload.len()).map_err(|_| CaptureError::PayloadTooLarge {
                len: payload.len(),
                max,
            })?;
        let total_len = udp_len
            .checked_add(20)
            .ok_or(CaptureError::PayloadTooLarge {
                len: payload.len(),
                max,
            })?;

        let frame = &mut self.frame;
        frame.clear();
        if self.link_type == LinkType::Ethernet {
            frame.extend_from_slice(&[0; 12]);
            frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        }
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total_len.to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64; // TTL
        ip[9] = IPPROTO_UDP;
        ip[12..16].copy_from_slice(&source.ip().octets());
        ip[16..20].copy_from_slice(&destination.ip().octets());
        let ip_checksum = !fold(sum_words(0, &ip));
        ip[10..12].copy_from_slice(&ip_checksum.to_be_bytes());
        frame.extend_from_slice(&ip);

        let mut udp = [0u8; 8];
        udp[0..2].copy_from_slice(&source.port().to_be_bytes());
        udp[2..4].copy_from_slice(&destination.port().to_be_bytes());
        udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
        let mut sum = sum_words(0, &source.ip().octets());
        sum = sum_words(sum, &destination.ip().octets());
        sum += u64::from(IPPROTO_UDP) + u64::from(udp_len);
        sum = sum_words(sum, &udp);
        sum = sum_words(sum, payload);
        let udp_checksum = match !fold(sum) {
            0 => 0xffff, // 0 means "no checksum" in UDP over IPv4
            c => c,
        };
        udp[6..8].copy_from_slice(&udp_checksum.to_be_bytes());
        frame.extend_from_slice(&udp);
        frame.extend_from_slice(payload);

        let caplen = u32::try_from(frame.len()).map_err(|_| CaptureError::PayloadTooLarge {
            len: payload.len(),
            max,
        })?;
        let record = LegacyPcapBlock {
            ts_sec,
            ts_usec,
            caplen,
            origlen: caplen,
            data: frame,
        };
        let bytes = record.to_vec_raw().map_err(|_| serialization_failed())?;
        self.out.write_all(&bytes)?;
        self.written += 1;
        Ok(())
    }

    /// Writes a datagram read from another capture (its direction follows from its ports).
    ///
    /// Fails with [`CaptureError::Ipv6NotWritable`] unless both addresses are IPv4.
    pub fn write_captured(&mut self, datagram: &CapturedDatagram<'_>) -> Result<(), CaptureError> {
        match (datagram.source, datagram.destination) {
            (SocketAddr::V4(source), SocketAddr::V4(destination)) => {
                self.write_datagram(datagram.timestamp_ns, source, destination, datagram.payload)
            }
            _ => Err(CaptureError::Ipv6NotWritable),
        }
    }

    /// Datagrams written so far.
    pub fn datagrams_written(&self) -> u64 {
        self.written
    }

    /// The framing this writer uses.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Adds big-endian 16-bit words (an odd trailing byte padded with zero) to a running sum.
fn sum_words(mut sum: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        if let Ok(word) = <[u8; 2]>::try_from(pair) {
            sum += u64::from(u16::from_be_bytes(word));
        }
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a sum into 16 bits with end-around carry (RFC 1071).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_checksum_example() {
        // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_words(0, &bytes)), 0xddf2);
        assert_eq!(fold(sum_words(0, &[0xab])), 0xab00);
    }

    #[test]
    fn ipv4_header_checksum_known_value() {
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(!fold(sum_words(0, &header)), 0xb861);
    }

    #[test]
    fn timestamp_units() {
        assert_eq!(TsUnit::from_if_tsresol(6), Some(TsUnit::Pow10(6)));
        assert_eq!(TsUnit::from_if_tsresol(9), Some(TsUnit::Pow10(9)));
        assert_eq!(TsUnit::from_if_tsresol(20), None);
        assert_eq!(TsUnit::from_if_tsresol(0x80 | 10), Some(TsUnit::Pow2(10)));
        assert_eq!(TsUnit::from_if_tsresol(0x80 | 64), None);
        assert_eq!(TsUnit::Pow10(6).to_ns(1_500_001), 1_500_001_000);
        assert_eq!(TsUnit::Pow10(9).to_ns(u64::MAX), u64::MAX);
        assert_eq!(TsUnit::Pow10(0).to_ns(3), 3_000_000_000);
        assert_eq!(TsUnit::Pow10(12).to_ns(1_234_567), 1_234);
        assert_eq!(TsUnit::Pow2(10).to_ns(1024 * 5 + 512), 5_500_000_000);
        assert_eq!(TsUnit::Pow2(30).to_ns(1), 0); // 0.93 ns, truncated
        assert_eq!(TsUnit::Pow2(63).to_ns(u64::MAX), 1_999_999_999);
        assert_eq!(TsUnit::Pow10(6).to_ns(u64::MAX), u64::MAX);
        assert_eq!(TsUnit::Pow10(19).to_ns(u64::MAX), 1_844_674_407);
        assert_eq!(add_offset_seconds(5, -1), 0);
        assert_eq!(add_offset_seconds(5, 2), 2_000_000_005);
        assert_eq!(add_offset_seconds(u64::MAX, 1), u64::MAX);
    }

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

    #[test]
    fn source_hands_prefix_then_inner_and_keeps_errors() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "nope"))
            }
        }
        let slot = ErrorSlot::default();
        let mut source = Source {
            prefix: vec![1, 2, 3],
            prefix_pos: 0,
            inner: Failing,
            error: Arc::clone(&slot),
        };
        let mut buf = [0u8; 2];
        assert_eq!(source.read(&mut buf).unwrap(), 2);
        assert_eq!(source.read(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], 3);
        assert!(source.read(&mut buf).is_err());
        let stashed = slot.lock().unwrap().take().unwrap();
        assert_eq!(stashed.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(stashed.to_string(), "nope");
    }
}
