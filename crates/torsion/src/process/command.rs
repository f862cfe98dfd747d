//! [`Command`]: what to run and how (the arguments of Twisted's `spawnProcess`:
//! executable, args, env, path, uid, gid, usePTY, childFDs).

use std::{
    collections::BTreeMap,
    env,
    ffi::{CString, OsStr, OsString},
    os::{
        fd::OwnedFd,
        unix::ffi::{OsStrExt, OsStringExt},
    },
    path::{Path, PathBuf},
    rc::Rc,
};

/// The environment variable that picks how children are reaped when a [`Command`] says
/// [`Reaper::Auto`]: `sigchld` forces the SIGCHLD fallback, `pidfd` (the default) uses a
/// pidfd where the kernel has one.
pub const REAPER_ENV: &str = "TORSION_PROCESS_REAPER";

/// A program to run, its arguments, environment, directory and descriptors.
///
/// ```
/// use torsion::process::{ChildFd, Command};
/// let command = Command::new("sh")
///     .args(["-c", "echo out; echo err >&2"])
///     .env("LANG", "C")
///     .current_dir("/")
///     .child_fd(3, ChildFd::Read); // an extra output pipe, as fd 3 in the child
/// assert_eq!(command.program(), "sh");
/// ```
#[derive(Clone, Debug)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// Start from an empty environment instead of the parent's.
    clear_env: bool,
    /// Variables set (`Some`) or removed (`None`) on top of it.
    env_changes: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    child_fds: BTreeMap<i32, ChildFd>,
    uid: Option<u32>,
    gid: Option<u32>,
    use_pty: bool,
    reaper: Reaper,
}

/// What a descriptor of the child is connected to (a value of Twisted's `childFDs`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ChildFd {
    /// A pipe the child reads and we write (Twisted's `"w"`): stdin's default.
    Write,
    /// A pipe the child writes and we read (Twisted's `"r"`): stdout's and stderr's
    /// default; its data reaches
    /// [`child_data_received`](super::ProcessProtocol::child_data_received).
    Read,
    /// A descriptor of ours, shared with the child (Twisted's integer values).
    Inherit(Rc<OwnedFd>),
    /// Closed in the child.
    Closed,
}

/// How the reactor learns that a child exited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reaper {
    /// A pidfd where the kernel has one (Linux 5.3+), unless [`REAPER_ENV`] says
    /// `sigchld`; the SIGCHLD fallback otherwise.
    #[default]
    Auto,
    /// A pidfd, registered with the reactor like any descriptor; the SIGCHLD fallback
    /// when the kernel has none.
    Pidfd,
    /// SIGCHLD through the reactor's signal handling, then `waitpid(pid, WNOHANG)` for
    /// each child this reactor started (never `waitpid(-1)`, so children started
    /// elsewhere keep their status).
    Sigchld,
}

impl Reaper {
    /// `Auto` made concrete with the value of [`REAPER_ENV`]: `sigchld` forces the
    /// fallback; anything else (or nothing) means a pidfd where the kernel has one.
    fn resolve(self, env: Option<&OsStr>) -> Reaper {
        match self {
            Reaper::Auto if env == Some(OsStr::new("sigchld")) => Reaper::Sigchld,
            Reaper::Auto => Reaper::Pidfd,
            other => other,
        }
    }
}

