//! The AC client against a game server over real loopback UDP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use purple_sector_core::net::{AcClient, ClientConfig, ClientCounters, ClientEvent};
use purple_sector_core::protocol::{
    CarInfo, Name, Operation, OwnedCarInfo, OwnedHandshakeResponse, parse_datagram,
};
use purple_sector_core::sim::GameServer;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

fn reply() -> OwnedHandshakeResponse {
    OwnedHandshakeResponse {
        car_name: Name::with_junk("ks_corvette_c7r", &[0xbdaf, 0xd800, 0x0230]).unwrap(),
        driver_name: Name::with_junk("Scott Deakin", &[0x3c94]).unwrap(),
        identifier: 4242,
        version: 1,
        track_name: Name::new("imola").unwrap(),
        track_config: Name::with_junk("imola", &[0xc2ac]).unwrap(),
    }
}

fn fast_config(game: SocketAddr) -> ClientConfig {
    ClientConfig {
        handshake_interval: Duration::from_millis(100),
        silence_timeout: Duration::from_millis(400),
        ..ClientConfig::new(game)
    }
}

struct Running {
    events: mpsc::Receiver<ClientEvent>,
    stop: watch::Sender<bool>,
    task: JoinHandle<ClientCounters>,
    local: SocketAddr,
}

fn start(config: ClientConfig, capacity: usize) -> Running {
    let client = AcClient::bind(config).unwrap();
    let local = client.local_addr().unwrap();
    assert_ne!(local.port(), 9996);
    let (tx, events) = mpsc::channel(capacity);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(async move { client.run(tx, shutdown).await.unwrap() });
    Running {
        events,
        stop,
        task,
        local,
    }
}

async fn next_event(events: &mut mpsc::Receiver<ClientEvent>) -> ClientEvent {
    timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("no event within 10 s")
        .expect("client ended")
}

