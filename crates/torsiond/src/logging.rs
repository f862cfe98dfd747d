//! The log: a `tracing` subscriber writing text or JSON lines to standard error or a
//! file that SIGHUP reopens (twisted.logger's text and JSON observers), and the HTTP
//! access log (target `torsion_web::access`) to a file of its own when asked.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use crate::cli::LogFormat;

/// The target torsion-web's access lines use.
pub const ACCESS_TARGET: &str = "torsion_web::access";

/// Where and how to log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `None`: standard error.
    pub file: Option<PathBuf>,
    /// Text or JSON lines.
    pub format: LogFormat,
    /// An `EnvFilter` directive string; `None`: `RUST_LOG`, else `info`.
    pub filter: Option<String>,
    /// The access log's own file.
    pub access_log: Option<PathBuf>,
}

/// The installed log's files, to reopen on SIGHUP.
#[derive(Debug, Clone, Default)]
pub struct LogFiles {
    files: Vec<Reopenable>,
}

impl LogFiles {
    /// Reopens every log file (after a log rotation moved them away); a failure is
    /// logged and the old file kept.
    pub fn reopen(&self) {
        for file in &self.files {
            match file.reopen() {
                Ok(()) => tracing::info!(target: "torsiond", "reopened {}", file.path.display()),
                Err(e) => {
                    tracing::error!(target: "torsiond", "reopen {}: {e}", file.path.display())
                }
            }
        }
    }
}

/// Builds the subscriber for `config` (without installing it).
///
/// # Errors
/// A bad filter, or a log file that cannot be opened, as a message naming it.
pub fn subscriber(
    config: &LogConfig,
) -> Result<(impl tracing::Subscriber + Send + Sync, LogFiles), String> {
    let mut files = LogFiles::default();
    let directives = match &config.filter {
        Some(filter) => filter.clone(),
        None => std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "info".to_owned()),
    };
    let filter =
        EnvFilter::try_new(&directives).map_err(|e| format!("log filter {directives:?}: {e}"))?;
    let writer = match &config.file {
        None => BoxMakeWriter::new(io::stderr),
        Some(path) => {
            let file = Reopenable::open(path)?;
            files.files.push(file.clone());
            BoxMakeWriter::new(file)
        }
    };
    let separate_access = config.access_log.is_some();
    let main = match config.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .boxed(),
    };
    let main = main.with_filter(filter).with_filter(filter_fn(move |meta| {
        !(separate_access && meta.target() == ACCESS_TARGET)
    }));
    let access = match &config.access_log {
        None => None,
        Some(path) => {
            let file = Reopenable::open(path)?;
            files.files.push(file.clone());
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_level(false)
                .with_target(false)
                .with_writer(file)
                .with_filter(filter_fn(|meta| {
                    meta.target() == ACCESS_TARGET && *meta.level() <= tracing::Level::INFO
                }));
            Some(layer)
        }
    };
    let subscriber = Registry::default().with(main).with(access);
    Ok((subscriber, files))
}

/// Installs the log for the whole process.
///
/// # Errors
/// As [`subscriber`], or a subscriber already installed.
pub fn install(config: &LogConfig) -> Result<LogFiles, String> {
    let (subscriber, files) = subscriber(config)?;
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("install the log: {e}"))?;
    Ok(files)
}

/// A log file, appended to, that can be reopened at the same path.
#[derive(Debug, Clone)]
struct Reopenable {
    path: Arc<PathBuf>,
    file: Arc<Mutex<File>>,
}

impl Reopenable {
    fn open(path: &Path) -> Result<Reopenable, String> {
        let file = open_append(path).map_err(|e| format!("open log {}: {e}", path.display()))?;
        Ok(Reopenable {
            path: Arc::new(path.to_owned()),
            file: Arc::new(Mutex::new(file)),
        })
    }

    fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = file;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for Reopenable {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // One event is one `write_all` of a formatted line: appended whole.
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Reopenable {
    type Writer = Reopenable;

    fn make_writer(&'a self) -> Reopenable {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("torsiond-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn json_lines_parse_back_with_time_level_target_message_and_fields() {
        let dir = temp("json");
        let config = LogConfig {
            file: Some(dir.join("log.json")),
            format: LogFormat::Json,
            filter: Some("info".into()),
            access_log: None,
        };
        let (subscriber, _) = subscriber(&config).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "torsiond::test", port = 8080, "listening on {}", "tcp:8080");
            tracing::debug!(target: "torsiond::test", "filtered out");
        });
        let text = std::fs::read_to_string(dir.join("log.json")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["target"], "torsiond::test");
        assert_eq!(event["message"], "listening on tcp:8080");
        assert_eq!(event["port"], 8080);
        assert!(event["timestamp"].as_str().unwrap().len() >= 20, "{event}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn access_lines_go_to_their_own_file_only_and_reopen_follows_a_rotation() {
        let dir = temp("access");
        let config = LogConfig {
            file: Some(dir.join("main.log")),
            format: LogFormat::Text,
            filter: None,
            access_log: Some(dir.join("access.log")),
        };
        let (subscriber, files) = subscriber(&config).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "torsion_web::access", "127.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"");
            tracing::warn!(target: "torsiond::test", "something else");
            std::fs::rename(dir.join("access.log"), dir.join("access.log.1")).unwrap();
            files.reopen();
            tracing::info!(target: "torsion_web::access", "second line");
        });
        let access = std::fs::read_to_string(dir.join("access.log.1")).unwrap();
        assert_eq!(
            access,
            "127.0.0.1 - - [x] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"\n"
        );
        let reopened = std::fs::read_to_string(dir.join("access.log")).unwrap();
        assert_eq!(reopened, "second line\n");
        let main = std::fs::read_to_string(dir.join("main.log")).unwrap();
        assert!(
            main.contains("WARN torsiond::test: something else"),
            "{main}"
        );
        assert!(!main.contains("GET /"), "{main}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_filter_is_reported() {
        let config = LogConfig {
            file: None,
            format: LogFormat::Text,
            filter: Some("torsion=loud".into()),
            access_log: None,
        };
        let error = subscriber(&config).err().unwrap();
        assert!(error.starts_with("log filter \"torsion=loud\""), "{error}");
    }
}
