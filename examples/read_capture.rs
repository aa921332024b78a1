//! Read a capture of AC traffic and summarise the session in it.
//!
//! ```text
//! cargo run -p purple-sector-examples --example read_capture [-- FILE.pcap]
//! ```
//! Without an argument, reads the bundled Imola lap.

use purple_sector_core::capture::CaptureReader;
use purple_sector_core::protocol::{Datagram, parse_datagram};

const BUNDLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../purple-sector-core/tests/fixtures/imola-lap2.pcap"
);

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| BUNDLED.to_owned());
    let mut capture = CaptureReader::open(&path)?;
    let (mut packets, mut top_speed_kmh, mut full_throttle, mut braking) = (0u32, 0f32, 0u32, 0u32);
    let (mut first_ns, mut last_ns) = (None, 0u64);
    while let Some(datagram) = capture.next_datagram()? {
        match parse_datagram(datagram.payload) {
            Ok(Datagram::HandshakeResponse(hello)) => println!(
                "{} driving {} at {} ({})",
                hello.driver_name(),
                hello.car_name(),
                hello.track_name(),
                hello.track_config()
            ),
            Ok(Datagram::CarInfo(car)) => {
                packets += 1;
                first_ns.get_or_insert(datagram.timestamp_ns);
                last_ns = datagram.timestamp_ns;
                top_speed_kmh = top_speed_kmh.max(car.speed_kmh());
                full_throttle += u32::from(car.gas() > 0.98);
                braking += u32::from(car.brake() > 0.05);
            }
            _ => {}
        }
    }
    let seconds = first_ns.map_or(0.0, |f| (last_ns - f) as f64 / 1e9);
    println!(
        "{packets} car-info packets over {seconds:.1} s: top speed {top_speed_kmh:.1} km/h, \
         full throttle {:.0} % of samples, braking {:.0} %",
        100.0 * f64::from(full_throttle) / f64::from(packets.max(1)),
        100.0 * f64::from(braking) / f64::from(packets.max(1)),
    );
    println!("reader: {:?}", capture.stats());
    Ok(())
}
