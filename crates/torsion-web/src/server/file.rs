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
//! - **Hidden files stay hidden.** A segment starting with `.` (`.git`, `.env`,
//!   `.htpasswd`) is a 404 and is left out of listings, unless
//!   [`with_hidden_files`](File::with_hidden_files) says otherwise.
//! - **Conditional and partial requests** (RFC 9110 §13 and §14, evaluated by
//!   [`evaluate_preconditions`]). Every file carries a strong `ETag` (from its size,
//!   modification time to the nanosecond and inode) and `Last-Modified`.
//!   `If-None-Match` (or, without it, `If-Modified-Since`) answers 304 when the client's
//!   copy is current; `If-Match` and `If-Unmodified-Since` answer 412 when it is not. A
//!   single `Range: bytes=` range gets 206 with `Content-Range`, an unsatisfiable one
//!   416; several ranges, or a range that does not parse, get the whole file (RFC 9110
//!   §14.2 lets a server ignore `Range`). With `If-Range`, the range is sent only if the
//!   validator names the file as it is now; otherwise the whole file, with 200, so a
//!   resumed download of a changed file starts over instead of splicing two versions.
//! - **Flat memory.** A file up to 64 KiB leaves in one write with its head; a larger
//!   one is read 64 KiB at a time by a pull producer, asked for more only when the
//!   connection's write buffer has drained, so a 1 GB file costs one buffer.
//! - **Content types** from the extension, by the `mime_guess` crate's table (fonts,
//!   images such as avif and webp, audio and video, wasm, webmanifest, ...) with a few
//!   modern corrections (`.js` and `.mjs` are `text/javascript`, RFC 9239); text types
//!   say `charset=utf-8`. [`with_content_type`](File::with_content_type) overrides an
//!   extension (Twisted's `contentTypes`); unknown ones are `application/octet-stream`.
//! - **Names that are not UTF-8** are served and listed by their bytes: a listing's link
//!   percent-encodes the name's bytes, and the request's segment is decoded back to the
//!   same bytes.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use torsion::net::{Producer, PullProducer};
use torsion::Failure;

use super::html::escape;
use super::path::{percent_decode, raw_segments};
use super::request::Request;
use super::resource::{error_render, not_found, Render, Resource};
use crate::http::{evaluate_preconditions, format_http_date, EntityTag, Precondition, Validators};

/// Files up to this size are read whole and sent with their head in one write.
const WHOLE_FILE_MAX: u64 = 64 * 1024;
/// What the producer reads per turn.
const CHUNK: usize = 64 * 1024;

/// A directory (or one file) served from disk; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct File {
    root: PathBuf,
    listing: bool,
    hidden: bool,
    /// Content types by lowercase extension, set by [`File::with_content_type`]; looked
    /// at before the built-in table.
    types: Rc<Vec<(String, String)>>,
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
            hidden: false,
            types: Rc::new(Vec::new()),
        })
    }

    /// Lists directories without an `index.html` (off by default: 403).
    pub fn with_directory_listing(mut self, listing: bool) -> File {
        self.listing = listing;
        self
    }

    /// Serves and lists names starting with `.` (off by default: they are a 404 and left
    /// out of listings, so a `.git` or `.env` under the root is not published).
    pub fn with_hidden_files(mut self, hidden: bool) -> File {
        self.hidden = hidden;
        self
    }

    /// Serves files ending in `.extension` (any case, without the dot) as
    /// `content_type`, before the built-in table (Twisted's `File.contentTypes`):
    /// `File::new(dir)?.with_content_type("log", "text/plain; charset=utf-8")`.
    pub fn with_content_type(mut self, extension: &str, content_type: &str) -> File {
        let extension = extension.trim_start_matches('.').to_ascii_lowercase();
        let types = Rc::make_mut(&mut self.types);
        types.retain(|(known, _)| *known != extension);
        types.push((extension, content_type.to_owned()));
        self
    }

    /// The file below the root that the raw (percent-encoded) `segments` name, resolved;
    /// `None` if a segment is refused or the result lies outside the root.
    fn resolve<'a>(&self, segments: impl ExactSizeIterator<Item = &'a str>) -> Option<PathBuf> {
        let mut path = self.root.clone();
        let last = segments.len().saturating_sub(1);
        for (i, raw) in segments.enumerate() {
            let segment = percent_decode(raw);
            if segment.is_empty() {
                if i == last {
                    continue; // a trailing slash
                }
                return None;
            }
            let dots = segment == b"." || segment == b"..";
            let hidden = !self.hidden && segment.starts_with(b".");
            if dots || hidden || segment.iter().any(|b| b"/\\\0".contains(b)) {
                return None;
            }
            path.push(OsStr::from_bytes(&segment));
        }
        let resolved = fs::canonicalize(&path).ok()?;
        resolved.starts_with(&self.root).then_some(resolved)
    }

    /// The `Content-Type` for `path`: an override, else the built-in table.
    fn content_type(&self, path: &Path) -> Cow<'static, str> {
        let extension = path
            .extension()
            .and_then(OsStr::to_str)
            .map(str::to_ascii_lowercase);
        if let Some(extension) = &extension {
            if let Some((_, known)) = self.types.iter().find(|(e, _)| e == extension) {
                return Cow::Owned(known.clone());
            }
        }
        content_type(extension.as_deref())
    }
}

