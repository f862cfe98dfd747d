//! Files and directories served from disk (Twisted's `twisted.web.static.File`).
//!
//! ```no_run
//! use std::rc::Rc;
//! use torsion_web::server::{File, Site};
//! # let reactor = torsion::Reactor::new().unwrap();
//! let files = File::new("/var/www").unwrap().with_directory_listing(true);
//! let site = Site::new(Rc::new(files), reactor.clone());
//! ```
//!
//! - **No escape from the root.** The path below the resource is taken segment by
//!   segment after percent-decoding: `..`, `.`, and segments holding `/`, `\` or NUL
//!   (`%2e%2e`, `%2f`) are refused with 404, and the file found is resolved
//!   (`canonicalize`) and must still lie under the root, so a symlink pointing out of it
//!   is refused too.
//! - **Directories** redirect to the path with a trailing `/`, then serve `index.html`
//!   if present, else a listing (names escaped) when enabled, else 403.
//! - **Conditional and partial requests.** `Last-Modified` on every file; a file not
//!   modified since `If-Modified-Since` is a 304. A single `Range: bytes=` range gets
//!   206 with `Content-Range`, an unsatisfiable one 416; several ranges, or a range
//!   that does not parse, get the whole file (RFC 9110 §14.2 lets a server ignore
//!   `Range`).
//! - **Flat memory.** A file up to 64 KiB leaves in one write with its head; a larger
//!   one is read 64 KiB at a time by a pull producer, asked for more only when the
//!   connection's write buffer has drained, so a 1 GB file costs one buffer.
//! - `Content-Type` from the extension (a small built-in table; unknown:
//!   `application/octet-stream`).

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use torsion::net::{Producer, PullProducer};
use torsion::Failure;

use super::html::escape;
use super::incoming_request::Request;
use super::resource::{error_render, not_found, Render, Resource};
use crate::http::{format_http_date, parse_http_date};

/// Files up to this size are read whole and sent with their head in one write.
const WHOLE_FILE_MAX: u64 = 64 * 1024;
/// What the producer reads per turn.
const CHUNK: usize = 64 * 1024;

/// A directory (or one file) served from disk; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct File {
    root: PathBuf,
    listing: bool,
}

impl File {
    /// Serves `root` (a directory or a file). The path is resolved now: links in it are
    /// followed once, here, and what lies below must stay under what it resolved to.
    ///
    /// # Errors
    /// The path does not exist or cannot be resolved.
    pub fn new(root: impl AsRef<Path>) -> io::Result<File> {
        let root = root.as_ref();
        let root = fs::canonicalize(root).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("static root {}: {error}", root.display()),
            )
        })?;
        Ok(File {
            root,
            listing: false,
        })
    }

    /// Lists directories without an `index.html` (off by default: 403).
    pub fn with_directory_listing(mut self, listing: bool) -> File {
        self.listing = listing;
        self
    }

    /// The file below the root that `segments` name, resolved; `None` if a segment is
    /// refused or the result lies outside the root.
    fn resolve(&self, segments: &[String]) -> Option<PathBuf> {
        let mut path = self.root.clone();
        let last = segments.len().saturating_sub(1);
        for (i, segment) in segments.iter().enumerate() {
            if segment.is_empty() {
                if i == last {
                    continue; // a trailing slash
                }
                return None;
            }
            let refused = segment == "." || segment == "..";
            if refused || segment.contains(['/', '\\', '\0']) {
                return None;
            }
            path.push(segment);
        }
        let resolved = fs::canonicalize(&path).ok()?;
        resolved.starts_with(&self.root).then_some(resolved)
    }
}

impl Resource for File {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        let segments = request.postpath();
        let Some(path) = self.resolve(&segments) else {
            return not_found(request);
        };
        let Ok(metadata) = fs::metadata(&path) else {
            return not_found(request);
        };
        if metadata.is_dir() {
            if !request.path().ends_with('/') {
                return request.redirect(&format!("{}/", request.path()));
            }
            let index = path.join("index.html");
            if index.is_file() {
                return serve_file(request, &index);
            }
            if self.listing {
                return list_directory(request, &path);
            }
            return error_render(request, 403, "Forbidden", "Directory listing is off.");
        }
        serve_file(request, &path)
    }
}

