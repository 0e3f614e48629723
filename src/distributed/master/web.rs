//! `--master` with the web UI: the UI's tests run on the workers, and the API lists them
//! (`/worker-count`, `workers` in `/stats/requests`). With `--autostart` the master first waits
//! for `--expect-workers`, as headless. The workers get `quit` when the UI quits.

use std::sync::Arc;

use super::{Master, MasterOptions};
use crate::run::RunConfig;
use crate::script::Scenario;
use crate::web::WebOptions;

/// Runs a master with the web UI: binds `opts.bind_host:opts.bind_port`, then as
/// [`run_master_web_on`]. Returns the exit code.
pub async fn run_master_web(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: MasterOptions,
    web: WebOptions,
) -> anyhow::Result<i32> {
    let master = super::headless::bind_from(&opts).await?;
    run_master_web_on(master, scenario, cfg, opts, web).await
}

/// Runs the web UI on `master`, already bound (`opts`' bind address and rebalancing are not
/// read).
pub async fn run_master_web_on(
    master: Arc<Master>,
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: MasterOptions,
    web: WebOptions,
) -> anyhow::Result<i32> {
    super::headless::start(&master, &scenario, &opts, web.autostart).await?;
    let users = master.users_factory(cfg.stop_timeout);
    let result =
        crate::web::control::serve_with(cfg, web, scenario, users, Some(master.clone())).await;
    master.quit().await;
    result
}
