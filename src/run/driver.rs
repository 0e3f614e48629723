//! The one loop that runs a test run: ticks (spawning, run time, `stop_test()`), the once-a-second
//! work (history, CSV), commands from a front end, and Ctrl-C/SIGTERM. The console and the web
//! controller plug into it as [`FrontEnd`]s and only add what they show.

use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

use super::{ClassUpdate, ClassUpdateError, Load, TestRun, Tick};

/// How often the loop spawns due users and checks for the end of a test.
const TICK: Duration = Duration::from_millis(50);

/// A front end's request to the test run. Every reply is sent once the change is applied.
pub enum Command {
    /// Start a test, or re-target the running one (Locust's POST /swarm).
    Swarm {
        load: Load,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Stop {
        reply: oneshot::Sender<()>,
    },
    ResetStats {
        reply: oneshot::Sender<()>,
    },
    /// Re-read the scenario from disk between runs: Ok(message) or Err(compile error).
    Reload {
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// Change one user class for the next test (POST /user with the class picker).
    UpdateUserClass {
        update: ClassUpdate,
        reply: oneshot::Sender<Result<(), ClassUpdateError>>,
    },
}

/// What a front end adds to the loop.
pub trait FrontEnd {
    /// Once a second, after the test run's own per-second work.
    fn every_second(&mut self, run: &TestRun);
    /// A test ended (run time, `stop_test()`, a stop command) and its reports are written;
    /// true ends the loop.
    fn test_ended(&mut self, run: &TestRun) -> bool;
    /// Checked on every tick: true ends the loop (the web UI's `--autoquit`).
    fn should_quit(&mut self) -> bool {
        false
    }
    /// The scenario was reloaded (Ok) or its reload failed (Err, the old one stays).
    fn reloaded(&mut self, _run: &TestRun, _result: &Result<String, String>) {}
    /// A user class of the scenario was changed (the next test runs it so).
    fn class_changed(&mut self, _run: &TestRun) {}
}

/// Ctrl-C and SIGTERM: the first ends the loop, the second hurries the stop (the distributed
/// worker's loop uses them too).
pub(crate) struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    pub(crate) fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }

    /// Resolves on the next signal: a stop in progress then cancels users and listeners now.
    pub(crate) async fn hurry(&mut self) {
        let which = self.next().await;
        log::warn!("{which} again: cancelling users and listeners now");
    }
}

/// Run `run` until the front end or a signal ends the loop; a test still running then is
/// stopped (a second signal hurries it) and its reports are written.
pub async fn drive(
    run: &mut TestRun,
    fe: &mut impl FrontEnd,
    mut commands: Option<mpsc::UnboundedReceiver<Command>>,
) -> std::io::Result<()> {
    let mut signals = match run.take_signals() {
        Some(s) => s,
        None => Signals::new()?,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_second = Instant::now();
    loop {
        let cmd = tokio::select! {
            _ = tick.tick() => None,
            Some(cmd) = next_command(&mut commands) => Some(cmd),
            which = signals.next() => {
                log::info!("Got {which} signal, stopping the test");
                break;
            }
        };
        if let Some(cmd) = cmd {
            if apply(run, fe, cmd, &mut signals).await {
                break;
            }
        }
        run.exchange_messages().await;
        if let Some(Tick::End(why)) = run.tick().await {
            log::info!("{why}, stopping the test");
            run.stop(signals.hurry()).await;
            if fe.test_ended(run) {
                break;
            }
        }
        if last_second.elapsed() >= Duration::from_secs(1) {
            last_second = Instant::now();
            run.every_second();
            fe.every_second(run);
        }
        if fe.should_quit() {
            break;
        }
    }
    if run.is_running() {
        run.stop(signals.hurry()).await;
        fe.test_ended(run);
    }
    Ok(())
}

async fn next_command(commands: &mut Option<mpsc::UnboundedReceiver<Command>>) -> Option<Command> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Apply one command; true when the front end wants the loop to end (a stopped test).
async fn apply(
    run: &mut TestRun,
    fe: &mut impl FrontEnd,
    cmd: Command,
    signals: &mut Signals,
) -> bool {
    match cmd {
        Command::Swarm { load, reply } => {
            let _ = reply.send(run.start(load).await);
        }
        Command::Stop { reply } => {
            let was_running = run.is_running();
            run.stop(signals.hurry()).await;
            let _ = reply.send(());
            return was_running && fe.test_ended(run);
        }
        Command::ResetStats { reply } => {
            run.reset_stats().await;
            let _ = reply.send(());
        }
        Command::Reload { reply } => {
            let result = run.reload().await;
            fe.reloaded(run, &result);
            let _ = reply.send(result);
        }
        Command::UpdateUserClass { update, reply } => {
            let result = run.update_user_class(&update);
            if result.is_ok() {
                fe.class_changed(run);
            }
            let _ = reply.send(result);
        }
    }
    false
}