impl Resource for File {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        let taken = request.prepath().len();
        let path = request.path();
        let segments: Vec<&str> = raw_segments(path).skip(taken).collect();
        let Some(path) = self.resolve(segments.into_iter()) else {
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
                return self.serve_file(request, &index);
            }
            if self.listing {
                return list_directory(request, &path, self.hidden);
            }
            return error_render(request, 403, "Forbidden", "Directory listing is off.");
        }
        self.serve_file(request, &path)
    }
}

impl File {
    /// Answers with the file at `path`: whole, a range, 304, 412 or 416.
    fn serve_file(&self, request: &Request, path: &Path) -> Render {
        let opened = fs::File::open(path).and_then(|file| {
            let metadata = file.metadata()?;
            Ok((file, metadata))
        });
        let Ok((mut file, metadata)) = opened else {
            return not_found(request);
        };
        let size = metadata.len();
        let modified = metadata.modified().ok();
        let etag = file_etag(&metadata, modified);
        let last_modified = modified.map(whole_seconds);
        match self.content_type(path) {
            Cow::Borrowed(known) => request.set_header("Content-Type", known),
            Cow::Owned(text) => request.set_header("Content-Type", text),
        }
        request.set_header("Accept-Ranges", "bytes");
        request.set_header("ETag", etag.to_string());
        if let Some(last_modified) = last_modified {
            request.set_header("Last-Modified", format_http_date(last_modified).to_vec());
        }
        let validators = Validators {
            etag: Some(&etag),
            last_modified,
        };
        let honour_range =
            match evaluate_preconditions(request.method(), request.headers(), &validators) {
                Precondition::Proceed { honour_range } => honour_range,
                Precondition::NotModified => {
                    request.set_status(304);
                    return Render::from("");
                }
                Precondition::PreconditionFailed => {
                    let detail = "The file does not match the request's precondition.";
                    return error_render(request, 412, "Precondition Failed", detail);
                }
            };
        let range = match request.header("range") {
            Some(value) if honour_range => parse_range(value, size),
            _ => RangeAnswer::Whole,
        };
        let (start, length) = match range {
            RangeAnswer::Whole => (0, size),
            RangeAnswer::Part { start, end } => {
                request.set_status(206);
                request.set_header("Content-Range", format!("bytes {start}-{end}/{size}"));
                (start, end - start + 1)
            }
            RangeAnswer::Unsatisfiable => {
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
}

/// A strong entity tag for a file as it is now: its inode, size and modification time
/// to the nanosecond, so a file rewritten in place, replaced by a rename, or changed
/// twice within a second gets a new tag.
fn file_etag(metadata: &fs::Metadata, modified: Option<SystemTime>) -> EntityTag {
    let since_epoch = modified
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let opaque = format!(
        "{:x}-{:x}-{:x}.{:x}",
        metadata.ino(),
        metadata.len(),
        since_epoch.as_secs(),
        since_epoch.subsec_nanos()
    );
    // Invariant: hex digits, `-` and `.` are all entity-tag characters.
    EntityTag::strong(opaque).expect("hex digits, '-' and '.' make a valid entity tag")
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

/// An HTML listing of `dir`, names escaped and links percent-encoded from the names'
/// bytes (a name that is not UTF-8 is shown with U+FFFD but its link still works).
fn list_directory(request: &Request, dir: &Path, hidden: bool) -> Render {
    let Ok(entries) = fs::read_dir(dir) else {
        return error_render(request, 403, "Forbidden", "The directory cannot be read.");
    };
    let mut names: Vec<(Vec<u8>, bool)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            (entry.file_name().as_bytes().to_vec(), is_dir)
        })
        .filter(|(name, _)| hidden || !name.starts_with(b"."))
        .collect();
    names.sort();
    let title = escape(&String::from_utf8_lossy(&percent_decode(request.path())));
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
            escape(&String::from_utf8_lossy(&name))
        );
    }
    page.push_str("    </ul>\n  </body>\n</html>\n");
    request.set_header("Content-Type", "text/html; charset=utf-8");
    Render::from(page)
}

