//! Which sockets systemd socket activation handed us (Twisted's `ListenFDs`), read from
//! `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` through a lookup function, so tests
//! pass a fake environment.
//!
//! ```
//! use torsion::endpoints::{Inherited, ListenFds};
//!
//! let env = |name: &str| match name {
//!     "LISTEN_PID" => Some("4242".to_owned()),
//!     "LISTEN_FDS" => Some("2".to_owned()),
//!     "LISTEN_FDNAMES" => Some("web:admin".to_owned()),
//!     _ => None,
//! };
//! let fds = ListenFds::from_env(env, 4242)?;
//! assert_eq!(fds.fds(), 3..5);
//! assert_eq!(fds.select(&Inherited::Name("admin".into()))?, 4);
//! # Ok::<(), torsion::endpoints::ActivationError>(())
//! ```
//!
//! This is the sans-IO half of `sd_listen_fds(3)`: it only reads the variables. Turning a
//! descriptor into a listener (and unsetting the variables so children do not inherit
//! them) belongs to the net layer. As systemd does, the descriptors are numbered from 3
//! and only count when `LISTEN_PID` names this process; unlike Twisted, which quietly
//! sees no sockets when the variables disagree, every inconsistency is an error that
//! says what was found.

use std::error::Error;
use std::fmt;
use std::ops::Range;

use super::grammar::decimal;
use super::parse::Inherited;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// The descriptors systemd passed to this process, and their names if it gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenFds {
    /// How many descriptors, from [`LISTEN_FDS_START`] on.
    count: i32,
    /// One name per descriptor, from `LISTEN_FDNAMES`; `None` when it is unset (systemd
    /// before version 227).
    names: Option<Vec<String>>,
}

impl ListenFds {
    /// Reads the activation variables through `lookup` (which returns a variable's value,
    /// or `None` when it is unset or not Unicode), for the process `pid`.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        pid: u32,
    ) -> Result<ListenFds, ActivationError> {
        let listen_pid =
            lookup("LISTEN_PID").ok_or(ActivationError::Unset { name: "LISTEN_PID" })?;
        let listen_pid = match decimal(&listen_pid).and_then(|n| u32::try_from(n).ok()) {
            Some(listen_pid) => listen_pid,
            None => {
                return Err(ActivationError::InvalidVariable {
                    name: "LISTEN_PID",
                    value: listen_pid,
                    expected: "a process id",
                })
            }
        };
        if listen_pid != pid {
            return Err(ActivationError::OtherProcess { listen_pid, pid });
        }
        let count = lookup("LISTEN_FDS").ok_or(ActivationError::Unset { name: "LISTEN_FDS" })?;
        let count = match decimal(&count).and_then(|n| i32::try_from(n).ok()) {
            Some(n) if n <= i32::MAX - LISTEN_FDS_START => n,
            _ => {
                return Err(ActivationError::InvalidVariable {
                    name: "LISTEN_FDS",
                    value: count,
                    expected: "a number of descriptors",
                })
            }
        };
        let names = match lookup("LISTEN_FDNAMES") {
            None => None,
            // An empty value names no descriptors; `split` would give one empty name.
            Some(names) if names.is_empty() => Some(Vec::new()),
            Some(names) => Some(names.split(':').map(str::to_owned).collect::<Vec<_>>()),
        };
        if let Some(names) = &names {
            if names.len() != count as usize {
                return Err(ActivationError::NameCount {
                    names: names.len(),
                    fds: count as usize,
                });
            }
        }
        Ok(ListenFds { count, names })
    }

    /// Reads this process's environment and pid.
    pub fn from_process() -> Result<ListenFds, ActivationError> {
        ListenFds::from_env(|name| std::env::var(name).ok(), std::process::id())
    }

    /// The passed descriptors, in order.
    pub fn fds(&self) -> Range<i32> {
        LISTEN_FDS_START..LISTEN_FDS_START + self.count
    }

    /// The descriptors' names, in order, if systemd gave them.
    pub fn names(&self) -> Option<&[String]> {
        self.names.as_deref()
    }

    /// The descriptor a `systemd:` endpoint's `index=` or `name=` picks.
    pub fn select(&self, socket: &Inherited) -> Result<i32, ActivationError> {
        match socket {
            Inherited::Index(index) => match i32::try_from(*index) {
                Ok(index) if index < self.count => Ok(LISTEN_FDS_START + index),
                _ => Err(ActivationError::IndexOutOfRange {
                    index: *index,
                    count: self.count as usize,
                }),
            },
            Inherited::Name(name) => {
                let position = self
                    .names
                    .iter()
                    .flatten()
                    .position(|candidate| candidate == name);
                match position.and_then(|at| i32::try_from(at).ok()) {
                    Some(at) => Ok(LISTEN_FDS_START + at),
                    None => Err(ActivationError::UnknownName {
                        name: name.clone(),
                        names: self.names.clone(),
                    }),
                }
            }
        }
    }
}

