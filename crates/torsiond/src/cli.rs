//! The global options (`torsiond [global options] PLUGIN [plugin options]`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// `torsiond`'s own options, before the plugin's name.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "torsiond",
    about = "Run a torsion service (Twisted's twistd): torsiond [OPTIONS] PLUGIN [PLUGIN OPTIONS]",
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Global {
    /// Log to this file (`-`: standard error). Default: standard error, or
    /// `torsiond.log` with --daemon. SIGHUP reopens it.
    #[arg(long, value_name = "PATH|-")]
    pub logfile: Option<String>,
    /// One line of text per event, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The log filter (tracing's `EnvFilter` syntax: `info`, `torsion=debug,warn`);
    /// default: `RUST_LOG`, else `info`.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// The HTTP access log, in the Combined Log Format, to this file instead of the
    /// main log.
    #[arg(long, value_name = "PATH")]
    pub access_log: Option<PathBuf>,
    /// Write the process id here (removed at exit); refuse to start if it names a
    /// process that runs.
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
    /// Fork into the background (the command returns once the service listens).
    #[arg(long)]
    pub daemon: bool,
    /// Switch to this user id after binding the ports.
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,
    /// Switch to this group id after binding the ports.
    #[arg(long, value_name = "GID")]
    pub gid: Option<u32>,
    /// The readiness backend.
    #[arg(long, value_enum, default_value_t = ReactorKind::Mio)]
    pub reactor: ReactorKind,
    /// Serve Prometheus metrics (text exposition, any path) on this endpoint.
    #[arg(long, value_name = "ENDPOINT", value_parser = crate::plugins::server_endpoint)]
    pub metrics: Option<String>,
    /// How long in-flight connections may take to finish after SIGTERM/SIGINT.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub drain_timeout: Duration,
}

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `TIME LEVEL TARGET: MESSAGE FIELDS`
    Text,
    /// `{"timestamp":..,"level":..,"target":..,"message":..,...}`
    Json,
}

/// Which readiness backend the reactor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReactorKind {
    /// epoll/kqueue through mio.
    Mio,
    /// poll(2).
    Poll,
}

/// A number of seconds, fractions allowed.
pub fn parse_seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{value:?}: must be zero or more seconds"))
}
