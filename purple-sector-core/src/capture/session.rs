//! A stored session written back as the game's traffic, so that `inspect`, Wireshark and
//! `import` read it.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::{CaptureError, CaptureWriter, LinkType};
use crate::protocol::{GAME_PORT, Name, OwnedHandshakeResponse};
use crate::store::Session;
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

/// Writes a session's laps as a capture: the game's handshake reply (1 ms before the first
/// frame), then one car-info datagram per frame at its receive time, game to client.
#[derive(Debug)]
pub struct SessionCapture<W: Write> {
    writer: CaptureWriter<W>,
    hello: Option<OwnedHandshakeResponse>,
}

impl<W: Write> SessionCapture<W> {
    /// A capture of `session` on `writer`, Ethernet-framed.
    pub fn new(writer: W, session: &Session) -> Result<Self, CaptureError> {
        Ok(Self {
            writer: CaptureWriter::new(writer, LinkType::Ethernet)?,
            hello: Some(handshake_for(session)),
        })
    }

    /// Appends one lap's frames.
    pub fn write_lap(&mut self, frames: &[Frame]) -> Result<(), CaptureError> {
        if let (Some(first), Some(hello)) = (frames.first(), self.hello.take()) {
            let at_ns = first.time_ns.saturating_sub(1_000_000);
            self.writer.write_datagram(
                at_ns,
                SESSION_GAME_ADDR,
                SESSION_CLIENT_ADDR,
                &hello.encode(),
            )?;
        }
        for f in frames {
            self.writer.write_datagram(
                f.time_ns,
                SESSION_GAME_ADDR,
                SESSION_CLIENT_ADDR,
                &f.to_car_info().encode(),
            )?;
        }
        Ok(())
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