/// Why the inherited sockets could not be read or the one asked for is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationError {
    /// A variable systemd sets is missing: the process was not socket-activated.
    Unset {
        /// `LISTEN_PID` or `LISTEN_FDS`.
        name: &'static str,
    },
    /// A variable's value is malformed.
    InvalidVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The sockets were passed to another process (our parent, typically, which forked
    /// without unsetting the variables).
    OtherProcess {
        /// The pid in `LISTEN_PID`.
        listen_pid: u32,
        /// Ours.
        pid: u32,
    },
    /// `LISTEN_FDNAMES` and `LISTEN_FDS` disagree.
    NameCount {
        /// How many names.
        names: usize,
        /// How many descriptors.
        fds: usize,
    },
    /// `index=` is past the last passed socket.
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// How many sockets were passed.
        count: usize,
    },
    /// No passed socket has the `name=` asked for.
    UnknownName {
        /// The name asked for.
        name: String,
        /// The names systemd gave, if any.
        names: Option<Vec<String>>,
    },
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("systemd socket activation: ")?;
        match self {
            ActivationError::Unset { name } => {
                write!(
                    f,
                    "{name} is not set (not started by a systemd socket unit)"
                )
            }
            ActivationError::InvalidVariable {
                name,
                value,
                expected,
            } => write!(f, "{name}={value:?}: must be {expected}"),
            ActivationError::OtherProcess { listen_pid, pid } => {
                write!(f, "LISTEN_PID={listen_pid} is not this process (pid {pid})")
            }
            ActivationError::NameCount { names, fds } => {
                write!(f, "LISTEN_FDNAMES has {names} names for {fds} descriptors")
            }
            ActivationError::IndexOutOfRange { index, count } => {
                write!(f, "index {index} is out of range ({count} sockets passed)")
            }
            ActivationError::UnknownName { name, names: None } => {
                write!(f, "no socket named {name:?} (LISTEN_FDNAMES is not set)")
            }
            ActivationError::UnknownName {
                name,
                names: Some(names),
            } => write!(f, "no socket named {name:?} (passed: {})", names.join(", ")),
        }
    }
}

impl Error for ActivationError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake environment: `pairs` are the variables that are set.
    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn descriptors_start_at_three_and_carry_their_names() {
        let fds = ListenFds::from_env(
            env(&[
                ("LISTEN_PID", "7"),
                ("LISTEN_FDS", "3"),
                ("LISTEN_FDNAMES", "a:b:a"),
            ]),
            7,
        )
        .unwrap();
        assert_eq!(fds.fds(), 3..6);
        assert_eq!(fds.names().unwrap(), ["a", "b", "a"]);
        assert_eq!(fds.select(&Inherited::Index(2)), Ok(5));
        // A repeated name picks the first, as systemd's own lookup helpers do.
        assert_eq!(fds.select(&Inherited::Name("a".into())), Ok(3));
        assert_eq!(fds.select(&Inherited::Name("b".into())), Ok(4));
    }

    #[test]
    fn names_are_optional_and_zero_descriptors_is_valid() {
        let fds = ListenFds::from_env(env(&[("LISTEN_PID", "7"), ("LISTEN_FDS", "1")]), 7).unwrap();
        assert_eq!((fds.fds(), fds.names()), (3..4, None));
        assert_eq!(
            fds.select(&Inherited::Name("web".into()))
                .unwrap_err()
                .to_string(),
            "systemd socket activation: no socket named \"web\" (LISTEN_FDNAMES is not set)"
        );
        let none = env(&[
            ("LISTEN_PID", "7"),
            ("LISTEN_FDS", "0"),
            ("LISTEN_FDNAMES", ""),
        ]);
        let fds = ListenFds::from_env(none, 7).unwrap();
        assert_eq!((fds.fds().len(), fds.names()), (0, Some(&[][..])));
    }

    #[test]
    fn each_inconsistency_is_a_clear_error() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[],
                "systemd socket activation: LISTEN_PID is not set \
                 (not started by a systemd socket unit)",
            ),
            (
                &[("LISTEN_PID", "7")],
                "systemd socket activation: LISTEN_FDS is not set \
                 (not started by a systemd socket unit)",
            ),
            (
                &[("LISTEN_PID", "8"), ("LISTEN_FDS", "1")],
                "systemd socket activation: LISTEN_PID=8 is not this process (pid 7)",
            ),
            (
                &[("LISTEN_PID", " 7"), ("LISTEN_FDS", "1")],
                "systemd socket activation: LISTEN_PID=\" 7\": must be a process id",
            ),
            (
                &[("LISTEN_PID", "7"), ("LISTEN_FDS", "-1")],
                "systemd socket activation: LISTEN_FDS=\"-1\": must be a number of descriptors",
            ),
            (
                &[("LISTEN_PID", "7"), ("LISTEN_FDS", "2147483645")],
                "systemd socket activation: LISTEN_FDS=\"2147483645\": \
                 must be a number of descriptors",
            ),
            (
                &[
                    ("LISTEN_PID", "7"),
                    ("LISTEN_FDS", "2"),
                    ("LISTEN_FDNAMES", "web"),
                ],
                "systemd socket activation: LISTEN_FDNAMES has 1 names for 2 descriptors",
            ),
        ];
        for (pairs, message) in cases {
            let pairs = pairs.to_vec();
            let lookup = move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            };
            let err = ListenFds::from_env(lookup, 7).unwrap_err();
            assert_eq!(err.to_string(), *message);
        }
    }

    #[test]
    fn selecting_a_missing_socket_says_what_was_passed() {
        let fds = ListenFds::from_env(
            env(&[
                ("LISTEN_PID", "1"),
                ("LISTEN_FDS", "2"),
                ("LISTEN_FDNAMES", "web:admin"),
            ]),
            1,
        )
        .unwrap();
        assert_eq!(
            fds.select(&Inherited::Index(2)).unwrap_err().to_string(),
            "systemd socket activation: index 2 is out of range (2 sockets passed)"
        );
        assert_eq!(
            fds.select(&Inherited::Index(usize::MAX)).unwrap_err(),
            ActivationError::IndexOutOfRange {
                index: usize::MAX,
                count: 2
            }
        );
        assert_eq!(
            fds.select(&Inherited::Name("api".into()))
                .unwrap_err()
                .to_string(),
            "systemd socket activation: no socket named \"api\" (passed: web, admin)"
        );
    }
}
