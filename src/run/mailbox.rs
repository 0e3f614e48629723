//! Custom messages between nodes for the test run's scripts (Locust's `send_message` /
//! `register_message`) on a node whose test run is driven by [`super::drive`]: the master. The
//! test run ships what its scripts sent and runs their `on_message` handlers for what arrived;
//! the distributed layer implements the transport, so this layer needs no wire format.

use rhai::Dynamic;

use crate::script::run_control::OutgoingMessage;

/// A message from another node, ready for a script's handler.
pub struct IncomingMessage {
    pub kind: String,
    /// The node that sent it (a worker's id on a master).
    pub sender: String,
    pub data: Dynamic,
}

/// The test run's link to the other nodes.
pub trait Mailbox {
    /// Messages received since the last call, oldest first, without waiting (at most `max`).
    fn receive(&mut self, max: usize) -> Vec<IncomingMessage>;
    /// Ship a message a script sent.
    fn send(&mut self, msg: OutgoingMessage);
}
