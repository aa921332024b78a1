//! The checks every fuzz input goes through. Shared, by `#[path]`, between the fuzz targets
//! and the ordinary test that replays `fuzz/corpus` and `fuzz/artifacts`
//! (`purple-sector-core/tests/fuzz_corpus.rs`), so a past crash stays fixed.

use purple_sector_core::capture::CaptureReader;
use purple_sector_core::protocol::{Datagram, parse_datagram};

/// Any bytes into `parse_datagram`: no panic, and whatever parses re-encodes to itself.
pub fn check_datagram(data: &[u8]) {
    let Ok(datagram) = parse_datagram(data) else {
        return;
    };
    assert_eq!(datagram.kind().wire_len(), data.len());
    let encoded = datagram.to_owned().encode();
    match datagram {
        // Bools re-encode as 0/1; everything else is bit-exact.
        Datagram::CarInfo(_) => {
            for (k, (a, b)) in encoded.iter().zip(data).enumerate() {
                if (20..26).contains(&k) {
                    assert_eq!(*a != 0, *b != 0, "flag byte {k}");
                } else {
                    assert_eq!(a, b, "byte {k}");
                }
            }
        }
        _ => assert_eq!(encoded, data),
    }
    let _ = format!("{datagram:?}");
}

/// Any bytes as a capture file: no panic, bounded work, counters that add up.
pub fn check_capture(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    for _ in 0..10_000 {
        match reader.next_datagram() {
            Ok(Some(datagram)) => check_datagram(datagram.payload),
            Ok(None) | Err(_) => break,
        }
    }
    let stats = reader.stats();
    assert_eq!(stats.packets, stats.datagrams + stats.skipped());
}
