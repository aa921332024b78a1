//! Reading a large capture: 100 000 car-info datagrams (5 minutes at 333 Hz), from memory.
//!
//! `cargo bench -p purple-sector-benches --bench capture`
//!
//! The baseline copies the file's bytes once into a buffer already allocated (the floor for any reader); the reader unwraps
//! pcap records, Ethernet, IPv4 and UDP for every datagram and parses its payload.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use purple_sector_benches::lap_packets;
use purple_sector_core::capture::{CaptureReader, CaptureWriter, LinkType};
use purple_sector_core::protocol::{CAR_INFO_LEN, Datagram, parse_datagram};

const DATAGRAMS: usize = 100_000;

fn capture_bytes(link_type: LinkType) -> Vec<u8> {
    let packets = lap_packets(DATAGRAMS);
    let game = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9996);
    let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000);
    let mut writer = match CaptureWriter::new(Vec::new(), link_type) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    for (k, packet) in packets
        .chunks_exact(CAR_INFO_LEN)
        .take(DATAGRAMS)
        .enumerate()
    {
        let t_ns = 1_700_000_000_000_000_000 + k as u64 * 3_003_003;
        if let Err(e) = writer.write_datagram(t_ns, game, client, packet) {
            panic!("{e}");
        }
    }
    match writer.finish() {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e}"),
    }
}

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read capture");
    group.throughput(Throughput::Elements(DATAGRAMS as u64));
    group.sample_size(20);
    let bytes = capture_bytes(LinkType::Ethernet);

    let mut copy = vec![0u8; bytes.len()];
    group.bench_function("baseline: copy the file", |b| {
        b.iter(|| {
            copy.copy_from_slice(black_box(&bytes));
            black_box(&copy);
        })
    });

    for (name, link_type) in [
        ("ethernet", LinkType::Ethernet),
        ("raw ipv4", LinkType::RawIpv4),
    ] {
        let bytes = capture_bytes(link_type);
        group.bench_function(format!("reader + view 2 fields, {name}"), |b| {
            b.iter(|| {
                let mut reader = match CaptureReader::new(black_box(&bytes[..])) {
                    Ok(r) => r,
                    Err(e) => panic!("{e}"),
                };
                let mut acc = 0.0f32;
                while let Ok(Some(datagram)) = reader.next_datagram() {
                    if let Ok(Datagram::CarInfo(car)) = parse_datagram(datagram.payload) {
                        acc += car.speed_kmh() + car.gas();
                    }
                }
                acc
            })
        });
    }
    group.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
