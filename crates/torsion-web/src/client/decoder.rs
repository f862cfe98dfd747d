//! [`ContentDecoder`]: asks for gzip and undoes it (Twisted's `ContentDecoderAgent` with
//! `GzipDecoder`), with a limit on the decompressed size.
//!
//! ```
//! use torsion::Reactor;
//! use torsion_web::client::{Agent, ContentDecoder, RedirectAgent};
//! let reactor = Reactor::new().unwrap();
//! // Redirects followed, gzip undone, at most 1 MiB once decompressed.
//! let agent = RedirectAgent::new(ContentDecoder::new(Agent::new(&reactor)).with_max_size(1 << 20));
//! # let _ = agent;
//! ```
//!
//! Requests go out with `Accept-Encoding: gzip` unless they carry an `Accept-Encoding` of
//! their own. A response with `Content-Encoding: gzip` (or `x-gzip`) is decoded as its
//! body streams in: its readers see the decompressed bytes, and its headers lose
//! `Content-Encoding` and `Content-Length`, which describe the compressed body. Other
//! codings pass through untouched.
//!
//! Decompression is fed at most [`FEED_SIZE`] compressed bytes at a time and the output
//! is counted after each step, so a small "gzip bomb" fails with
//! [`RequestError::BodyTooLarge`] after about a mebibyte of work past the limit, never
//! after inflating all of it. A corrupt or truncated stream fails with
//! [`RequestError::Decoding`].

use std::{io::Write, rc::Rc};

use flate2::write::GzDecoder;
use torsion::defer::ok;
use torsion::{defer::Deferred, Failure};

use super::{Body, BodyConsumer, RequestError, RequestHeaders, Requester, Response};
use crate::http::{Headers, DEFAULT_MAX_BODY_SIZE};

/// The decompressed size allowed unless set otherwise: [`DEFAULT_MAX_BODY_SIZE`].
pub const DEFAULT_MAX_DECODED_SIZE: u64 = DEFAULT_MAX_BODY_SIZE;

/// Compressed bytes given to the decompressor at once (DEFLATE expands by at most about
/// 1032 to 1, so one step makes at most about 1 MiB).
pub const FEED_SIZE: usize = 1024;

/// Wraps an agent to ask for and undo gzip; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ContentDecoder<A> {
    agent: Rc<A>,
    max_size: u64,
}

impl<A: Requester + 'static> ContentDecoder<A> {
    /// Decodes the responses `agent` gets.
    pub fn new(agent: A) -> Self {
        ContentDecoder {
            agent: Rc::new(agent),
            max_size: DEFAULT_MAX_DECODED_SIZE,
        }
    }

    /// Fails a body that decompresses to more than `max` bytes.
    pub fn with_max_size(mut self, max: u64) -> Self {
        self.max_size = max;
        self
    }
}

impl<A: Requester + 'static> Requester for ContentDecoder<A> {
    fn request(
        &self,
        method: &str,
        url: &str,
        mut headers: RequestHeaders,
        body: Body,
    ) -> Deferred<Response> {
        if !headers.contains("accept-encoding") {
            headers.add("Accept-Encoding", "gzip");
        }
        let max = self.max_size;
        self.agent.request(method, url, headers, body).add_callback(
            move |mut response: Response| {
                let gzip = response.headers().get("content-encoding").is_some_and(|v| {
                    v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip")
                });
                if gzip {
                    let mut headers = Headers::new();
                    for (name, value) in response.headers().iter() {
                        let coded = name.eq_ignore_ascii_case("content-encoding")
                            || name.eq_ignore_ascii_case("content-length");
                        if !coded {
                            headers.push(name, value);
                        }
                    }
                    response.set_headers(headers);
                    response.wrap_body(move |inner| {
                        Box::new(Gunzip {
                            decoder: GzDecoder::new(Vec::new()),
                            inner,
                            total: 0,
                            max,
                        })
                    });
                }
                ok(response)
            },
        )
    }
}

/// Decompresses a body on its way to `inner`.
struct Gunzip {
    decoder: GzDecoder<Vec<u8>>,
    inner: Box<dyn BodyConsumer>,
    /// Decompressed bytes so far.
    total: u64,
    max: u64,
}

impl Gunzip {
    /// Hands on what the decompressor produced, counting it against the limit.
    fn flush(&mut self) -> Result<(), Failure> {
        let out = std::mem::take(self.decoder.get_mut());
        if out.is_empty() {
            return Ok(());
        }
        self.total += out.len() as u64;
        if self.total > self.max {
            return Err(Failure::new(RequestError::BodyTooLarge { max: self.max }));
        }
        self.inner.data(&out)
    }
}

fn decoding(error: std::io::Error) -> Failure {
    Failure::new(RequestError::Decoding {
        message: error.to_string(),
    })
}

impl BodyConsumer for Gunzip {
    fn data(&mut self, data: &[u8]) -> Result<(), Failure> {
        for piece in data.chunks(FEED_SIZE) {
            self.decoder.write_all(piece).map_err(decoding)?;
            self.flush()?;
        }
        Ok(())
    }

    fn end(mut self: Box<Self>, result: Result<(), Failure>) {
        let result = result.and_then(|()| {
            self.decoder.try_finish().map_err(decoding)?;
            self.flush()
        });
        self.inner.end(result);
    }
}
