//! torsion-web: HTTP/1.1 for torsion (Twisted's `twisted.web`, and a treq-like client).
//!
//! [`server`] serves a tree of resources (Twisted's `Site` and `Resource`); its docs
//! open with a server answering a request on an in-memory transport, and
//! `examples/hello_server.rs` is the same on a real port:
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
//! let site = Site::new(root, Clock::new()); // give it to listen_tcp with the reactor
//! assert_eq!(site.config().head_timeout, Some(std::time::Duration::from_secs(30)));
//! ```
//!
//! Under it lies the sans-IO message layer, [`http`]: strict head parsers built
//! on `httparse`, body decoders for every framing, and writers that refuse to send an
//! invalid head. A request head parsed and a response written, with no socket in sight:
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
//! The server wraps these cores in a torsion protocol; see [`http`] for the pieces and
//! their rules.
#![forbid(unsafe_code)]

pub mod http;
pub mod server;
