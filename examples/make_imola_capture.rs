//! Builds the bundled capture `purple-sector-core/tests/fixtures/imola-lap2.pcap` from the
//! real Imola lap logged by a third party (`imola-c7r-lap2.tsv`, see `SOURCE.md` there).
//!
//! ```text
//! cargo run -p purple-sector-examples --example make_imola_capture [-- OUT.pcap [LAPS]]
//! ```
//!
//! With `LAPS` (default 1, the bundled capture) the lap is driven that many times back to
//! back, 4 880 datagrams each: 50 laps make the 244 000-packet capture the import is
//! measured on, 500 the 2.44 M-packet one.
//!
//! The capture is a whole AC session as `tshark -i lo -f 'udp port 9996'` would record it
//! (Ethernet framing, as Linux loopback captures have): the client's DISMISS and HANDSHAKE,
//! the game's 408-byte reply with junk after each name's `%`, SUBSCRIBE_UPDATE, one car-info
//! datagram per logged row at its lap time, and a final DISMISS. Deterministic: the same
//! input gives the same bytes.

use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::Context;
use purple_sector_core::capture::{CaptureWriter, LinkType};
use purple_sector_core::logger::LoggerLap;
use purple_sector_core::protocol::{Name, Operation, OwnedHandshakeResponse, Request};

const LAP_TSV: &str = include_str!("../purple-sector-core/tests/fixtures/imola-c7r-lap2.tsv");
/// 2020-11-12T21:50:06Z, when the lap was logged.
const SESSION_START_NS: u64 = 1_605_217_806_000_000_000;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "purple-sector-core/tests/fixtures/imola-lap2.pcap".to_owned());
    let laps: u32 = match std::env::args().nth(2) {
        Some(n) => n
            .parse()
            .with_context(|| format!("LAPS must be a count, got {n}"))?,
        None => 1,
    };
    let lap = LoggerLap::parse(LAP_TSV).context("bundled lap")?;

    let game = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9996);
    let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 51_234);
    let mut writer = CaptureWriter::create(&out, LinkType::Ethernet)
        .with_context(|| format!("cannot create {out}"))?;
    let mut t_ns = SESSION_START_NS;
    let request = |writer: &mut CaptureWriter<_>, t_ns: u64, op| {
        writer.write_datagram(t_ns, client, game, &Request::new(op).encode())
    };
    request(&mut writer, t_ns, Operation::Dismiss)?;
    t_ns += 150_000;
    request(&mut writer, t_ns, Operation::Handshake)?;
    t_ns += 850_000;
    let reply = OwnedHandshakeResponse {
        car_name: Name::with_junk("ks_corvette_c7r", &[0xbdaf, 0, 0, 0x0230, 0x3c94])?,
        driver_name: Name::new("Scott Deakin")?,
        identifier: 4242,
        version: 1,
        track_name: Name::with_junk("imola", &[0, 0x1c00, 0x3bfb])?,
        track_config: Name::with_junk("imola", &[0xc2ac, 0xbbcc])?,
    };
    writer.write_datagram(t_ns, game, client, &reply.encode())?;
    t_ns += 400_000;
    request(&mut writer, t_ns, Operation::SubscribeUpdate)?;
    t_ns += 2_000_000;

    let mut last_ns = t_ns;
    for k in 0..laps {
        let lap_start_ns = last_ns;
        for mut packet in lap.car_infos(2 + i32::try_from(k)?) {
            packet.padding_after_identifier = [0x00, 0x33, 0x00];
            packet.clutch = 1.0;
            packet.is_abs_enabled = true;
            packet.is_tc_enabled = true;
            packet.last_lap_ms = 109_468;
            packet.best_lap_ms = 109_468;
            last_ns = lap_start_ns + u64::try_from(packet.lap_time_ms)? * 1_000_000;
            writer.write_datagram(last_ns, game, client, &packet.encode())?;
        }
        // The next lap's first datagram comes one frame interval after this one's last.
        last_ns += 3_003_000;
    }
    last_ns -= 3_003_000;
    request(&mut writer, last_ns + 5_000_000, Operation::Dismiss)?;
    let datagrams = writer.datagrams_written();
    writer.finish()?;
    eprintln!("wrote {datagrams} datagrams to {out}");
    Ok(())
}
