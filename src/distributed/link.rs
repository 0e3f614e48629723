//! A worker's link to its master: one task owns the [`WorkerSocket`] and another sends a
//! heartbeat every second, so both go on while the worker's message loop waits for something
//! long (users finishing within `stop_timeout`, a `test_start` listener that sleeps, a message
//! handler) — as Locust's worker greenlets do. The link also notes when the master was last
//! heard from, for the worker's "master lost" rule.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::payload::{Heartbeat, Payload, WorkerState};
use super::protocol::{timing, Message};
use super::transport::{TransportError, TransportOptions, WorkerSocket};
use super::usage::ProcessUsage;

/// Messages from the master waiting for the message loop. Locust's master sends about one a
/// second, so this is minutes of backlog; past it, messages are dropped (and that is logged).
const INCOMING_BACKLOG: usize = 1000;

/// What the message loop gets from the link.
pub type Incoming = Result<Message, TransportError>;

enum Cmd {
    Send(Message),
    Reconnect,
    Close(Duration, oneshot::Sender<()>),
}

/// State shared by the loop, the socket task and the heartbeat task (one thread: `Cell`s).
struct Shared {
    node_id: String,
    last_heard: Cell<Instant>,
    state: Cell<WorkerState>,
    /// Heartbeats go out only while the master has acknowledged this worker.
    beating: Cell<bool>,
    send_failed_logged: Cell<bool>,
}

/// The worker's side of the connection. Dropping it ends both tasks.
pub struct Link {
    shared: Rc<Shared>,
    cmds: mpsc::UnboundedSender<Cmd>,
    incoming: mpsc::Receiver<Incoming>,
    tasks: [JoinHandle<()>; 2],
}

impl Link {
    /// Starts connecting to `host:port` as `node_id`. Needs a `LocalSet`.
    pub fn connect(host: &str, port: u16, node_id: &str) -> Link {
        let socket = WorkerSocket::connect(host, port, node_id, TransportOptions::default());
        let shared = Rc::new(Shared {
            node_id: node_id.to_owned(),
            last_heard: Cell::new(Instant::now()),
            state: Cell::new(WorkerState::Ready),
            beating: Cell::new(false),
            send_failed_logged: Cell::new(false),
        });
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (in_tx, incoming) = mpsc::channel(INCOMING_BACKLOG);
        let io = tokio::task::spawn_local(own_socket(socket, shared.clone(), cmd_rx, in_tx));
        let beat = tokio::task::spawn_local(heartbeats(shared.clone(), cmds.clone()));
        Link {
            shared,
            cmds,
            incoming,
            tasks: [io, beat],
        }
    }

    /// Queues `payload` for the master. Failures (a full queue while the master is away) are
    /// logged once; the message is dropped, as Locust's sender gives up after its retries.
    pub fn send(&self, payload: &Payload) {
        match payload.to_message(&self.shared.node_id) {
            Ok(msg) => {
                let _ = self.cmds.send(Cmd::Send(msg));
            }
            Err(e) => log::error!("cannot encode a `{}` message: {e}", payload.kind()),
        }
    }

    /// The next message from the master (or why one could not be read).
    pub async fn recv(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }

    /// Drops the connection and whatever is queued, and connects again under the same id.
    pub fn reconnect(&self) {
        let _ = self.cmds.send(Cmd::Reconnect);
    }

    /// Delivers what is queued (waiting up to `linger` for the master), then closes.
    pub async fn close(self, linger: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Close(linger, tx)).is_ok() {
            let _ = tokio::time::timeout(linger + Duration::from_secs(1), rx).await;
        }
    }

    /// How long since the last message from the master.
    pub fn silent_for(&self) -> Duration {
        self.shared.last_heard.get().elapsed()
    }

    /// Counts the master as just heard (the silence clock restarts).
    pub fn heard_now(&self) {
        self.shared.last_heard.set(Instant::now());
    }

    /// The state the heartbeats report.
    pub fn set_state(&self, state: WorkerState) {
        self.shared.state.set(state);
    }

    /// Heartbeats on (acknowledged by a master) or off (looking for one).
    pub fn set_beating(&self, on: bool) {
        self.shared.beating.set(on);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Owns the socket: sends what the loop and the heartbeats queue, passes on what arrives.
async fn own_socket(
    mut socket: WorkerSocket,
    shared: Rc<Shared>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    incoming: mpsc::Sender<Incoming>,
) {
    let mut backlog_logged = false;
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Send(msg)) => {
                    if let Err(e) = socket.send(&msg) {
                        if !shared.send_failed_logged.replace(true) {
                            log::warn!("cannot send `{}` to the master: {e} (further failures at debug level)", msg.kind);
                        } else {
                            log::debug!("cannot send `{}` to the master: {e}", msg.kind);
                        }
                    }
                }
                Some(Cmd::Reconnect) => socket.reconnect(),
                Some(Cmd::Close(linger, done)) => {
                    socket.close(linger).await;
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
            got = socket.recv() => {
                if got.is_ok() {
                    shared.last_heard.set(Instant::now());
                    shared.send_failed_logged.set(false);
                }
                if let Err(TransportError::Closed) = got {
                    // The connection task is gone (it never ends by itself): start another.
                    socket.reconnect();
                    continue;
                }
                if incoming.try_send(got).is_err() && !backlog_logged {
                    backlog_logged = true;
                    log::error!("{INCOMING_BACKLOG} messages from the master are waiting; dropping more");
                }
            }
        }
    }
}

/// A heartbeat every second while acknowledged: state, CPU percent, RSS bytes.
async fn heartbeats(shared: Rc<Shared>, cmds: mpsc::UnboundedSender<Cmd>) {
    let mut usage = ProcessUsage::new();
    let mut every = tokio::time::interval(timing::HEARTBEAT_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // Read every second, beating or not, so each reading covers the last second.
        let cpu = usage.cpu_percent();
        if !shared.beating.get() {
            continue;
        }
        let beat = Payload::Heartbeat(Some(Heartbeat {
            state: shared.state.get(),
            current_cpu_usage: cpu,
            current_memory_usage: usage.rss_bytes(),
        }));
        match beat.to_message(&shared.node_id) {
            Ok(msg) => {
                if cmds.send(Cmd::Send(msg)).is_err() {
                    return;
                }
            }
            Err(e) => log::error!("cannot encode a heartbeat: {e}"),
        }
    }
}
