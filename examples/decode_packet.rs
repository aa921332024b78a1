//! Build a car-info packet, send it through the wire format and read it back.
//!
//! ```text
//! cargo run -p purple-sector-examples --example decode_packet
//! ```

use purple_sector_core::protocol::{Datagram, OwnedCarInfo, parse_datagram};

fn main() -> anyhow::Result<()> {
    let mut packet = OwnedCarInfo {
        speed_kmh: 212.4,
        gas: 1.0,
        engine_rpm: 7_250.5,
        steer_deg: -12.5,
        lap_time_ms: 45_210,
        lap_count: 3,
        car_position_normalized: 0.4125,
        car_coordinates_m: [-176.5, -6.6, 102.8],
        ..OwnedCarInfo::default()
    };
    packet.set_gear(4);
    let bytes = packet.encode();
    println!(
        "{} bytes on the wire, starting {:02x?}",
        bytes.len(),
        &bytes[..8]
    );

    match parse_datagram(&bytes)? {
        Datagram::CarInfo(car) => {
            println!(
                "lap {} at {:.3} s, {:.1} km/h in gear {} (raw {}), {:.0} rpm, steering {:.1}°",
                car.lap_count(),
                f64::from(car.lap_time_ms()) / 1000.0,
                car.speed_kmh(),
                car.gear(),
                car.gear_raw(),
                car.engine_rpm(),
                car.steer_deg()
            );
            anyhow::ensure!(car.to_owned() == packet, "round trip changed the packet");
        }
        other => anyhow::bail!("expected car info, got {:?}", other.kind()),
    }

    // A truncated packet is an error with numbers, never a panic.
    let error = parse_datagram(&bytes[..300]).err();
    println!("300 bytes: {error:?}");
    Ok(())
}
