//! Writing classic pcap files of IPv4/UDP datagrams, with the IPv4 and UDP checksums.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::Path;

use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

use super::decode::{ETHERTYPE_IPV4, IPPROTO_UDP};
use super::{CaptureError, CapturedDatagram};

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

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        Ok(self.out.flush()?)
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
}
