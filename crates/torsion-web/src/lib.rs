//! torsion-web: HTTP/1.1 for torsion (Twisted's `twisted.web`, and a treq-like client).
//!
//! - [`server`]: a tree of resources served over torsion's TCP or Unix transports
//!   (Twisted's `Site` and `Resource`), static files, access logs;
//! - [`client`]: `Agent` with a connection pool, `RedirectAgent`, `ContentDecoder` (gzip),
//!   and treq's `get`/`post`/`put`/`delete` returning Deferreds;
//! - [`http`]: the sans-IO message layer under both sides: strict head parsers built on
//!   `httparse`, body decoders for every framing, and writers that refuse to send an
//!   invalid head.
//!
//! Fetching a URL (treq's `get`), with the body read whole:
//!
//! ```no_run
//! use torsion::{defer::ok, task::react};
//! use torsion_web::client::{get, Response};
//! react(|reactor| {
//!     get(reactor, "http://127.0.0.1:8080/")
//!         .add_callback(|response: Response| response.text())
//!         .add_callback(|text: String| ok(println!("{text}")))
//! });
//! ```
//!
//! Serving: a site whose `/hello` answers `Hello, world!` (give the site to `listen_tcp`
//! with the reactor; `examples/hello_server.rs` does):
//!
//! ```
//! use std::rc::Rc;
//! use torsion::testing::Clock;
//! use torsion_web::server::{FnResource, Render, Request, Site, Tree};
//! let root = Tree::new();
//! root.put_child("hello", Rc::new(FnResource::new(|request: &Request| {
//!     request.set_header("Content-Type", "text/plain");
//!     Render::from("Hello, world!")
//! })));
//! let site = Site::new(root, Clock::new());
//! assert_eq!(site.config().head_timeout, Some(std::time::Duration::from_secs(30)));
//! ```
//!
//! Under both lies the sans-IO message layer, [`http`]. A request head parsed and a
//! response written, with no socket in sight:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use torsion_web::http::{DateCache, Framing, Parsed, RequestParser, ResponseHeadWriter};
//!
//! let mut parser = RequestParser::new();
//! let received = b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n";
//! let Ok(Parsed::Complete { value: request, consumed }) = parser.parse(received) else {
//!     panic!("a whole, valid head");
//! };
//! assert_eq!((request.method(), request.target(), consumed), ("GET", "/hello", received.len()));
//!
//! let mut dates = DateCache::new();
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
//! let mut out = Vec::new();
//! let mut head = ResponseHeadWriter::new(&mut out, request.version(), 200);
//! head.header("Content-Type", "text/plain").date(&mut dates, now);
//! head.finish(Framing::Length(13), request.keep_alive()).expect("valid fields");
//! out.extend_from_slice(b"Hello, world!");
//! assert_eq!(
//!     out,
//!     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
//!       Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 13\r\n\r\nHello, world!"
//! );
//! ```
//!
//! The client ([`client::Agent`]) and the server ([`server::Site`]) wrap these cores in
//! torsion protocols; see [`http`] for the pieces and their rules.
#![forbid(unsafe_code)]

pub mod client;
pub mod http;
pub mod server;
