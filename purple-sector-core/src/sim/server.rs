//! The game's side of the protocol.

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::protocol::{HANDSHAKE_RESPONSE_LEN, Operation, OwnedHandshakeResponse, Request};

/// What the server has seen and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerCounters {
    /// Requests received, by operation: handshake, subscribe update, subscribe spot, dismiss.
    pub handshakes: u64,
    /// SUBSCRIBE_UPDATE requests.
    pub subscribe_updates: u64,
    /// SUBSCRIBE_SPOT requests.
    pub subscribe_spots: u64,
    /// DISMISS requests.
    pub dismisses: u64,
    /// Datagrams that were not a valid request (ignored, as the game does).
    pub bad_requests: u64,
    /// Car-info datagrams sent (one per subscriber per packet).
    pub car_info_sent: u64,
    /// Lap-completed datagrams sent.
    pub lap_completed_sent: u64,
}

#[derive(Debug, Default)]
struct State {
    updates: BTreeSet<SocketAddr>,
    spots: BTreeSet<SocketAddr>,
    /// Requests in arrival order, for tests and diagnostics: (client, operation).
    log: Vec<(SocketAddr, Operation)>,
    counters: ServerCounters,
    /// Handshakes still to be left unanswered (to test clients' retries).
    ignore_handshakes: u32,
}

/// The game's UDP endpoint: answers handshakes, tracks subscribers, sends to them.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use purple_sector_core::protocol::{Name, OwnedCarInfo, OwnedHandshakeResponse};
/// use purple_sector_core::sim::GameServer;
///
/// let reply = OwnedHandshakeResponse {
///     car_name: Name::new("ks_corvette_c7r").expect("fits"),
///     track_name: Name::new("imola").expect("fits"),
///     track_config: Name::new("imola").expect("fits"),
///     identifier: 4242,
///     version: 1,
///     ..Default::default()
/// };
/// let server = GameServer::bind("127.0.0.1:0".parse().expect("addr"), reply).await?;
/// // … a client handshakes and subscribes to `server.local_addr()?` …
/// server.send_car_info(&OwnedCarInfo::default().encode()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GameServer {
    socket: Arc<UdpSocket>,
    state: Arc<Mutex<State>>,
    /// The number of car-info subscribers, for [`GameServer::subscribed`].
    subscribers: Arc<watch::Sender<usize>>,
    requests: JoinHandle<()>,
}

impl GameServer {
    /// Binds `addr` and starts answering requests with `reply`.
    pub async fn bind(addr: SocketAddr, reply: OwnedHandshakeResponse) -> io::Result<Self> {
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let state = Arc::new(Mutex::new(State::default()));
        let subscribers = Arc::new(watch::Sender::new(0));
        let requests = tokio::spawn(serve_requests(
            Arc::clone(&socket),
            Arc::clone(&state),
            Arc::clone(&subscribers),
            reply.encode(),
        ));
        Ok(Self {
            socket,
            state,
            subscribers,
            requests,
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Leaves the next `count` handshakes unanswered, as a game still loading would.
    pub fn ignore_next_handshakes(&self, count: u32) {
        self.with_state(|s| s.ignore_handshakes = count);
    }

    /// Clients subscribed to car info.
    pub fn update_subscribers(&self) -> Vec<SocketAddr> {
        self.with_state(|s| s.updates.iter().copied().collect())
    }

    /// Clients subscribed to lap events.
    pub fn spot_subscribers(&self) -> Vec<SocketAddr> {
        self.with_state(|s| s.spots.iter().copied().collect())
    }

    /// Every request received so far, in order.
    pub fn request_log(&self) -> Vec<(SocketAddr, Operation)> {
        self.with_state(|s| s.log.clone())
    }

    /// The counters now.
    pub fn counters(&self) -> ServerCounters {
        self.with_state(|s| s.counters)
    }

    /// Forgets every subscriber, as the game does when it leaves a session for its menus.
    pub fn drop_subscribers(&self) {
        self.with_state(|s| {
            s.updates.clear();
            s.spots.clear();
        });
        self.subscribers.send_replace(0);
    }

    /// Resolves once at least one client is subscribed to the car-info stream (at once if
    /// one already is).
    pub async fn subscribed(&self) {
        let mut count = self.subscribers.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we borrow it.
        let _ = count.wait_for(|n| *n > 0).await;
    }

    /// Waits, as the game does before it streams, until a client subscribed; `false` when
    /// `shutdown` turned true (or its sender went away) first.
    pub async fn wait_for_subscriber(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            () = self.subscribed() => true,
            _ = shutdown.wait_for(|stop| *stop) => false,
        }
    }

    /// Sends a car-info datagram to every update subscriber; returns how many it went to.
    pub async fn send_car_info(&self, datagram: &[u8]) -> io::Result<usize> {
        let to = self.update_subscribers();
        self.send_all(&to, datagram).await?;
        self.with_state(|s| s.counters.car_info_sent += to.len() as u64);
        Ok(to.len())
    }

    /// Sends a lap-completed datagram to every spot subscriber; returns how many it went to.
    pub async fn send_lap_completed(&self, datagram: &[u8]) -> io::Result<usize> {
        let to = self.spot_subscribers();
        self.send_all(&to, datagram).await?;
        self.with_state(|s| s.counters.lap_completed_sent += to.len() as u64);
        Ok(to.len())
    }

    /// Sends any bytes to one address (tests use it for malformed datagrams).
    pub async fn send_raw(&self, to: SocketAddr, datagram: &[u8]) -> io::Result<()> {
        self.socket.send_to(datagram, to).await.map(drop)
    }

    async fn send_all(&self, to: &[SocketAddr], datagram: &[u8]) -> io::Result<()> {
        for addr in to {
            match self.socket.send_to(datagram, addr).await {
                Ok(_) => {}
                // A client that went away: the game keeps sending into the void, so do we.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Drop for GameServer {
    fn drop(&mut self) {
        self.requests.abort();
    }
}

async fn serve_requests(
    socket: Arc<UdpSocket>,
    state: Arc<Mutex<State>>,
    subscribers: Arc<watch::Sender<usize>>,
    reply: [u8; HANDSHAKE_RESPONSE_LEN],
) {
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP from a client that left, reported on our socket: not our problem.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::warn!("game server stops receiving: {e}");
                return;
            }
        };
        let request = buf.get(..len).map(Request::parse);
        let answer = {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            match request {
                Some(Ok(request)) => {
                    s.log.push((from, request.operation));
                    match request.operation {
                        Operation::Handshake => {
                            s.counters.handshakes += 1;
                            if s.ignore_handshakes > 0 {
                                s.ignore_handshakes -= 1;
                                false
                            } else {
                                true
                            }
                        }
                        Operation::SubscribeUpdate => {
                            s.counters.subscribe_updates += 1;
                            s.updates.insert(from);
                            false
                        }
                        Operation::SubscribeSpot => {
                            s.counters.subscribe_spots += 1;
                            s.spots.insert(from);
                            false
                        }
                        Operation::Dismiss => {
                            s.counters.dismisses += 1;
                            s.updates.remove(&from);
                            s.spots.remove(&from);
                            false
                        }
                    }
                }
                _ => {
                    s.counters.bad_requests += 1;
                    false
                }
            }
        };
        subscribers.send_if_modified(|count| {
            let now = state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .updates
                .len();
            std::mem::replace(count, now) != now
        });
        if answer {
            if let Err(e) = socket.send_to(&reply, from).await {
                tracing::debug!("handshake reply to {from} failed: {e}");
            }
        }
    }
}
