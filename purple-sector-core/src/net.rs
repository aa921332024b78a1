//! The AC client: talks to the game (or anything speaking its protocol) over UDP.
//!
//! [`AcClient::run`] does what a robust client must:
//! 1. binds an ephemeral local port (never the game's 9996: on the same PC the game owns it)
//!    with a receive buffer of at least 1 MiB;
//! 2. sends DISMISS first, clearing a subscription a crashed run may have left;
//! 3. sends HANDSHAKE every 2 s until a valid 408-byte reply comes from the game's address
//!    (datagrams from anyone else are ignored and counted);
//! 4. subscribes to the car-info stream (and, optionally, lap events) and hands every datagram
//!    from the game to a bounded channel, never waiting on the consumer: a full channel drops
//!    the datagram and counts it;
//! 5. treats silence longer than the timeout as the game leaving the session, reports it, and
//!    goes back to step 3 (or stops, if asked to);
//! 6. on shutdown, sends DISMISS.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout_at};

use crate::protocol::{
    GAME_PORT, HANDSHAKE_RESPONSE_LEN, HandshakeResponse, Operation, OwnedHandshakeResponse,
    Request, parse_datagram,
};

/// Receive buffer the client asks the kernel for: about 3 s of car info at 333 Hz.
pub const RECEIVE_BUFFER_BYTES: usize = 1 << 20;

/// How the client behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The game's address (`127.0.0.1:9996` when it runs on this PC).
    pub game: SocketAddr,
    /// How often to repeat an unanswered HANDSHAKE.
    pub handshake_interval: Duration,
    /// Silence that means the game left the session.
    pub silence_timeout: Duration,
    /// Stop after the first silence instead of handshaking again.
    pub exit_on_silence: bool,
    /// Also subscribe to lap-completed ("spot") events.
    pub subscribe_spot: bool,
}

impl ClientConfig {
    /// The defaults for a game at `game`: handshake every 2 s, 5 s of silence, spot events on.
    pub fn new(game: SocketAddr) -> Self {
        Self {
            game,
            handshake_interval: Duration::from_secs(2),
            silence_timeout: Duration::from_secs(5),
            exit_on_silence: false,
            subscribe_spot: true,
        }
    }
}

/// What the client saw, counted since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientCounters {
    /// Datagrams received from the game.
    pub received: u64,
    /// Of those, the ones that are not a valid AC datagram (still handed on, for diagnosis).
    pub malformed: u64,
    /// Datagrams from any other address, or from the game before it answered a handshake.
    pub ignored: u64,
    /// Datagrams dropped because the consumer was not keeping up.
    pub dropped: u64,
    /// HANDSHAKE requests sent.
    pub handshakes: u64,
    /// Times the game went silent.
    pub silences: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    malformed: AtomicU64,
    ignored: AtomicU64,
    dropped: AtomicU64,
    handshakes: AtomicU64,
    silences: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ClientCounters {
        ClientCounters {
            received: self.received.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            handshakes: self.handshakes.load(Ordering::Relaxed),
            silences: self.silences.load(Ordering::Relaxed),
        }
    }
}

/// A shareable view of a running client's counters.
#[derive(Debug, Clone)]
pub struct CounterHandle(Arc<Counters>);

impl CounterHandle {
    /// The counters now.
    pub fn get(&self) -> ClientCounters {
        self.0.snapshot()
    }
}

/// What the client hands on.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The game answered a handshake: a session with it begins (again).
    Connected(Box<OwnedHandshakeResponse>),
    /// A datagram from the game, with its receive time (ns since the Unix epoch).
    Datagram {
        /// Receive time, ns since the Unix epoch.
        time_ns: u64,
        /// The datagram as received.
        bytes: Bytes,
    },
    /// Nothing came for the silence timeout: the game left the session.
    Silence,
}

