//! The two sockets of distributed mode, on tokio: [`MasterSocket`] is Locust's ROUTER (binds one
//! port, talks to every worker, routes replies by node id) and [`WorkerSocket`] is its DEALER
//! (identity = node id, connects, reconnects by itself, and [`WorkerSocket::reconnect`] drops and
//! recreates the connection as Locust's `reconnect` message asks). Queues are bounded both ways:
//! a full send queue is an error, like ZeroMQ's `NOBLOCK` send at the high-water mark, and a slow
//! receiver pauses the peers' readers. Oversized messages are dropped, logged once per socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::protocol::{Message, ProtocolError, DEFAULT_MAX_FRAME_BYTES};
use super::zmtp::{self, Incoming, Limits, SocketType, ZmtpError};

/// Tunables shared by both sockets; the defaults follow libzmq's and Locust's.
#[derive(Clone, Debug)]
pub struct TransportOptions {
    /// Largest message accepted; larger ones are skipped without being buffered.
    pub max_frame_bytes: usize,
    /// Messages queued per peer and direction (libzmq's high-water mark is 1000).
    pub queue_len: usize,
    /// Time allowed for the ZMTP greeting and READY exchange.
    pub handshake_timeout: Duration,
    /// Time allowed for one TCP connect attempt.
    pub connect_timeout: Duration,
    /// Pause between a worker's reconnect attempts (libzmq: 100 ms).
    pub reconnect_interval: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            queue_len: 1000,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            reconnect_interval: Duration::from_millis(100),
        }
    }
}

impl TransportOptions {
    fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_frame_bytes,
            // Locust sends [payload] from a worker and [identity, payload] from a master.
            max_parts: 4,
        }
    }
}

/// Why a socket operation failed. Only [`TransportError::is_fatal`] errors end a socket.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot bind tcp://{addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("no connected peer has id {0:?}")]
    UnknownPeer(String),
    #[error("send queue to {0:?} is full")]
    QueueFull(String),
    #[error("message from {peer:?} is not a Locust message: {error}")]
    Malformed { peer: String, error: ProtocolError },
    #[error(transparent)]
    Encode(ProtocolError),
    #[error("socket closed")]
    Closed,
}

impl TransportError {
    /// Whether the socket is gone; every other error concerns one message or peer.
    pub fn is_fatal(&self) -> bool {
        matches!(self, TransportError::Bind { .. } | TransportError::Closed)
    }
}

/// State shared by a socket and its connection tasks.
struct Shared {
    options: TransportOptions,
    oversize_logged: AtomicBool,
}

impl Shared {
    /// One warning per socket: a peer that sends one oversized report sends them every 3 s.
    fn dropped(&self, peer: &str, bytes: u64, parts: usize) {
        if !self.oversize_logged.swap(true, Ordering::Relaxed) {
            log::warn!(
                "dropped a {bytes}-byte message in {parts} frames from {peer}: over the \
                 {}-byte limit (further drops are not logged)",
                self.options.max_frame_bytes
            );
        }
    }
}

fn tune(stream: &TcpStream) {
    // Like Locust's sockets: keepalive after 30 s idle; small messages go out at once.
    let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(30));
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
    let _ = stream.set_nodelay(true);
}

/// Writes queued payloads as single-frame messages. Returns true when the queue was closed and
/// everything in it written, false when the connection broke.
async fn write_loop(
    writer: &mut (impl tokio::io::AsyncWrite + Unpin),
    rx: &mut mpsc::Receiver<Vec<u8>>,
) -> bool {
    let mut buf = Vec::new();
    while let Some(payload) = rx.recv().await {
        buf.clear();
        zmtp::encode_message(&[&payload], &mut buf);
        // Batch whatever else is already queued into the same write.
        while let Ok(more) = rx.try_recv() {
            zmtp::encode_message(&[&more], &mut buf);
        }
        if writer.write_all(&buf).await.is_err() || writer.flush().await.is_err() {
            return false;
        }
    }
    let _ = writer.shutdown().await;
    true
}

/// A connected worker as the master sees it.
struct Peer {
    tx: mpsc::Sender<Vec<u8>>,
    generation: u64,
    reader: tokio::task::AbortHandle,
    writer: tokio::task::AbortHandle,
}

impl Peer {
    fn abort(&self) {
        self.reader.abort();
        self.writer.abort();
    }
}

type PeerMap = Arc<Mutex<HashMap<Vec<u8>, Peer>>>;

