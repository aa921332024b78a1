//! A stored session written back as the game's traffic, so that `inspect`, Wireshark and
//! `import` read it.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::{CaptureError, CaptureWriter, LinkType};
use crate::lap::LapTimeSource;
use crate::protocol::{GAME_PORT, Name, OwnedHandshakeResponse, OwnedLapCompleted};
use crate::store::{LapRecord, Session};
use crate::telemetry::Frame;

/// The game's address in captures written from a stored session.
pub const SESSION_GAME_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, GAME_PORT);
/// The client's address in captures written from a stored session.
pub const SESSION_CLIENT_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000);

/// The handshake reply a game would have sent for `session`: its car, driver and track (a
/// track without layouts sends its name as the configuration, as the game does).
pub fn handshake_for(session: &Session) -> OwnedHandshakeResponse {
    let name = |text: &str| Name::new(text).unwrap_or_default();
    let track_config = if session.track_config.is_empty() {
        &session.track
    } else {
        &session.track_config
    };
    OwnedHandshakeResponse {
        car_name: name(&session.car),
        driver_name: name(&session.driver),
        identifier: 4242,
        version: 1,
        track_name: name(&session.track),
        track_config: name(track_config),
    }
}

/// Writes a session's laps as a capture, as the game would have sent them: its handshake
/// reply (1 ms before the first frame), then one car-info datagram per frame at its receive
/// time, with the lap count of its lap (`number` − 1) and, from the lap after a lap the game
/// timed, that lap's time as `lastLap`; and after each lap the game timed, its lap-completed
/// event at the line. `import` gives back the same laps, with their times and sources.
#[derive(Debug)]
pub struct SessionCapture<W: Write> {
    writer: CaptureWriter<W>,
    hello: Option<OwnedHandshakeResponse>,
    names: (Name, Name),
    /// The lap written last: its number and its official time, if the game timed it.
    previous: Option<(i32, Option<i32>)>,
}

impl<W: Write> SessionCapture<W> {
    /// A capture of `session` on `writer`, Ethernet-framed.
    pub fn new(writer: W, session: &Session) -> Result<Self, CaptureError> {
        let hello = handshake_for(session);
        Ok(Self {
            writer: CaptureWriter::new(writer, LinkType::Ethernet)?,
            names: (hello.driver_name, hello.car_name),
            hello: Some(hello),
            previous: None,
        })
    }

    fn send(&mut self, at_ns: u64, datagram: &[u8]) -> Result<(), CaptureError> {
        self.writer
            .write_datagram(at_ns, SESSION_GAME_ADDR, SESSION_CLIENT_ADDR, datagram)
    }

    /// Appends one lap's frames (and its lap-completed event when the game timed it).
    pub fn write_lap(&mut self, lap: &LapRecord, frames: &[Frame]) -> Result<(), CaptureError> {
        if let (Some(first), Some(hello)) = (frames.first(), self.hello.take()) {
            self.send(first.time_ns.saturating_sub(1_000_000), &hello.encode())?;
        }
        let last_lap_ms = match self.previous {
            Some((number, Some(official_ms))) if number + 1 == lap.number => Some(official_ms),
            _ => None,
        };
        for f in frames {
            let mut car = f.to_car_info();
            car.lap_count = lap.number.saturating_sub(1);
            if let Some(ms) = last_lap_ms {
                car.last_lap_ms = ms;
            }
            self.send(f.time_ns, &car.encode())?;
        }
        let official = lap
            .time
            .filter(|t| t.source == LapTimeSource::Official)
            .map(|t| t.ms);
        if let (Some(ms), Some(last)) = (official, frames.last()) {
            // At the line: the lap's time after the moment its clock read 0.
            let line_ns = last
                .time_ns
                .saturating_sub(u64::try_from(last.lap_time_ms.max(0)).unwrap_or(0) * 1_000_000)
                .saturating_add(u64::try_from(ms.max(0)).unwrap_or(0) * 1_000_000)
                .max(last.time_ns);
            let event = OwnedLapCompleted {
                car_identifier_number: 0,
                lap: lap.number,
                driver_name: self.names.0,
                car_name: self.names.1,
                time_ms: ms,
            };
            self.send(line_ns, &event.encode())?;
        }
        self.previous = Some((lap.number, official));
        Ok(())
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.writer.flush()
    }

    /// Datagrams written so far.
    pub fn datagrams_written(&self) -> u64 {
        self.writer.datagrams_written()
    }

    /// Flushes and returns the output.
    pub fn finish(self) -> Result<W, CaptureError> {
        self.writer.finish()
    }
}