/// Waits until the server lists `client` as an update subscriber.
async fn subscribed(server: &GameServer, client: SocketAddr) {
    for _ in 0..500 {
        if server.update_subscribers().contains(&client) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{client} never subscribed");
}

fn car(lap_time_ms: i32) -> [u8; 328] {
    OwnedCarInfo {
        lap_time_ms,
        speed_kmh: 100.0 + lap_time_ms as f32 / 1000.0,
        ..OwnedCarInfo::default()
    }
    .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dismiss_first_then_handshake_until_answered_then_subscribe() {
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), reply())
        .await
        .unwrap();
    server.ignore_next_handshakes(2);
    let mut client = start(fast_config(server.local_addr().unwrap()), 64);

    let ClientEvent::Connected(hello) = next_event(&mut client.events).await else {
        panic!("expected Connected");
    };
    assert_eq!(*hello, reply());
    assert_eq!(hello.car_name.to_string_lossy(), "ks_corvette_c7r");
    assert_eq!(hello.track_config.to_string_lossy(), "imola");
    subscribed(&server, client.local).await;

    let log: Vec<Operation> = server
        .request_log()
        .into_iter()
        .filter(|(from, _)| *from == client.local)
        .map(|(_, op)| op)
        .collect();
    assert_eq!(
        log,
        [
            Operation::Dismiss,
            Operation::Handshake,
            Operation::Handshake,
            Operation::Handshake,
            Operation::SubscribeUpdate,
            Operation::SubscribeSpot,
        ]
    );

    client.stop.send(true).unwrap();
    let counters = client.task.await.unwrap();
    assert_eq!(counters.handshakes, 3);
    // Shutdown sends DISMISS: the server forgets the client.
    for _ in 0..200 {
        if server.update_subscribers().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(server.update_subscribers().is_empty());
    assert_eq!(
        server.request_log().last(),
        Some(&(client.local, Operation::Dismiss))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_for_a_game_that_is_not_running_yet() {
    // A port nobody listens on: the kernel answers the handshakes with ICMP.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut client = start(fast_config(port), 64);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let server = GameServer::bind(port, reply()).await.unwrap();
    let ClientEvent::Connected(_) = next_event(&mut client.events).await else {
        panic!("expected Connected");
    };
    subscribed(&server, client.local).await;
    client.stop.send(true).unwrap();
    let counters = client.task.await.unwrap();
    assert!(counters.handshakes >= 3, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_ignored_and_malformed_datagrams_counted_at_333_hz() {
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), reply())
        .await
        .unwrap();
    let mut client = start(fast_config(server.local_addr().unwrap()), 8192);
    let ClientEvent::Connected(_) = next_event(&mut client.events).await else {
        panic!("expected Connected");
    };
    subscribed(&server, client.local).await;

    // A stranger sends the client good-looking car info: ignored.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..5 {
        stranger.send_to(&car(999_999), client.local).await.unwrap();
    }

    // The game: 600 car-info packets at 333 Hz, a malformed datagram after every tenth.
    let mut interval = tokio::time::interval(Duration::from_micros(3_003));
    for k in 0..600 {
        interval.tick().await;
        server.send_car_info(&car(k * 3)).await.unwrap();
        if k % 10 == 9 {
            server.send_raw(client.local, &[0x61; 100]).await.unwrap();
        }
    }

    let mut lap_times = Vec::new();
    let mut malformed = 0;
    // Until the last datagram, a malformed one, is through (the client hands those on too).
    while lap_times.len() < 600 || malformed < 60 {
        match next_event(&mut client.events).await {
            ClientEvent::Datagram { bytes, time_ns } => {
                assert!(time_ns > 1_600_000_000_000_000_000);
                match parse_datagram(&bytes) {
                    Ok(purple_sector_core::protocol::Datagram::CarInfo(c)) => {
                        lap_times.push(c.lap_time_ms())
                    }
                    Ok(other) => panic!("unexpected {other:?}"),
                    Err(_) => malformed += 1,
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // No valid frame lost, in order, nothing from the stranger.
    assert_eq!(lap_times, (0..600).map(|k| k * 3).collect::<Vec<_>>());
    client.stop.send(true).unwrap();
    let counters = client.task.await.unwrap();
    assert_eq!(counters.ignored, 5, "{counters:?}");
    assert_eq!(counters.malformed, 60, "{counters:?}");
    assert_eq!(counters.received, 660, "{counters:?}");
    assert_eq!(counters.dropped, 0, "{counters:?}");
    assert_eq!(malformed, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_means_the_game_left_and_the_client_comes_back() {
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), reply())
        .await
        .unwrap();
    let mut client = start(fast_config(server.local_addr().unwrap()), 64);
    let ClientEvent::Connected(_) = next_event(&mut client.events).await else {
        panic!("expected Connected");
    };
    subscribed(&server, client.local).await;
    server.send_car_info(&car(1)).await.unwrap();
    assert!(matches!(
        next_event(&mut client.events).await,
        ClientEvent::Datagram { .. }
    ));
    // The game goes to its menus: it forgets subscribers and says nothing.
    server.drop_subscribers();
    assert_eq!(next_event(&mut client.events).await, ClientEvent::Silence);
    // The client handshakes again and resubscribes; the stream resumes.
    let ClientEvent::Connected(_) = next_event(&mut client.events).await else {
        panic!("expected Connected again");
    };
    subscribed(&server, client.local).await;
    server.send_car_info(&car(2)).await.unwrap();
    let ClientEvent::Datagram { bytes, .. } = next_event(&mut client.events).await else {
        panic!("expected data");
    };
    assert_eq!(CarInfo::new(&bytes).unwrap().lap_time_ms(), 2);
    client.stop.send(true).unwrap();
    let counters = client.task.await.unwrap();
    assert_eq!(counters.silences, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_on_silence_stops_the_client() {
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), reply())
        .await
        .unwrap();
    let config = ClientConfig {
        exit_on_silence: true,
        ..fast_config(server.local_addr().unwrap())
    };
    let mut client = start(config, 64);
    let ClientEvent::Connected(_) = next_event(&mut client.events).await else {
        panic!("expected Connected");
    };
    assert_eq!(next_event(&mut client.events).await, ClientEvent::Silence);
    let counters = timeout(Duration::from_secs(5), client.task)
        .await
        .expect("client did not stop")
        .unwrap();
    assert_eq!(counters.silences, 1);
    assert!(client.events.recv().await.is_none());
}