/// The master's ROUTER socket.
pub struct MasterSocket {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    peers: PeerMap,
    incoming: mpsc::Receiver<Result<(String, Message), TransportError>>,
    acceptor: JoinHandle<()>,
}

impl MasterSocket {
    /// Binds `tcp://host:port`. `*` means every interface (IPv6 and IPv4 where the host has
    /// both); port 0 picks a free port, see [`MasterSocket::port`].
    pub async fn bind(
        host: &str,
        port: u16,
        options: TransportOptions,
    ) -> Result<MasterSocket, TransportError> {
        let addr = format!("{host}:{port}");
        let bind_err = |source| TransportError::Bind {
            addr: addr.clone(),
            source,
        };
        let listener = if host == "*" {
            bind_any(port).map_err(bind_err)?
        } else {
            TcpListener::bind((host.trim_matches(|c| c == '[' || c == ']'), port))
                .await
                .map_err(bind_err)?
        };
        let local_addr = listener.local_addr().map_err(bind_err)?;
        let shared = Arc::new(Shared {
            options,
            oversize_logged: AtomicBool::new(false),
        });
        let peers: PeerMap = Arc::default();
        let (in_tx, incoming) = mpsc::channel(shared.options.queue_len);
        let acceptor = tokio::spawn(accept_loop(listener, shared.clone(), peers.clone(), in_tx));
        Ok(MasterSocket {
            local_addr,
            shared,
            peers,
            incoming,
            acceptor,
        })
    }

    /// The bound port (the chosen one when bound to port 0).
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next message, with the id of the connection it came from (a worker's node id).
    /// [`TransportError::Malformed`] names a peer that sent something undecodable: Locust's
    /// master answers such a known worker with `reconnect`.
    pub async fn recv(&mut self) -> Result<(String, Message), TransportError> {
        self.incoming
            .recv()
            .await
            .unwrap_or(Err(TransportError::Closed))
    }

    /// Sends `msg` to the worker named by `msg.node_id`, as Locust's `send_to_client` does.
    /// Never waits: an unknown worker or a full queue is an error at once.
    pub fn send(&self, msg: &Message) -> Result<(), TransportError> {
        send_to_peer(&self.peers, msg)
    }

    /// A handle that sends like [`MasterSocket::send`] while another task owns the socket and
    /// waits in [`MasterSocket::recv`] (a master's receive loop and its dispatcher).
    pub fn sender(&self) -> MasterSender {
        MasterSender {
            peers: self.peers.clone(),
        }
    }

    /// Ids of the currently connected peers.
    pub fn peers(&self) -> Vec<String> {
        let peers = self.peers.lock();
        peers
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    /// The configured message size limit.
    pub fn max_frame_bytes(&self) -> usize {
        self.shared.options.max_frame_bytes
    }
}

/// Sends to the workers of a [`MasterSocket`]; cheap to clone. Once the socket is dropped every
/// send fails with [`TransportError::UnknownPeer`].
#[derive(Clone)]
pub struct MasterSender {
    peers: PeerMap,
}

impl MasterSender {
    /// See [`MasterSocket::send`].
    pub fn send(&self, msg: &Message) -> Result<(), TransportError> {
        send_to_peer(&self.peers, msg)
    }
}

fn send_to_peer(peers: &PeerMap, msg: &Message) -> Result<(), TransportError> {
    let bytes = msg.encode().map_err(TransportError::Encode)?;
    let peers = peers.lock();
    let peer = peers
        .get(msg.node_id.as_bytes())
        .ok_or_else(|| TransportError::UnknownPeer(msg.node_id.clone()))?;
    peer.tx.try_send(bytes).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => TransportError::QueueFull(msg.node_id.clone()),
        mpsc::error::TrySendError::Closed(_) => TransportError::UnknownPeer(msg.node_id.clone()),
    })
}

impl Drop for MasterSocket {
    fn drop(&mut self) {
        self.acceptor.abort();
        for peer in self.peers.lock().values() {
            peer.abort();
        }
    }
}

/// A dual-stack listener on every interface, or IPv4 only where the host has no IPv6.
fn bind_any(port: u16) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let v6 = || -> std::io::Result<Socket> {
        let s = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
        s.set_only_v6(false)?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)).into())?;
        Ok(s)
    };
    let socket = match v6() {
        Ok(s) => s,
        Err(_) => {
            let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
            s.set_reuse_address(true)?;
            s.bind(&SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)).into())?;
            s
        }
    };
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