impl Command {
    /// Runs `program`: a path when it holds a `/`, otherwise looked up in the `PATH` of
    /// the child's environment (the parent's when the command does not set one).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        let mut child_fds = BTreeMap::new();
        child_fds.insert(0, ChildFd::Write);
        child_fds.insert(1, ChildFd::Read);
        child_fds.insert(2, ChildFd::Read);
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            clear_env: false,
            env_changes: BTreeMap::new(),
            cwd: None,
            child_fds,
            uid: None,
            gid: None,
            use_pty: false,
            reaper: Reaper::Auto,
        }
    }

    /// Adds an argument (after the program name, which is `argv[0]`).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.env_changes
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.env_changes.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child's environment empty instead of from the parent's (Twisted's
    /// default `env={}`); variables set with [`env`](Self::env) are still passed.
    pub fn env_clear(mut self) -> Command {
        self.clear_env = true;
        self.env_changes.retain(|_, v| v.is_some());
        self
    }

    /// Runs the child in `dir` (Twisted's `path`).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Connects the child's descriptor `child_fd` (Twisted's `childFDs`). Descriptors 0,
    /// 1 and 2 default to `Write`, `Read`, `Read`; other numbers are closed in the child
    /// unless mapped here. Ignored with [`use_pty`](Self::use_pty).
    pub fn child_fd(mut self, child_fd: i32, fd: ChildFd) -> Command {
        if child_fd >= 0 {
            self.child_fds.insert(child_fd, fd);
        }
        self
    }

    /// Runs the child as user `uid` (needs the privilege to switch).
    pub fn uid(mut self, uid: u32) -> Command {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` (needs the privilege to switch).
    pub fn gid(mut self, gid: u32) -> Command {
        self.gid = Some(gid);
        self
    }

    /// Runs the child in a new session on a pseudo-terminal (Twisted's `usePTY`): its
    /// stdin, stdout and stderr are the terminal, for programs that behave differently
    /// on one. Its output arrives as descriptor 1; writes go to its input; the terminal
    /// turns `\n` into `\r\n`.
    pub fn use_pty(mut self, use_pty: bool) -> Command {
        self.use_pty = use_pty;
        self
    }

    /// Chooses how the child is reaped.
    pub fn reaper(mut self, reaper: Reaper) -> Command {
        self.reaper = reaper;
        self
    }

    /// The program, as given.
    pub fn program(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    pub(crate) fn descriptors(&self) -> &BTreeMap<i32, ChildFd> {
        &self.child_fds
    }

    pub(crate) fn pty(&self) -> bool {
        self.use_pty
    }

    pub(crate) fn ids(&self) -> (Option<u32>, Option<u32>) {
        (self.uid, self.gid)
    }

    /// The reaper after [`REAPER_ENV`] was read for `Auto`.
    pub(crate) fn chosen_reaper(&self) -> Reaper {
        self.reaper.resolve(env::var_os(REAPER_ENV).as_deref())
    }

    /// The child's environment as `NAME=value` strings.
    pub(crate) fn environment(&self) -> Vec<(OsString, OsString)> {
        let mut vars: BTreeMap<OsString, OsString> = if self.clear_env {
            BTreeMap::new()
        } else {
            env::vars_os().collect()
        };
        for (key, value) in &self.env_changes {
            match value {
                Some(v) => vars.insert(key.clone(), v.clone()),
                None => vars.remove(key),
            };
        }
        vars.into_iter().collect()
    }

    /// `argv`, the working directory and the environment as C strings.
    pub(crate) fn c_strings(&self) -> Result<CStrings, &'static str> {
        let c = |s: &OsStr, what| CString::new(s.as_bytes()).map_err(|_| what);
        let mut args = vec![c(&self.program, "program name")?];
        for arg in &self.args {
            args.push(c(arg, "argument")?);
        }
        // Unchanged: the parent's variables straight into C strings, no map in between.
        let vars: Box<dyn Iterator<Item = (OsString, OsString)>> =
            if !self.clear_env && self.env_changes.is_empty() {
                Box::new(env::vars_os())
            } else {
                Box::new(self.environment().into_iter())
            };
        let env = vars
            .map(|(k, v)| {
                let mut entry = k.into_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                CString::new(entry).map_err(|_| "environment entry")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cwd = match &self.cwd {
            Some(dir) => Some(c(dir.as_os_str(), "working directory")?),
            None => None,
        };
        Ok(CStrings { args, env, cwd })
    }

    /// The program's path: itself when it holds a `/`, else the first executable file of
    /// that name in the child's `PATH`. `None`: not found.
    pub(crate) fn resolve(&self) -> Option<PathBuf> {
        let program = Path::new(&self.program);
        if self.program.as_bytes().contains(&b'/') {
            return Some(program.to_owned());
        }
        if self.program.is_empty() {
            return None;
        }
        let path = match self.env_changes.get(OsStr::new("PATH")) {
            Some(set) => set.clone(),
            None if self.clear_env => None,
            None => env::var_os("PATH"),
        }
        .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
    }

    /// Whether the program is a bare name to look up in the parent's own `PATH` (the
    /// command leaves `PATH` alone), which `posix_spawnp` does by itself.
    pub(crate) fn searches_parent_path(&self) -> bool {
        !self.program.is_empty()
            && !self.program.as_bytes().contains(&b'/')
            && !self.clear_env
            && !self.env_changes.contains_key(OsStr::new("PATH"))
    }

    /// Whether the child needs nothing set up that `posix_spawn` cannot do alone.
    pub(crate) fn is_simple(&self) -> bool {
        self.uid.is_none() && self.gid.is_none() && self.cwd.is_none() && !self.use_pty
    }
}

/// The C strings a child needs, made before the fork.
pub(crate) struct CStrings {
    pub(crate) args: Vec<CString>,
    pub(crate) env: Vec<CString>,
    pub(crate) cwd: Option<CString>,
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_switch_forces_sigchld_only_for_auto() {
        let sigchld = Some(OsStr::new("sigchld"));
        assert_eq!(Reaper::Auto.resolve(sigchld), Reaper::Sigchld);
        assert_eq!(Reaper::Auto.resolve(None), Reaper::Pidfd);
        assert_eq!(
            Reaper::Auto.resolve(Some(OsStr::new("pidfd"))),
            Reaper::Pidfd
        );
        assert_eq!(Reaper::Pidfd.resolve(sigchld), Reaper::Pidfd);
        assert_eq!(Reaper::Sigchld.resolve(None), Reaper::Sigchld);
    }

    #[test]
    fn programs_are_looked_up_in_the_path_the_child_gets() {
        let sh = Command::new("sh").env("PATH", "/nonexistent:/bin:/usr/bin");
        assert!(sh.resolve().is_some_and(|p| p.ends_with("sh")));
        assert!(!sh.searches_parent_path());
        assert!(Command::new("sh")
            .env("PATH", "/nonexistent")
            .resolve()
            .is_none());
        assert!(Command::new("nosuchprog").resolve().is_none());
        assert_eq!(
            Command::new("./x").resolve(),
            Some(PathBuf::from("./x")),
            "a path is not looked up"
        );
        assert!(Command::new("sh").searches_parent_path());
        assert!(!Command::new("sh").env_clear().searches_parent_path());
        assert!(!Command::new("/bin/sh").searches_parent_path());
    }

    #[test]
    fn nul_bytes_are_refused_before_anything_starts() {
        assert_eq!(
            Command::new("sh").arg("a\0b").c_strings().err(),
            Some("argument")
        );
        assert_eq!(
            Command::new("sh").env("K", "v\0").c_strings().err(),
            Some("environment entry")
        );
    }
}
