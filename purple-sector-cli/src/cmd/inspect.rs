//! `purple-sector inspect FILE`: every AC datagram of a capture, decoded.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use purple_sector_core::capture::{CaptureReader, CaptureStats, CapturedDatagram, Direction};
use purple_sector_core::protocol::{Datagram, DatagramKind, GAME_PORT, ParseError, parse_datagram};
use serde::Serialize;

use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The capture file (pcap or pcapng; tshark, Wireshark, dumpcap, tcpdump or ours).
    file: PathBuf,

    /// The game's UDP port: datagrams to it are requests, from it the game's answers.
    #[arg(long, default_value_t = GAME_PORT)]
    port: u16,
}

/// The fields every line carries, then the datagram's own.
#[derive(Serialize)]
struct Line<T: Serialize> {
    timestamp_us: u64,
    direction: Direction,
    #[serde(flatten)]
    fields: T,
}

#[derive(Serialize)]
struct Malformed {
    length: usize,
    error: String,
    detail: ParseError,
}

#[derive(Serialize, Default)]
struct Summary {
    request: u64,
    handshake_response: u64,
    car_info: u64,
    lap_completed: u64,
    malformed: u64,
    total: u64,
    #[serde(flatten)]
    capture: CaptureStats,
}

impl Summary {
    fn count(&mut self, kind: Result<DatagramKind, ParseError>) {
        self.total += 1;
        *match kind {
            Ok(DatagramKind::Request) => &mut self.request,
            Ok(DatagramKind::HandshakeResponse) => &mut self.handshake_response,
            Ok(DatagramKind::CarInfo) => &mut self.car_info,
            Ok(DatagramKind::LapCompleted) => &mut self.lap_completed,
            Err(_) => &mut self.malformed,
        } += 1;
    }
}

pub fn run(args: &InspectArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let json = global.json;
    let mut reader = CaptureReader::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .with_game_port(args.port);
    let mut out = Output::stdout();
    let mut summary = Summary::default();
    if !json {
        out.line(format_args!(
            "{:>17}  {:<4}  {:<18}  details",
            "time_s", "dir", "type"
        ))?;
    }
    while let Some(datagram) = reader
        .next_datagram()
        .with_context(|| format!("{}", args.file.display()))?
    {
        let parsed = parse_datagram(datagram.payload);
        summary.count(parsed.map(|d| d.kind()));
        if json {
            write_json(&mut out, &datagram, parsed)?;
        } else {
            write_text(&mut out, &datagram, parsed)?;
        }
    }
    summary.capture = reader.stats();
    if json {
        out.json("summary", &summary)?;
    } else {
        out.line(format_args!(
            "{} datagrams: {} request, {} handshake_response, {} car_info, {} lap_completed, {} malformed ({} other packets skipped)",
            summary.total,
            summary.request,
            summary.handshake_response,
            summary.car_info,
            summary.lap_completed,
            summary.malformed,
            summary.capture.skipped(),
        ))?;
    }
    out.flush()?;
    Ok(if summary.total == 0 {
        Outcome::Nothing
    } else {
        Outcome::Done
    })
}

fn write_json(
    out: &mut Output,
    datagram: &CapturedDatagram<'_>,
    parsed: Result<Datagram<'_>, ParseError>,
) -> std::io::Result<()> {
    fn line<T: Serialize>(datagram: &CapturedDatagram<'_>, fields: T) -> Line<T> {
        Line {
            timestamp_us: datagram.timestamp_us(),
            direction: datagram.direction,
            fields,
        }
    }
    match parsed {
        Ok(Datagram::Request(r)) => out.json("request", &line(datagram, r)),
        Ok(Datagram::HandshakeResponse(h)) => {
            out.json("handshake_response", &line(datagram, h.to_owned()))
        }
        Ok(Datagram::CarInfo(c)) => out.json("car_info", &line(datagram, c.to_owned())),
        Ok(Datagram::LapCompleted(l)) => out.json("lap_completed", &line(datagram, l.to_owned())),
        Err(error) => out.json(
            "malformed",
            &line(
                datagram,
                Malformed {
                    length: datagram.payload.len(),
                    error: error.to_string(),
                    detail: error,
                },
            ),
        ),
    }
}

fn write_text(
    out: &mut Output,
    datagram: &CapturedDatagram<'_>,
    parsed: Result<Datagram<'_>, ParseError>,
) -> std::io::Result<()> {
    let time_s = datagram.timestamp_ns as f64 / 1e9;
    let dir = match datagram.direction {
        Direction::ToGame => "->",
        Direction::FromGame => "<-",
    };
    let kind = parsed.map_or("malformed", |d| d.kind().as_str());
    match parsed {
        Ok(Datagram::Request(r)) => out.line(format_args!(
            "{time_s:>17.6}  {dir:<4}  {kind:<18}  {:?} (identifier {}, version {})",
            r.operation, r.identifier, r.version
        )),
        Ok(Datagram::HandshakeResponse(h)) => out.line(format_args!(
            "{time_s:>17.6}  {dir:<4}  {kind:<18}  car {} driver {} track {} ({}) identifier {} version {}",
            h.car_name(),
            h.driver_name(),
            h.track_name(),
            h.track_config(),
            h.identifier(),
            h.version()
        )),
        Ok(Datagram::CarInfo(c)) => out.line(format_args!(
            "{time_s:>17.6}  {dir:<4}  {kind:<18}  lap {} t {:>7.3}s pos {:.4} {:>6.1} km/h gear {:>2} {:>5.0} rpm gas {:.2} brake {:.2} steer {:>7.1}°{}",
            c.lap_count(),
            f64::from(c.lap_time_ms()) / 1000.0,
            c.car_position_normalized(),
            c.speed_kmh(),
            gear_label(c.gear()),
            c.engine_rpm(),
            c.gas(),
            c.brake(),
            c.steer_deg(),
            if c.is_in_pit() { " PIT" } else { "" },
        )),
        Ok(Datagram::LapCompleted(l)) => out.line(format_args!(
            "{time_s:>17.6}  {dir:<4}  {kind:<18}  car #{} {} ({}) lap {} time {:.3}s",
            l.car_identifier_number(),
            l.driver_name(),
            l.car_name(),
            l.lap(),
            f64::from(l.time_ms()) / 1000.0
        )),
        Err(error) => out.line(format_args!(
            "{time_s:>17.6}  {dir:<4}  {kind:<18}  {} bytes: {error}",
            datagram.payload.len()
        )),
    }
}

fn gear_label(gear: i32) -> String {
    match gear {
        -1 => "R".to_owned(),
        0 => "N".to_owned(),
        g => g.to_string(),
    }
}
