//! `torsiond`: run a torsion service tree from the command line, as Twisted's `twistd`
//! runs an application: `torsiond [global options] PLUGIN [plugin options]`.
//!
//! ```text
//! torsiond web --path ./public --listen tcp:8080
//! torsiond --daemon --pidfile /run/web.pid --logfile /var/log/web.log --access-log /var/log/web.access web --path /srv/www --listen tcp:80 --listen tcp6:80
//! torsiond --log-format json finger --user 'moshez=Happy and well'
//! torsiond portforward --listen tcp:8022 --dest tcp:example.com:22
//! ```
//!
//! A program of your own registers its plugins and gets the same command line, logging,
//! pid file, daemon mode, privilege drop, graceful drain and systemd support:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     let mut plugins = torsiond::builtin_plugins();
//!     // plugins.push(torsiond::plugin("mine", "what it does", make_my_service));
//!     torsiond::run(plugins)
//! }
//! ```
//!
//! What a run does, in order: parse the options (a bad one prints why and the usage,
//! exit 2); with `--daemon`, fork into the background (the command waits until the
//! daemon listens, or prints why it could not); install the log; write the pid file;
//! build the reactor and the plugin's tree; bind the ports (privileged start); switch to
//! `--uid`/`--gid`; start; print `listening on ADDR` for each address and tell systemd
//! `READY=1` (when `NOTIFY_SOCKET` is set). The first SIGTERM or SIGINT drains (see
//! [`torsion::application::Runner`]), and systemd hears `STOPPING=1`; a second one
//! stops at once. SIGHUP reopens the log files. At the end the pid file is removed and
//! the exit code is 0.

#![forbid(unsafe_code)]

pub mod cli;
pub mod logging;
pub mod metrics;
pub mod notify;
mod pidfile;
pub mod plugins;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{CommandFactory, FromArgMatches};
use torsion::application::{daemon, Runner};
use torsion::reactor::Backend;
use torsion::{Failure, Reactor};

pub use plugins::{builtin_plugins, plugin, Plugin};

use cli::{Global, ReactorKind};
use logging::LogConfig;

/// Runs `torsiond` with these plugins on this process's arguments; the exit code is
/// 0 after a clean stop, 1 when the service could not start, 2 for bad options.
pub fn run(plugins: Vec<Box<dyn Plugin>>) -> ExitCode {
    ExitCode::from(run_from(std::env::args_os(), plugins))
}

/// [`run`] returning the exit code as a number (for `std::process::exit`).
pub fn run_with(plugins: Vec<Box<dyn Plugin>>) -> i32 {
    i32::from(run_from(std::env::args_os(), plugins))
}

/// Runs with `args` (the program name first).
pub fn run_from(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    plugins: Vec<Box<dyn Plugin>>,
) -> u8 {
    let mut command = Global::command();
    for plugin in &plugins {
        command = command.subcommand(plugin.command());
    }
    let matches = match command.try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return u8::try_from(code).unwrap_or(2);
        }
    };
    let global = match Global::from_arg_matches(&matches) {
        Ok(global) => global,
        Err(e) => {
            let _ = e.print();
            return 2;
        }
    };
    // Invariant: clap requires a subcommand, and only plugins' names are subcommands.
    let Some((name, options)) = matches.subcommand() else {
        return 2;
    };
    let Some(plugin) = plugins.iter().find(|p| p.name() == name) else {
        return 2;
    };
    match start(&global, plugin.as_ref(), options) {
        Ok(()) => 0,
        Err(Failed { message, told }) => {
            tracing::error!(target: "torsiond", "{message}");
            if !told {
                eprintln!("torsiond: {message}");
            }
            1
        }
    }
}

/// Why a run failed, and whether the process that started a daemon was told already
/// (it prints the message itself).
struct Failed {
    message: String,
    told: bool,
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed {
            message,
            told: false,
        }
    }
}

