//! Endpoint strings: where a server listens and where a client connects, written as one
//! string (Twisted's `serverFromString` / `clientFromString` mini-language), parsed into
//! typed descriptions without any I/O, then listened on or connected to.
//!
//! ```
//! use torsion::endpoints::{ClientEndpoint, ServerEndpoint};
//!
//! let server: ServerEndpoint = "tcp:8080:interface=127.0.0.1".parse()?;
//! assert_eq!(server.to_string(), "tcp:8080:interface=127.0.0.1");
//! let client: ClientEndpoint = "tcp:host=example.com:port=80".parse()?;
//! assert_eq!(client.to_string(), "tcp:example.com:80");
//! let err = "tcp:80:backlog=x".parse::<ServerEndpoint>().unwrap_err();
//! assert_eq!(err.to_string(), "tcp:80:backlog=x: backlog must be a number");
//! # Ok::<(), torsion::endpoints::EndpointError>(())
//! ```
//!
//! # Grammar
//!
//! A string is its type, then `:`-separated arguments, each either positional or
//! `key=value`. Keywords are case-sensitive (`bindAddress`), types are not. A backslash
//! takes the next character literally: `\:` and `\=` put `:` and `=` in a value (an IPv6
//! interface is `interface=\:\:1`), `\\` a backslash. Inside a value `=` needs no escape.
//! A parameter may be given positionally or by keyword, never both.
//!
//! | string | meaning |
//! |---|---|
//! | `tcp:8080`, `tcp:port=8080:interface=127.0.0.1:backlog=128` | TCP server; all IPv4 interfaces by default |
//! | `tcp6:8080`, `tcp6:8080:interface=\:\:1` | TCP server; all IPv6 interfaces by default |
//! | `unix:/run/app.sock:mode=660:lockfile=0` | Unix server (`address=` or `path=` as keyword); mode is octal, default `666` |
//! | `systemd:domain=INET:index=0`, `systemd:domain=UNIX:name=web` | a socket passed by systemd socket activation ([`ListenFds`]) |
//! | `tcp:example.com:80`, `tcp:host=example.com:port=80:timeout=5:bindAddress=10.0.0.2` | TCP client; timeout default 30 s |
//! | `unix:/run/app.sock`, `unix:path=/run/app.sock:timeout=5:lockfile=1` | Unix client |
//! | `ssl:443:privateKey=key.pem`, `tls:example.com:443` | parsed, refused by [`ServerEndpoint::check_supported`] until TLS lands |
//!
//! Where torsion differs from Twisted, it is stricter: numbers are plain ASCII digits,
//! `lockfile` is `0` or `1`, a parameter given twice is an error (Twisted keeps one of
//! them), an empty argument between two colons is an error that points at unescaped
//! IPv6 colons (`tcp::80`; a trailing `:` is still ignored), a TCP server's interface
//! must be an IP address (no name lookup here), and a string is at most [`MAX_LENGTH`]
//! bytes. Every string `Display` writes is one Twisted reads to the same endpoint. A client timeout may have decimals
//! (`timeout=2.5`); Twisted only reads whole seconds.
//!
//! # Listening and connecting
//!
//! ```no_run
//! use torsion::{endpoints::{client_from_string, server_from_string}, protocols::wire::Echo, Reactor};
//! let reactor = Reactor::new().unwrap();
//! let port = server_from_string(&reactor, "unix:/run/echo.sock:mode=660")?
//!     .listen(Echo::factory()); // Deferred<ListeningPort>, fired at once
//! let connected = client_from_string(&reactor, "tcp:example.com:7")?
//!     .connect(Echo::factory()); // Deferred<Rc<dyn Transport>>
//! # Ok::<(), torsion::endpoints::EndpointError>(())
//! ```
//!
//! [`server_from_string`] gives a [`StreamServer`] whose `listen` fires with the
//! [`ListeningPort`](crate::net::ListeningPort) or a [`ServerError`] that starts with the
//! endpoint string. `systemd:` adopts a duplicate of the inherited descriptor after
//! checking that it is a listening stream socket of the family the string names. A Unix
//! server takes Twisted's `PATH.lock` PID lock (`lockfile=1`, the default): a stale lock
//! and the socket its dead owner left are replaced, a live one is refused.
//!
//! [`client_from_string`] gives a [`StreamClient`] whose `connect` fires with the
//! connection's [`Transport`](crate::net::Transport) once its protocol's
//! `connection_made` ran; Twisted fires with the protocol, which in Rust the factory
//! owns: share state through it, or use [`connect_protocol`] to get your protocol back
//! as `Rc<RefCell<P>>`. TCP goes through [`HostnameEndpoint`]: names are resolved on the
//! thread pool, the addresses raced (happy eyeballs, [`DEFAULT_ATTEMPT_DELAY`]), and a
//! failure ([`ClientError::Connect`]) names the host and every address tried.
//!
//! # Staying connected
//!
//! [`ClientService`] keeps one connection up through any [`StreamClientEndpoint`], with a
//! retry policy (`Fn(attempt) -> Duration`, default Twisted's [`backoff_policy`]) timed on
//! any [`ReactorTime`](crate::time::ReactorTime) clock. [`ReconnectingClientFactory`]
//! wraps a [`ClientFactory`](crate::net::ClientFactory) for `connect_tcp`/`connect_unix`
//! and reconnects its connector after the delays [`Backoff`] computes (Twisted's
//! `ReconnectingClientFactory` arithmetic, step for step).

mod backoff;
mod client;
mod error;
mod eyeballs;
mod grammar;
mod parse;
mod reconnect;
mod server;
mod service;
mod systemd;
mod values;
mod wrap;

pub use backoff::{
    Backoff, RandomSource, SplitMix64, DEFAULT_FACTOR, DEFAULT_INITIAL_DELAY, DEFAULT_JITTER,
    DEFAULT_MAX_DELAY,
};
pub use client::{
    client_from_string, connect_protocol, ClientError, HostnameEndpoint, NameResolver,
    StreamClient, StreamClientEndpoint,
};
pub use error::EndpointError;
pub use eyeballs::{interleave, DEFAULT_ATTEMPT_DELAY};
pub use parse::{
    ClientEndpoint, Domain, Inherited, ServerEndpoint, TlsDescription, TlsPrefix, DEFAULT_BACKLOG,
    DEFAULT_TIMEOUT, DEFAULT_UNIX_MODE,
};
pub use reconnect::ReconnectingClientFactory;
pub use server::{
    check_server_string, server_from_string, InheritedProblem, ServerCause, ServerError,
    StreamServer, StreamServerEndpoint, HAPROXY_PREFIX,
};
pub use service::{backoff_policy, default_retry_policy, ClientService, RetryPolicy};
pub use systemd::{ActivationError, ListenFds, LISTEN_FDS_START};

/// The longest endpoint string accepted, in bytes: far more than any real one needs,
/// and it bounds the memory a hostile config file can make the parser use.
pub const MAX_LENGTH: usize = 4096;

#[cfg(test)]
mod tests;