/// Answers with the file at `path` (whole, a range, 304 or 416).
fn serve_file(request: &Request, path: &Path) -> Render {
    let opened = fs::File::open(path).and_then(|file| {
        let metadata = file.metadata()?;
        Ok((file, metadata))
    });
    let Ok((mut file, metadata)) = opened else {
        return not_found(request);
    };
    let size = metadata.len();
    let modified = metadata.modified().ok().map(whole_seconds);
    request.set_header("Content-Type", content_type(path));
    request.set_header("Accept-Ranges", "bytes");
    if let Some(modified) = modified {
        let date = format_http_date(modified);
        request.set_header("Last-Modified", date.to_vec());
        let since = request
            .header("if-modified-since")
            .and_then(parse_http_date);
        if since.is_some_and(|since| modified <= since) {
            request.set_status(304);
            return Render::from("");
        }
    }
    let (start, length) = match request.header("range").map(|r| parse_range(r, size)) {
        None | Some(RangeAnswer::Whole) => (0, size),
        Some(RangeAnswer::Part { start, end }) => {
            request.set_status(206);
            request.set_header("Content-Range", format!("bytes {start}-{end}/{size}"));
            (start, end - start + 1)
        }
        Some(RangeAnswer::Unsatisfiable) => {
            request.set_header("Content-Range", format!("bytes */{size}"));
            return error_render(request, 416, "Range Not Satisfiable", "No such range.");
        }
    };
    if request.is_head() {
        request.set_content_length(length);
        request.finish();
        return Render::Later;
    }
    if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
        return not_found(request);
    }
    if length <= WHOLE_FILE_MAX {
        let mut body = Vec::with_capacity(length as usize); // at most 64 KiB
        return match file.take(length).read_to_end(&mut body) {
            Ok(_) if body.len() as u64 == length => Render::from(body),
            Ok(_) => error_render(request, 500, "Internal Server Error", "File changed."),
            Err(_) => error_render(request, 500, "Internal Server Error", "Read failed."),
        };
    }
    request.set_content_length(length);
    let producer = Rc::new(FileProducer {
        file: RefCell::new(file),
        remaining: Cell::new(length),
        request: request.clone(),
        done: Cell::new(false),
    });
    request.register_producer(Producer::Pull(producer));
    Render::Later
}

/// Sends a file 64 KiB at a time, each time the connection's buffer drains.
struct FileProducer {
    file: RefCell<fs::File>,
    remaining: Cell<u64>,
    request: Request,
    done: Cell<bool>,
}

impl PullProducer for FileProducer {
    fn resume_producing(&self) {
        if self.done.get() {
            return;
        }
        let want = self.remaining.get().min(CHUNK as u64) as usize; // at most CHUNK
        let mut chunk = vec![0; want];
        let read = self.file.borrow_mut().read(&mut chunk);
        match read {
            Ok(n) if n > 0 => {
                self.request.write(chunk.get(..n).unwrap_or_default());
                self.remaining.set(self.remaining.get() - n as u64); // n <= remaining
                if self.remaining.get() == 0 {
                    self.done.set(true);
                    self.request.unregister_producer();
                    self.request.finish();
                }
            }
            Ok(_) | Err(_) => {
                self.done.set(true);
                self.request.unregister_producer();
                let error = match read {
                    Err(error) => error,
                    Ok(_) => io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"),
                };
                self.request.fail(&Failure::new(error));
            }
        }
    }

    fn stop_producing(&self) {
        self.done.set(true);
    }
}

/// What a `Range` field asks of a file of some size.
#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    /// Ignore it: send everything.
    Whole,
    /// Send bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// 416.
    Unsatisfiable,
}

