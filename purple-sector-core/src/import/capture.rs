//! Captures (pcap/pcapng): the game's datagrams, streamed.

use std::path::Path;

use bytes::Bytes;

use super::{ImportError, ImportOptions, Location, Skipped, keep_frame};
use crate::capture::{CaptureReader, Direction};
use crate::protocol::{Datagram, parse_datagram};
use crate::record::Input;
use crate::telemetry::Frame;

/// The inputs of a capture, streamed: every datagram the game sent (handshake replies, lap
/// events, malformed ones), car info as frames with their capture time, checked
/// ([`super::check_frame`]). Requests to the game are skipped.
pub fn capture_inputs(
    path: &Path,
    options: &ImportOptions,
    skipped: Skipped,
) -> Result<impl Iterator<Item = Result<Input, ImportError>> + Send + use<>, ImportError> {
    let capture_error = |path: &Path, source| ImportError::Capture {
        path: path.to_owned(),
        source,
    };
    let mut reader = CaptureReader::open(path)
        .map_err(|e| capture_error(path, e))?
        .with_game_port(options.game_port);
    let path = path.to_owned();
    let options = options.clone();
    let mut done = false;
    let mut number = 0u64;
    Ok(std::iter::from_fn(move || {
        if done {
            return None;
        }
        loop {
            match reader.next_datagram() {
                Ok(Some(d)) => {
                    number += 1;
                    if d.direction != Direction::FromGame {
                        continue;
                    }
                    if let Ok(Datagram::CarInfo(car)) = parse_datagram(d.payload) {
                        let frame = Frame::from_car_info(&car, d.timestamp_ns);
                        let at = Location::Packet(number);
                        return match keep_frame(&frame, &path, at, &options, &skipped) {
                            // Parsed and checked already: the pipeline takes the frame as it
                            // would take the datagram, without parsing it again.
                            Ok(true) => Some(Ok(Input::Frame(Box::new(frame)))),
                            Ok(false) => continue,
                            Err(e) => {
                                done = true;
                                Some(Err(e))
                            }
                        };
                    }
                    return Some(Ok(Input::Datagram {
                        time_ns: d.timestamp_ns,
                        bytes: Bytes::copy_from_slice(d.payload),
                    }));
                }
                Ok(None) => {
                    done = true;
                    return None;
                }
                Err(e) => {
                    done = true;
                    return Some(Err(capture_error(&path, e)));
                }
            }
        }
    }))
}
