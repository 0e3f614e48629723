//! The one status value of a test run (state, users, host, times), published by the test run
//! through a watch channel. Front ends read it; nobody else writes it.

use std::collections::BTreeMap;

use serde::Serialize;

/// Where a test is, in Locust's words (`/stats/requests` "state").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Ready,
    Spawning,
    Running,
    Stopping,
    Stopped,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        }
    }

    /// Spawning or running: users are (or are being) started.
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Spawning | RunState::Running)
    }
}

/// What the test run says about itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunStatus {
    pub state: RunState,
    /// Users running now.
    pub user_count: u64,
    /// Users running now per class (Locust's `user_classes_count`; empty before the first test).
    pub user_classes_count: BTreeMap<String, u64>,
    /// The target of the current or last ramp, and its spawn rate.
    pub target_users: u64,
    pub spawn_rate: f64,
    /// The host the users hit (from the swarm form, -H, or the first class).
    pub host: String,
    /// Unix seconds (server clock) the current or last test started.
    pub started_at: Option<f64>,
    /// The current or last test's run time limit, seconds.
    pub run_time: Option<f64>,
}
