//! HTTP/1.1 messages without sockets: heads read and written, bodies framed and unframed
//! (the sans-IO layer under Twisted's `twisted.web.http`).
//!
//! ```
//! use torsion_web::http::{Framing, Parsed, RequestParser, ResponseHeadWriter, Version};
//! let Ok(Parsed::Complete { value: request, .. }) =
//!     RequestParser::new().parse(b"GET /hello HTTP/1.1\r\nHost: a.example\r\n\r\n")
//! else {
//!     panic!("a whole, valid head")
//! };
//! let mut out = Vec::new();
//! let mut head = ResponseHeadWriter::new(&mut out, request.version(), 200);
//! head.header("Content-Type", "text/plain");
//! head.finish(Framing::Length(13), request.keep_alive()).unwrap();
//! out.extend_from_slice(b"Hello, world!");
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"));
//! assert_eq!(Version::Http11.as_str(), "HTTP/1.1");
//! ```
//!
//! Every piece is a plain struct: bytes in, values and bytes out, time passed in. None owns
//! a socket, a reactor or a clock; the server and client wrap them.
//!
//! | reading | writing |
//! |---|---|
//! | [`RequestParser`] → [`RequestHead`] | [`ResponseHeadWriter`] (+ [`DateCache`]) |
//! | [`ResponseParser`] → [`ResponseHead`] | [`RequestHeadWriter`] |
//! | [`BodyDecoder`] (over [`ChunkedDecoder`]) | [`encode_chunk`], [`chunk_header`], [`encode_last_chunk`] |
//!
//! One level up, [`ClientExchange`] is a client connection's state machine over these
//! pieces: requests out, response heads and bodies in, reuse decided, deadlines armed.
//!
//! Parsing is strict wherever framing is at stake (see [`head`] for the
//! rules and their RFC sections); writing refuses CR, LF and other control bytes in
//! anything it is given, so a head is sent whole and valid or not at all.

pub mod body;
pub mod chunked;
pub mod client_exchange;
pub mod conditional;
pub mod date;
pub mod head;
pub mod headers;
pub mod multipart;
pub mod request;
pub mod response;
pub mod response_head;
mod write;

pub use body::{BodyDecoder, BodyError, DEFAULT_MAX_BODY_SIZE};
pub use chunked::{
    chunk_header, encode_chunk, encode_last_chunk, ChunkHeader, ChunkedDecoder, ChunkedError,
    ChunkedLimits, CHUNK_END,
};
pub use client_exchange::{
    ClientAction, ClientExchange, ExchangeConfig, ExchangeError, Received,
    DEFAULT_CLIENT_IDLE_TIMEOUT,
};
pub use conditional::{
    evaluate_preconditions, EntityTag, InvalidEntityTag, Precondition, Validators,
};
pub use date::{format_http_date, parse_http_date, DateCache};
pub use head::{Framing, HeadError, HeadLimits, RequestHead, RequestParser};
pub use headers::Headers;
pub use multipart::{
    boundary_of, parse_form_data, FormPart, MultipartError, MultipartEvent, MultipartLimits,
    MultipartParser, MultipartStep, PartHead,
};
pub use request::{RequestBody, RequestHeadWriter};
pub use response::ResponseHeadWriter;
pub use response_head::{ResponseHead, ResponseParser};
pub(crate) use write::check_response_field;
pub use write::WriteError;

/// The protocol versions torsion speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0: connections close after each message unless both sides ask otherwise.
    Http10,
    /// HTTP/1.1: persistent connections, chunked bodies, `Host` required.
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`, as on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// What a parser made of the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole `value`, read from the first `consumed` bytes.
    Complete {
        /// What was parsed.
        value: T,
        /// How many bytes it took; the rest belongs to what follows.
        consumed: usize,
    },
    /// Not enough bytes yet: call again with more.
    Partial,
}

/// What a body decoder made of the bytes it was given. `consumed` counts the bytes to drop
/// from the front of the buffer before the next call, framing included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Body bytes, borrowed from the input (never copied, never empty).
    Data {
        /// The bytes.
        data: &'a [u8],
        /// Input used up to the end of `data`.
        consumed: usize,
    },
    /// Everything given was framing, or nothing was given: call again with more.
    Partial {
        /// Input used (all of it).
        consumed: usize,
    },
    /// The body is over; bytes after `consumed` belong to the next message.
    End {
        /// Input used up to the end of the body.
        consumed: usize,
    },
}
