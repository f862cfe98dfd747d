//! What `mail_poll`, `mail_poll_async` and `mail_poll_thread` share: their arguments, the sample mail they
//! deliver when no `--path` is given, and how they print what arrived.

use std::{
    fs, io,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use torsion::Reactor;

/// The lines of the sample mail.
pub const SAMPLE: &str = "From: glyph@example.com\nSubject: lunch?\nDeferreds at noon.\n";

/// How long after start the sample mail arrives.
pub const SAMPLE_DELAY: Duration = Duration::from_millis(1500);

/// The command line: `[--path FILE] [--interval SECONDS] [--timeout SECONDS]`.
#[derive(Debug, PartialEq)]
pub struct Args {
    pub path: Option<PathBuf>,
    pub interval: Duration,
    pub timeout: Option<Duration>,
}

pub const USAGE: &str = "[--path FILE] [--interval SECONDS] [--timeout SECONDS]";

/// What every mail poller starts with: its arguments, a reactor, and the mailbox to
/// watch (and the directory to remove after, for the sample one). On a problem, the
/// message is printed under `name` and the exit code to return comes back.
pub fn start(name: &str) -> Result<(Args, Reactor, PathBuf, Option<TempDir>), ExitCode> {
    let args = parse_args(std::env::args().skip(1)).map_err(|message| {
        eprintln!("{name}: {message}");
        eprintln!("usage: {name} {USAGE}");
        ExitCode::from(2)
    })?;
    let reactor = Reactor::new().map_err(|e| {
        eprintln!("{name}: {e}");
        ExitCode::FAILURE
    })?;
    let (path, cleanup) = mailbox(&args, &reactor).map_err(|e| {
        eprintln!("{name}: create a mailbox: {e}");
        ExitCode::FAILURE
    })?;
    Ok((args, reactor, path, cleanup))
}

/// Reads the arguments (`--name VALUE` or `--name=VALUE`).
pub fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        path: None,
        interval: Duration::from_secs(1),
        timeout: None,
    };
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if !matches!(name.as_str(), "--path" | "--interval" | "--timeout") {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("{name} needs a value")),
        };
        match name.as_str() {
            "--path" => parsed.path = Some(PathBuf::from(value)),
            "--interval" => parsed.interval = seconds(&name, &value)?,
            _ => parsed.timeout = Some(seconds(&name, &value)?),
        }
    }
    Ok(parsed)
}

fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    let n: f64 = value
        .parse()
        .map_err(|_| format!("{name} {value:?}: not a number of seconds"))?;
    Duration::try_from_secs_f64(n)
        .map_err(|_| format!("{name} {value:?}: must be zero or more seconds"))
}

/// Where to wait for mail. Without `--path`, a fresh temporary directory whose mail file
/// this program itself writes after [`SAMPLE_DELAY`], so the demo runs on its own; the
/// returned guard removes the directory.
pub fn mailbox(args: &Args, reactor: &Reactor) -> io::Result<(PathBuf, Option<TempDir>)> {
    if let Some(path) = &args.path {
        return Ok((path.clone(), None));
    }
    let dir = std::env::temp_dir().join(format!("torsion-mail-poll-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let path = dir.join("mail");
    reactor.call_later(SAMPLE_DELAY, {
        let path = path.clone();
        move || {
            if let Err(e) = deliver(&path) {
                eprintln!("deliver sample mail to {}: {e}", path.display());
            }
        }
    });
    Ok((path, Some(TempDir(dir))))
}

/// Writes the sample under another name and renames it: the poller never sees half a mail.
fn deliver(path: &Path) -> io::Result<()> {
    let partial = path.with_extension("partial");
    fs::write(&partial, SAMPLE)?;
    fs::rename(&partial, path)
}

/// Reads the mail's lines; the error names the file.
pub fn read_mail(path: &Path) -> io::Result<Vec<String>> {
    let text = fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("read mail {}: {e}", path.display())))?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// Prints what arrived.
pub fn print_mail(lines: &[String]) {
    println!("got mail: {} lines", lines.len());
    for line in lines {
        println!("{line}");
    }
}

/// Removes the sample's directory when dropped.
pub struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_parse_and_bad_ones_are_explained() {
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.path, None);
        assert_eq!(defaults.interval, Duration::from_secs(1));
        assert_eq!(defaults.timeout, None);
        let all = parse(&["--path", "/tmp/m", "--interval=0.5", "--timeout", "3"]).unwrap();
        assert_eq!(all.path, Some(PathBuf::from("/tmp/m")));
        assert_eq!(all.interval, Duration::from_millis(500));
        assert_eq!(all.timeout, Some(Duration::from_secs(3)));
        assert_eq!(
            parse(&["--timeout", "soon"]).unwrap_err(),
            "--timeout \"soon\": not a number of seconds"
        );
        assert_eq!(
            parse(&["--interval", "-1"]).unwrap_err(),
            "--interval \"-1\": must be zero or more seconds"
        );
        assert_eq!(parse(&["--path"]).unwrap_err(), "--path needs a value");
        assert_eq!(parse(&["-v"]).unwrap_err(), "unknown argument \"-v\"");
    }
}