/// Everything after the options are parsed.
fn start(global: &Global, plugin: &dyn Plugin, options: &clap::ArgMatches) -> Result<(), Failed> {
    let logfile = match (&global.logfile, global.daemon) {
        (Some(path), _) if path == "-" && global.daemon => {
            return Err(Failed::from(
                "--logfile -: a daemon has no standard error; name a file".to_owned(),
            ))
        }
        (Some(path), _) if path == "-" => None,
        (Some(path), _) => Some(PathBuf::from(path)),
        (None, true) => Some(PathBuf::from("torsiond.log")),
        (None, false) => None,
    };
    let daemonized = match global.daemon {
        true => Some(daemon::daemonize().map_err(|e| format!("daemonize: {e}"))?),
        false => None,
    };
    let result = serve(global, plugin, options, logfile, daemonized);
    result.map_err(|(message, daemonized)| match daemonized {
        Some(d) => {
            d.failed(&format!("torsiond: {message}"));
            Failed {
                message,
                told: true,
            }
        }
        None => Failed::from(message),
    })
}

type Startup = Option<daemon::Daemonized>;

fn serve(
    global: &Global,
    plugin: &dyn Plugin,
    options: &clap::ArgMatches,
    logfile: Option<PathBuf>,
    daemonized: Startup,
) -> Result<(), (String, Startup)> {
    let config = LogConfig {
        file: logfile,
        format: global.log_format,
        filter: global.log_level.clone(),
        access_log: global.access_log.clone(),
    };
    let files = match logging::install(&config) {
        Ok(files) => files,
        Err(message) => return Err((message, daemonized)),
    };
    let pidfile = match &global.pidfile {
        Some(path) => match pidfile::PidFile::create(path) {
            Ok(file) => Some(file),
            Err(message) => return Err((message, daemonized)),
        },
        None => None,
    };
    let backend = match global.reactor {
        ReactorKind::Mio => Backend::Mio,
        ReactorKind::Poll => Backend::Poll,
    };
    let reactor = match Reactor::builder().backend(backend).build() {
        Ok(reactor) => reactor,
        Err(e) => return Err((format!("build the reactor: {e}"), daemonized)),
    };
    let service = match plugin.make_service(&reactor, options) {
        Ok(service) => service,
        Err(failure) => return Err((format!("{}: {failure}", plugin.name()), daemonized)),
    };
    let service = match &global.metrics {
        None => service,
        Some(endpoint) => {
            let root = torsion::application::MultiService::new("torsiond");
            let added = metrics::service(&reactor, endpoint, service.clone())
                .and_then(|metrics| root.add(service).and_then(|()| root.add(metrics)));
            if let Err(failure) = added {
                return Err((format!("--metrics {endpoint}: {failure}"), daemonized));
            }
            Rc::new(root) as Rc<dyn torsion::application::Service>
        }
    };
    let (uid, gid) = (global.uid, global.gid);
    let daemonized = Rc::new(std::cell::RefCell::new(daemonized));
    let ready_daemon = daemonized.clone();
    let runner = Runner::new(&reactor)
        .drain_timeout(global.drain_timeout)
        .after_privileged_start(move || {
            if uid.is_none() && gid.is_none() {
                return Ok(());
            }
            daemon::switch_user(uid, gid).map_err(Failure::new)
        })
        .on_ready(move |addresses| {
            let mut out = std::io::stdout().lock();
            for address in addresses {
                tracing::info!(target: "torsiond", "listening on {address}");
                let _ = writeln!(out, "listening on {address}");
            }
            let _ = out.flush();
            notify::notify_or_log("READY=1");
            if let Some(d) = ready_daemon.borrow_mut().take() {
                d.ready();
            }
        })
        .on_stopping(|| notify::notify_or_log("STOPPING=1"))
        .on_reload(move || files.reopen());
    let outcome = runner.run(service);
    drop(pidfile); // removes the file
    match outcome {
        Ok(()) => {
            tracing::info!(target: "torsiond", "stopped");
            Ok(())
        }
        Err(failure) => Err((failure.to_string(), daemonized.borrow_mut().take())),
    }
}
