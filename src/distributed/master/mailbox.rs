//! The master's side of scripts' custom messages: workers' messages of the scripts' own types
//! (queued by the pump, which never waits for a script) go to the test run's `on_message`
//! handlers with the sending worker's id, and the master's `send_message(type, data)` goes to
//! every worker, `send_message(type, data, id)` to one.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{CustomMessage, Master};
use crate::distributed::custom::{json_to_msgpack, msgpack_to_dynamic};
use crate::run::{IncomingMessage, Mailbox};
use crate::script::run_control::OutgoingMessage;

pub(super) struct MasterMailbox {
    pub(super) master: Arc<Master>,
    pub(super) rx: mpsc::Receiver<CustomMessage>,
}

impl Mailbox for MasterMailbox {
    fn receive(&mut self, max: usize) -> Vec<IncomingMessage> {
        let mut out = Vec::new();
        while out.len() < max {
            let Ok(m) = self.rx.try_recv() else { break };
            log::debug!("Received {} message from worker {}", m.kind, m.worker_id);
            out.push(IncomingMessage {
                data: msgpack_to_dynamic(&m.data),
                kind: m.kind,
                sender: m.worker_id,
            });
        }
        out
    }

    fn send(&mut self, msg: OutgoingMessage) {
        let data = json_to_msgpack(&msg.data);
        let sent = self.master.send_custom(msg.to.as_deref(), &msg.kind, data);
        match (&msg.to, sent) {
            (Some(id), 0) => log::warn!(
                "send_message(\"{}\", .., \"{id}\"): no connected worker has that id; the message was dropped",
                msg.kind
            ),
            (None, 0) => log::warn!(
                "send_message(\"{}\", ..): no worker is connected; the message was dropped",
                msg.kind
            ),
            _ => log::debug!("Sent {} message to {sent} worker(s)", msg.kind),
        }
    }
}