type InTx = mpsc::Sender<Result<(String, Message), TransportError>>;

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, peers: PeerMap, in_tx: InTx) {
    let generations = Arc::new(AtomicU64::new(0));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tune(&stream);
                let generation = generations.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve_peer(
                    stream,
                    generation,
                    shared.clone(),
                    peers.clone(),
                    in_tx.clone(),
                ));
            }
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn serve_peer(
    mut stream: TcpStream,
    generation: u64,
    shared: Arc<Shared>,
    peers: PeerMap,
    in_tx: InTx,
) {
    let options = &shared.options;
    let hello = tokio::time::timeout(
        options.handshake_timeout,
        zmtp::handshake(&mut stream, SocketType::Router, b""),
    )
    .await;
    let Ok(Ok(info)) = hello else {
        log::debug!("a connection to the master failed its ZeroMQ handshake: {hello:?}");
        return;
    };
    // libzmq's ROUTER names anonymous peers with a 0 byte and 4 random bytes.
    let identity = if info.identity.is_empty() {
        let mut id = vec![0u8];
        id.extend_from_slice(&rand::random::<u32>().to_be_bytes());
        id
    } else {
        info.identity
    };
    let name = String::from_utf8_lossy(&identity).into_owned();
    let (read_half, write_half) = stream.into_split();
    let (tx, mut rx) = mpsc::channel(options.queue_len);
    let writer = tokio::spawn(async move {
        let mut write_half = write_half;
        write_loop(&mut write_half, &mut rx).await;
    });
    // The reader starts once the peer is routable, so a reply to its first message finds it.
    let (go, ready) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        if ready.await.is_ok() {
            read_peer(BufReader::new(read_half), name, shared, in_tx).await;
        }
    });
    let peer = Peer {
        tx,
        generation,
        reader: reader.abort_handle(),
        writer: writer.abort_handle(),
    };
    // A worker reconnecting under the same id replaces its old connection (ZeroMQ's handover).
    if let Some(old) = peers.lock().insert(identity.clone(), peer) {
        old.abort();
    }
    let _ = go.send(());
    let _ = reader.await;
    let mut map = peers.lock();
    if map
        .get(&identity)
        .is_some_and(|p| p.generation == generation)
    {
        if let Some(p) = map.remove(&identity) {
            p.abort();
        }
    }
}

/// Reads one connection's messages into the socket's incoming queue until it breaks.
async fn read_peer(
    mut reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    name: String,
    shared: Arc<Shared>,
    in_tx: InTx,
) {
    let limits = shared.options.limits();
    loop {
        let item = match zmtp::read_message(&mut reader, limits).await {
            // Locust uses the first frame: the payload a DEALER sent, or the one a ROUTER sent
            // after the identity frame it strips.
            Ok(Incoming::Message(parts)) => {
                let frame = parts.first().map(Vec::as_slice).unwrap_or_default();
                match Message::decode(frame, limits.max_message_bytes) {
                    Ok(msg) => Ok((name.clone(), msg)),
                    Err(error) => Err(TransportError::Malformed {
                        peer: name.clone(),
                        error,
                    }),
                }
            }
            Ok(Incoming::Dropped { bytes, parts }) => {
                shared.dropped(&name, bytes, parts);
                continue;
            }
            Err(e) => {
                log_disconnect(&name, &e);
                return;
            }
        };
        if in_tx.send(item).await.is_err() {
            return;
        }
    }
}

fn log_disconnect(peer: &str, e: &ZmtpError) {
    match e {
        ZmtpError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            log::debug!("{peer} disconnected");
        }
        e => log::debug!("connection to {peer} ended: {e}"),
    }
}

/// The worker's DEALER socket. Creating it starts connecting in the background; messages sent
/// before the connection is up wait in the queue, as with ZeroMQ.
pub struct WorkerSocket {
    host: String,
    port: u16,
    identity: String,
    shared: Arc<Shared>,
    out_tx: mpsc::Sender<Vec<u8>>,
    incoming: mpsc::Receiver<Result<(String, Message), TransportError>>,
    task: JoinHandle<()>,
}

/// The peer name a worker's messages and errors carry.
const MASTER: &str = "master";

