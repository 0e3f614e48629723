//! `--master --headless`: bind, wait for `--expect-workers` (bounded by
//! `--expect-workers-max-wait`), run `-u/-r/-t` through the console front end with the users on
//! the workers, write the reports, and send `quit` to every worker at the end. A test that loses
//! every worker stops, writes its reports and exits non-zero.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::{Master, MasterConfig};
use crate::console::{self, ConsoleOptions};
use crate::distributed::protocol::DEFAULT_MASTER_PORT;
use crate::distributed::transport::TransportOptions;
use crate::run::RunConfig;
use crate::script::Scenario;

/// The exit code of a test that lost every worker (when nothing else already made it non-zero).
pub const EXIT_WORKERS_LOST: i32 = 1;

/// The master's options, Locust's flags.
#[derive(Clone, Debug, PartialEq)]
pub struct MasterOptions {
    /// `--master-bind-host`: `*` is every interface (Locust's default).
    pub bind_host: String,
    /// `--master-bind-port` (5557).
    pub bind_port: u16,
    /// `--expect-workers`: the test starts once this many workers are connected.
    pub expect_workers: usize,
    /// `--expect-workers-max-wait`: None waits until Ctrl-C.
    pub expect_workers_max_wait: Option<Duration>,
    /// `--enable-rebalancing`: see [`MasterConfig::enable_rebalancing`].
    pub enable_rebalancing: bool,
    /// `--master-secret`: see [`MasterConfig::secret`].
    pub secret: Option<crate::distributed::secret::Secret>,
}

impl Default for MasterOptions {
    fn default() -> Self {
        MasterOptions {
            bind_host: "*".to_owned(),
            bind_port: DEFAULT_MASTER_PORT,
            expect_workers: 1,
            expect_workers_max_wait: None,
            enable_rebalancing: false,
            secret: None,
        }
    }
}

/// Runs a headless master: binds `opts.bind_host:opts.bind_port`, then as
/// [`run_master_headless_on`]. Returns the exit code.
pub async fn run_master_headless(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: MasterOptions,
    console: ConsoleOptions,
) -> anyhow::Result<i32> {
    let master = bind_from(&opts).await?;
    run_master_headless_on(master, scenario, cfg, opts, console).await
}

/// Runs a headless master on `master`, already bound (its own config applies; `opts`' bind
/// address and rebalancing are not read). Tests bind port 0 and watch [`Master::workers`].
pub async fn run_master_headless_on(
    master: Arc<Master>,
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: MasterOptions,
    console: ConsoleOptions,
) -> anyhow::Result<i32> {
    start(&master, &scenario, &opts, true).await?;
    let users = master.users_factory(cfg.stop_timeout);
    let watched = master.clone();
    let mailbox = master.mailbox();
    let result = console::run_with_users(scenario, cfg, console, users, mailbox, move |code| {
        if code == 0 && watched.all_workers_lost() {
            EXIT_WORKERS_LOST
        } else {
            code
        }
    })
    .await;
    master.quit().await;
    result
}

/// Binds the master `opts` asks for.
pub async fn bind_from(opts: &MasterOptions) -> anyhow::Result<Arc<Master>> {
    let config = MasterConfig {
        transport: TransportOptions::default(),
        enable_rebalancing: opts.enable_rebalancing,
        secret: opts.secret.clone(),
    };
    Master::bind(&opts.bind_host, opts.bind_port, config)
        .await
        .with_context(|| {
            format!(
                "the master port ({}:{}) is not available: is another master still running?",
                opts.bind_host, opts.bind_port
            )
        })
}

/// Makes scripts see the master role and, with `wait`, waits for `--expect-workers`; when they
/// do not come, the ones that did are sent `quit` and the error is returned.
pub(super) async fn start(
    master: &Master,
    scenario: &Scenario,
    opts: &MasterOptions,
    wait: bool,
) -> anyhow::Result<()> {
    log::info!("Master listening for workers on {}", master.local_addr());
    master.set_control(scenario.control.clone());
    if wait {
        if let Err(e) = master
            .wait_for_workers(opts.expect_workers, opts.expect_workers_max_wait)
            .await
        {
            log::error!("{e}");
            master.quit().await;
            return Err(e.into());
        }
    }
    Ok(())
}
