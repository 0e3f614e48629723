//! Distributed mode on Locust 2.47's own wire protocol (project issue 8): a rustlocust master can
//! drive Locust workers and a rustlocust worker can join a Locust master, or both ends are
//! rustlocust and percentiles merge exactly. See docs/distributed.md.
//!
//! Layers, bottom up: [`zmtp`] (ZeroMQ's wire protocol, ROUTER/DEALER subset), [`transport`]
//! (the master's and the worker's sockets), [`protocol`] (Locust's msgpack message), [`payload`]
//! (the typed message catalogue), [`report`] (stats reports to and from [`crate::stats`]) and
//! [`custom`] (scripts' own messages). On top: the [`worker`] (with its [`link`] to the master
//! and the process [`usage`] its heartbeats report), [`dispatch`] (which worker runs which
//! users) and [`master`] (the master role).

pub mod custom;
pub mod dispatch;
pub mod link;
pub mod master;
pub mod payload;
pub mod processes;
pub mod protocol;
pub mod report;
pub mod secret;
pub mod transport;
pub mod usage;
pub mod worker;
pub mod zmtp;

pub use master::{
    run_master_headless, run_master_headless_on, run_master_web, run_master_web_on, CustomMessage,
    Master, MasterConfig, MasterError, MasterOptions, RemoteUsers, ReportCounters, WorkerInfo,
};
pub use payload::{
    Ack, ClientReady, ExceptionReport, Heartbeat, Logs, Payload, Spawn, SpawningComplete,
    UpdateUserClass, WorkerState,
};
pub use protocol::{
    check_client_version, new_node_id, timing, Message, ProtocolError, VersionCheck,
    DEFAULT_MASTER_PORT, DEFAULT_MAX_FRAME_BYTES, LOCUST_VERSION,
};
pub use report::{merge_report, StatsEntryDict, StatsErrorDict, StatsReport};
pub use transport::{MasterSender, MasterSocket, TransportError, TransportOptions, WorkerSocket};
pub use worker::{run_worker, WorkerError, WorkerOptions};