/// `name` with every byte outside RFC 3986's unreserved set percent-encoded.
fn percent_encode(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for &byte in name {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Types where `mime_guess`'s table is behind current practice.
const MODERN_TYPES: &[(&str, &str)] = &[
    ("js", "text/javascript"), // RFC 9239
    ("mjs", "text/javascript"),
    ("otf", "font/otf"), // RFC 8081
    ("ttf", "font/ttf"),
    ("woff", "font/woff"),
];

/// The content type for a (lowercase) extension, `charset=utf-8` added to text types.
fn content_type(extension: Option<&str>) -> Cow<'static, str> {
    let Some(extension) = extension else {
        return Cow::Borrowed("application/octet-stream");
    };
    let known = MODERN_TYPES
        .iter()
        .find(|(e, _)| *e == extension)
        .map(|(_, t)| *t)
        .or_else(|| mime_guess::from_ext(extension).first_raw());
    match known {
        Some(text) if text.starts_with("text/") => Cow::Owned(format!("{text}; charset=utf-8")),
        Some(other) => Cow::Borrowed(other),
        None => Cow::Borrowed("application/octet-stream"),
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
        assert_eq!(percent_encode(b"a b\"<x>.txt"), "a%20b%22%3Cx%3E.txt");
        assert_eq!(percent_encode(b"caf\xe9"), "caf%E9");
        let files = File::new(".").unwrap();
        assert_eq!(
            files.content_type(Path::new("x/INDEX.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            files.content_type(Path::new("x")),
            "application/octet-stream"
        );
    }

    #[test]
    fn content_types_cover_the_web_and_can_be_overridden() {
        let files = File::new(".")
            .unwrap()
            .with_content_type(".LOG", "text/plain; charset=utf-8")
            .with_content_type("png", "image/x-mine");
        let table = [
            ("a.css", "text/css; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.mjs", "text/javascript; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.wasm", "application/wasm"),
            ("a.webmanifest", "application/manifest+json"),
            ("a.avif", "image/avif"),
            ("a.webp", "image/webp"),
            ("a.svg", "image/svg+xml"),
            ("a.woff2", "font/woff2"),
            ("a.woff", "font/woff"),
            ("a.otf", "font/otf"),
            ("a.mp4", "video/mp4"),
            ("a.webm", "video/webm"),
            ("a.mp3", "audio/mpeg"),
            ("a.csv", "text/csv; charset=utf-8"),
            ("a.log", "text/plain; charset=utf-8"),
            ("a.png", "image/x-mine"),
            ("a.nosuchtype", "application/octet-stream"),
        ];
        for (name, expected) in table {
            assert_eq!(files.content_type(Path::new(name)), expected, "{name}");
        }
    }
}
