//! Reading classic pcap and pcapng: format detection, the pcap-parser state machine, and
//! pcapng interfaces and timestamp units.

use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, LegacyPcapReader, OptionCode, PcapBlockOwned, PcapError, PcapNGReader};

use super::decode::{Skip, decode_frame};
use super::{
    CaptureError, CaptureFormat, CaptureStats, CapturedDatagram, Direction, MalformedReason,
    OwnedCapturedDatagram,
};

/// Size of the reader's buffer; also the largest record (pcap record or pcapng block) it reads.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// Largest pcapng Section Header Block accepted at the start of a file.
const MAX_SECTION_HEADER_BYTES: u32 = 1 << 20;

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
                game_port: crate::protocol::GAME_PORT,
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

    /// Sets the game's UDP port (default [`GAME_PORT`](crate::protocol::GAME_PORT)).
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

/// Reads every datagram to or from [`GAME_PORT`](crate::protocol::GAME_PORT) in a capture.
pub fn read_all<R: Read>(reader: R) -> Result<Vec<OwnedCapturedDatagram>, CaptureError> {
    CaptureReader::new(reader)?.into_owned_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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