impl WorkerSocket {
    /// Connects to `tcp://host:port` as `identity` (the node id). Needs a tokio runtime.
    pub fn connect(
        host: &str,
        port: u16,
        identity: &str,
        options: TransportOptions,
    ) -> WorkerSocket {
        let shared = Arc::new(Shared {
            options,
            oversize_logged: AtomicBool::new(false),
        });
        let (out_tx, incoming, task) = spawn_dealer(host, port, identity, &shared);
        WorkerSocket {
            host: host.to_owned(),
            port,
            identity: identity.to_owned(),
            shared,
            out_tx,
            incoming,
            task,
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Queues `msg` for the master. Never waits: a full queue (master unreachable for a while)
    /// is [`TransportError::QueueFull`], which Locust's retrying sender would also give up on.
    pub fn send(&self, msg: &Message) -> Result<(), TransportError> {
        let bytes = msg.encode().map_err(TransportError::Encode)?;
        self.out_tx.try_send(bytes).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => TransportError::QueueFull(self.host.clone()),
            mpsc::error::TrySendError::Closed(_) => TransportError::Closed,
        })
    }

    /// The next message from the master; [`TransportError::Malformed`] for undecodable ones.
    pub async fn recv(&mut self) -> Result<Message, TransportError> {
        let next = self.incoming.recv().await;
        next.unwrap_or(Err(TransportError::Closed))
            .map(|(_, msg)| msg)
    }

    /// Locust's `reconnect`: closes the connection and starts a new one with the same identity.
    /// Queued messages in both directions are discarded, as closing a ZeroMQ socket does.
    pub fn reconnect(&mut self) {
        self.task.abort();
        let (out_tx, incoming, task) =
            spawn_dealer(&self.host, self.port, &self.identity, &self.shared);
        self.out_tx = out_tx;
        self.incoming = incoming;
        self.task = task;
    }

    /// Sends what is queued (waiting up to `linger` for a connection), then closes.
    pub async fn close(mut self, linger: Duration) {
        // Closing the queue tells the connection task to finish once it is written; Drop then
        // aborts the task if `linger` ran out first.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.out_tx, closed));
        let _ = tokio::time::timeout(linger, &mut self.task).await;
    }
}

impl Drop for WorkerSocket {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type DealerParts = (
    mpsc::Sender<Vec<u8>>,
    mpsc::Receiver<Result<(String, Message), TransportError>>,
    JoinHandle<()>,
);

fn spawn_dealer(host: &str, port: u16, identity: &str, shared: &Arc<Shared>) -> DealerParts {
    let (out_tx, out_rx) = mpsc::channel(shared.options.queue_len);
    let (in_tx, incoming) = mpsc::channel(shared.options.queue_len);
    let task = tokio::spawn(dealer_loop(
        host.to_owned(),
        port,
        identity.to_owned(),
        shared.clone(),
        out_rx,
        in_tx,
    ));
    (out_tx, incoming, task)
}

/// Connects, serves the connection until it breaks, and tries again, until the socket is closed
/// and its queue is delivered.
async fn dealer_loop(
    host: String,
    port: u16,
    identity: String,
    shared: Arc<Shared>,
    mut out_rx: mpsc::Receiver<Vec<u8>>,
    in_tx: InTx,
) {
    let options = &shared.options;
    loop {
        let connected = tokio::time::timeout(
            options.connect_timeout,
            TcpStream::connect((host.as_str(), port)),
        )
        .await;
        if let Ok(Ok(mut stream)) = connected {
            tune(&stream);
            let hello = tokio::time::timeout(
                options.handshake_timeout,
                zmtp::handshake(&mut stream, SocketType::Dealer, identity.as_bytes()),
            )
            .await;
            match hello {
                Ok(Ok(_)) => {
                    if serve_master(stream, &shared, &mut out_rx, &in_tx).await {
                        return;
                    }
                }
                other => log::debug!("handshake with the master failed: {other:?}"),
            }
        }
        if out_rx.is_closed() && out_rx.is_empty() {
            return;
        }
        tokio::time::sleep(options.reconnect_interval).await;
    }
}

/// Runs one connection; true when the socket was closed and everything queued was written.
async fn serve_master(
    stream: TcpStream,
    shared: &Arc<Shared>,
    out_rx: &mut mpsc::Receiver<Vec<u8>>,
    in_tx: &InTx,
) -> bool {
    let (read_half, mut writer) = stream.into_split();
    let mut reader = AbortOnDrop(tokio::spawn(read_peer(
        BufReader::new(read_half),
        MASTER.to_owned(),
        shared.clone(),
        in_tx.clone(),
    )));
    tokio::select! {
        closed = write_loop(&mut writer, out_rx) => closed,
        _ = &mut reader.0 => false,
    }
}

/// Ends the connection's reader with the connection, also when the socket's task is aborted
/// (`reconnect`, drop) rather than left reading until the master hangs up.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