/// Errors of the AC client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Binding or configuring the socket failed.
    #[error("cannot open a UDP socket for {game}")]
    Bind {
        /// The game's address.
        game: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Sending or receiving failed.
    #[error("UDP I/O with {game} failed")]
    Io {
        /// The game's address.
        game: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Receive time now, ns since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A client bound to a local port, ready to [`run`](AcClient::run).
///
/// ```
/// use std::time::Duration;
/// use purple_sector_core::net::{AcClient, ClientConfig, ClientEvent};
/// use purple_sector_core::protocol::{Name, OwnedCarInfo, OwnedHandshakeResponse};
/// use purple_sector_core::sim::GameServer;
///
/// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(async {
/// // A game on this machine (the built-in one, standing in for Assetto Corsa).
/// let hello = OwnedHandshakeResponse { track_name: Name::new("imola")?, ..Default::default() };
/// let game = GameServer::bind("127.0.0.1:0".parse()?, hello).await?;
///
/// let client = AcClient::bind(ClientConfig::new(game.local_addr()?))?;
/// let (events_tx, mut events) = tokio::sync::mpsc::channel(1_024);
/// let (stop, shutdown) = tokio::sync::watch::channel(false);
/// let running = tokio::spawn(client.run(events_tx, shutdown));
///
/// // DISMISS, HANDSHAKE, the game's reply, SUBSCRIBE: then the stream.
/// let Some(ClientEvent::Connected(reply)) = events.recv().await else { panic!("no reply") };
/// assert_eq!(reply.track_name.to_string_lossy(), "imola");
/// game.subscribed().await;
/// game.send_car_info(&OwnedCarInfo { speed_kmh: 251.0, ..Default::default() }.encode()).await?;
/// let Some(ClientEvent::Datagram { bytes, .. }) = events.recv().await else { panic!("no data") };
/// assert_eq!(bytes.len(), 328);
///
/// stop.send(true)?; // DISMISS, and the counts
/// let counters = running.await??;
/// assert_eq!((counters.received, counters.dropped), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AcClient {
    socket: UdpSocket,
    config: ClientConfig,
    counters: Arc<Counters>,
    receive_buffer_bytes: usize,
}

impl AcClient {
    /// Binds an ephemeral port on the game's side of the machine (loopback for a local game).
    pub fn bind(config: ClientConfig) -> Result<Self, NetError> {
        let game = config.game;
        let bind_error = |source| NetError::Bind { game, source };
        let ip = match game {
            SocketAddr::V4(a) if a.ip().is_loopback() => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(a) if a.ip().is_loopback() => Ipv6Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let (std_socket, receive_buffer_bytes) = loop {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(game),
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )
            .map_err(bind_error)?;
            // Best effort: the kernel may cap it (net.core.rmem_max); the value is reported.
            let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
            socket
                .bind(&SocketAddr::new(ip, 0).into())
                .map_err(bind_error)?;
            let local = socket
                .local_addr()
                .map_err(bind_error)?
                .as_socket()
                .map_or(0, |a| a.port());
            // Port 0 never yields the game's port in practice; if it ever did, bind again.
            if local != GAME_PORT {
                let size = socket.recv_buffer_size().unwrap_or(0);
                socket.set_nonblocking(true).map_err(bind_error)?;
                break (std::net::UdpSocket::from(socket), size);
            }
        };
        let socket = UdpSocket::from_std(std_socket).map_err(bind_error)?;
        Ok(Self {
            socket,
            config,
            counters: Arc::default(),
            receive_buffer_bytes,
        })
    }

    /// The local address the client receives on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The receive buffer the kernel granted, in bytes (Linux reports twice what it books).
    pub fn receive_buffer_bytes(&self) -> usize {
        self.receive_buffer_bytes
    }

    /// A handle to read the counters while the client runs.
    pub fn counters(&self) -> CounterHandle {
        CounterHandle(Arc::clone(&self.counters))
    }

    async fn send(&self, operation: Operation) -> Result<(), NetError> {
        let game = self.config.game;
        self.socket
            .send_to(&Request::new(operation).encode(), game)
            .await
            .map(drop)
            .map_err(|source| NetError::Io { game, source })
    }

    /// Runs until `shutdown` turns true (or its sender is dropped), the consumer goes away, or
    /// — with `exit_on_silence` — the game goes silent. Sends DISMISS on the way out.
    pub async fn run(
        self,
        events: mpsc::Sender<ClientEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<ClientCounters, NetError> {
        let result = self.session_loop(&events, &mut shutdown).await;
        // Best effort: the game may already be gone.
        let dismissed = self.send(Operation::Dismiss).await;
        result?;
        dismissed?;
        Ok(self.counters.snapshot())
    }

    async fn session_loop(
        &self,
        events: &mpsc::Sender<ClientEvent>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), NetError> {
        let game = self.config.game;
        let io_error = |source| NetError::Io { game, source };
        let mut buf = vec![0u8; 2048];
        self.send(Operation::Dismiss).await?;
        loop {
            // Handshake until the game answers.
            let reply = 'handshake: loop {
                self.send(Operation::Handshake).await?;
                Counters::bump(&self.counters.handshakes);
                let deadline = Instant::now() + self.config.handshake_interval;
                loop {
                    let received = tokio::select! {
                        _ = stopped(shutdown) => return Ok(()),
                        r = timeout_at(deadline, self.socket.recv_from(&mut buf)) => r,
                    };
                    let Ok(received) = received else {
                        continue 'handshake;
                    };
                    let Some((len, from)) = unanswered(received).map_err(io_error)? else {
                        continue;
                    };
                    let payload = buf.get(..len).unwrap_or_default();
                    if from == game && len == HANDSHAKE_RESPONSE_LEN {
                        if let Ok(reply) = HandshakeResponse::new(payload) {
                            break 'handshake Box::new(reply.to_owned());
                        }
                    }
                    Counters::bump(&self.counters.ignored);
                }
            };
            if events.send(ClientEvent::Connected(reply)).await.is_err() {
                return Ok(());
            }
            self.send(Operation::SubscribeUpdate).await?;
            if self.config.subscribe_spot {
                self.send(Operation::SubscribeSpot).await?;
            }

            // Stream until silence.
            loop {
                let deadline = Instant::now() + self.config.silence_timeout;
                let received = tokio::select! {
                    _ = stopped(shutdown) => return Ok(()),
                    r = timeout_at(deadline, self.socket.recv_from(&mut buf)) => r,
                };
                let Ok(received) = received else {
                    Counters::bump(&self.counters.silences);
                    if events.send(ClientEvent::Silence).await.is_err()
                        || self.config.exit_on_silence
                    {
                        return Ok(());
                    }
                    break;
                };
                let Some((len, from)) = unanswered(received).map_err(io_error)? else {
                    continue;
                };
                if from != game {
                    Counters::bump(&self.counters.ignored);
                    continue;
                }
                let time_ns = now_ns();
                let payload = buf.get(..len).unwrap_or_default();
                Counters::bump(&self.counters.received);
                if parse_datagram(payload).is_err() {
                    Counters::bump(&self.counters.malformed);
                }
                let event = ClientEvent::Datagram {
                    time_ns,
                    bytes: Bytes::copy_from_slice(payload),
                };
                match events.try_send(event) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        Counters::bump(&self.counters.dropped);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                }
            }
        }
    }
}

/// A receive result with "nobody listens there" turned into `None`: on loopback the kernel
/// answers a datagram to a closed port with ICMP, and the next receive reports it as
/// `ConnectionRefused` (`ConnectionReset` on Windows). For us that is an unanswered request:
/// the game is not running yet, or has quit.
fn unanswered(
    received: io::Result<(usize, SocketAddr)>,
) -> io::Result<Option<(usize, SocketAddr)>> {
    match received {
        Ok(r) => Ok(Some(r)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Resolves when the shutdown flag turns true or its sender is dropped.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