/// Reads `bytes=first-last`, `bytes=first-` or `bytes=-suffix` (one range only).
fn parse_range(value: &[u8], size: u64) -> RangeAnswer {
    let Some(spec) = value.strip_prefix(b"bytes=") else {
        return RangeAnswer::Whole;
    };
    let Ok(spec) = std::str::from_utf8(spec) else {
        return RangeAnswer::Whole;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAnswer::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    if first.is_empty() {
        return match number(last) {
            Some(suffix) if suffix > 0 && size > 0 => RangeAnswer::Part {
                start: size.saturating_sub(suffix),
                end: size - 1,
            },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        };
    }
    let Some(start) = number(first) else {
        return RangeAnswer::Whole;
    };
    let end = match (last.is_empty(), number(last)) {
        (true, _) => u64::MAX,
        (false, Some(end)) => end,
        (false, None) => return RangeAnswer::Whole,
    };
    if end < start {
        RangeAnswer::Whole // `5-3` is invalid: ignored
    } else if start >= size {
        RangeAnswer::Unsatisfiable
    } else {
        RangeAnswer::Part {
            start,
            end: end.min(size - 1),
        }
    }
}

/// A modification time cut to whole seconds, as HTTP dates carry.
fn whole_seconds(time: SystemTime) -> SystemTime {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// An HTML listing of `dir`, names escaped and links percent-encoded.
fn list_directory(request: &Request, dir: &Path) -> Render {
    let Ok(entries) = fs::read_dir(dir) else {
        return error_render(request, 403, "Forbidden", "The directory cannot be read.");
    };
    let mut names: Vec<(String, bool)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            (entry.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    names.sort();
    let title = escape(&String::from_utf8_lossy(&super::path::percent_decode(
        request.path(),
    )));
    let mut page = format!(
        "<html>\n  <head><title>Index of {title}</title></head>\n  <body>\n    \
         <h1>Index of {title}</h1>\n    <ul>\n"
    );
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        // Writing to a String cannot fail.
        let _ = writeln!(
            page,
            "      <li><a href=\"{}{slash}\">{}{slash}</a></li>",
            escape(&percent_encode(&name)),
            escape(&name)
        );
    }
    page.push_str("    </ul>\n  </body>\n</html>\n");
    request.set_header("Content-Type", "text/html; charset=utf-8");
    Render::from(page)
}

/// `name` with every byte outside RFC 3986's unreserved set percent-encoded.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The content type for `path`'s extension.
fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "text") => "text/plain; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("csv") => "text/csv; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        Some("tar") => "application/x-tar",
        Some("wasm") => "application/wasm",
        Some("mp4") => "video/mp4",
        Some("mp3") => "audio/mpeg",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

impl fmt::Debug for FileProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileProducer")
            .field("remaining", &self.remaining.get())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        use RangeAnswer::*;
        let table: &[(&[u8], u64, RangeAnswer)] = &[
            (b"bytes=0-4", 10, Part { start: 0, end: 4 }),
            (b"bytes=5-", 10, Part { start: 5, end: 9 }),
            (b"bytes=-3", 10, Part { start: 7, end: 9 }),
            (b"bytes=-30", 10, Part { start: 0, end: 9 }),
            (b"bytes=8-100", 10, Part { start: 8, end: 9 }),
            (b"bytes=10-", 10, Unsatisfiable),
            (b"bytes=-0", 10, Unsatisfiable),
            (b"bytes=0-1,3-4", 10, Whole),
            (b"bytes=5-3", 10, Whole),
            (b"bytes=+1-2", 10, Whole),
            (b"bytes=a-b", 10, Whole),
            (b"items=0-1", 10, Whole),
            (b"bytes=0-", 0, Unsatisfiable),
        ];
        for (value, size, expected) in table {
            assert_eq!(parse_range(value, *size), *expected, "{value:?}");
        }
    }

    #[test]
    fn names_are_encoded_for_links() {
        assert_eq!(percent_encode("a b\"<x>.txt"), "a%20b%22%3Cx%3E.txt");
        assert_eq!(
            content_type(Path::new("x/INDEX.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
    }
}
