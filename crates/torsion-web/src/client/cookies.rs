//! Cookies for the client (RFC 6265): a [`CookieJar`] and [`CookieAgent`], which stores
//! what servers set and sends it back where it belongs (Twisted's `CookieAgent`, treq's
//! `cookies=`). Off unless asked for.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use torsion_web::client::{CookieJar, Url};
//!
//! let jar = CookieJar::new();
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let login: Url = "http://shop.example/account/login".parse().unwrap();
//! jar.store(&login, b"session=abc; Path=/account; HttpOnly", now);
//! jar.store(&login, b"lang=en; Domain=shop.example; Max-Age=60", now);
//!
//! let page: Url = "http://www.shop.example/account/orders".parse().unwrap();
//! // `session` was host-only and `lang` was for the whole domain.
//! assert_eq!(jar.header_for(&page, false, now).as_deref(), Some("lang=en"));
//! let orders: Url = "http://shop.example/account/orders".parse().unwrap();
//! assert_eq!(jar.header_for(&orders, false, now).as_deref(), Some("session=abc; lang=en"));
//! // A minute later `lang` has expired.
//! let later = now + Duration::from_secs(61);
//! assert_eq!(jar.header_for(&orders, false, later).as_deref(), Some("session=abc"));
//! ```
//!
//! What the jar follows (RFC 6265 §5): a cookie without `Domain` goes back only to the
//! host that set it; with `Domain`, to that domain and its subdomains, and only if the
//! host that set it lies within it (a host cannot set cookies for a sibling or for a
//! bare top-level name such as `com`; the jar has no public-suffix list, so
//! `co.uk`-style suffixes are not recognised). `Path` defaults to the directory of the
//! URL that set it, and matches on `/` boundaries. `Max-Age` wins over `Expires`
//! (which is read in all three HTTP date forms); a cookie in the past is deleted.
//! `Secure` cookies are sent only over a secure channel. Requests sent most specific
//! path first, then oldest first.
//!
//! Memory is bounded: a cookie's name and value over [`MAX_COOKIE_SIZE`] bytes are
//! refused, and past [`MAX_COOKIES_PER_DOMAIN`] or [`MAX_COOKIES`] the cookies that
//! expire soonest (or, without expiry, the oldest) are evicted. Time is passed in, so the
//! jar is tested with no clock; [`CookieAgent`] reads the system clock.

use std::cell::RefCell;
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use torsion::defer::Deferred;
use torsion::Failure;

use super::{Body, RequestHeaders, Requester, Response, Url};
use crate::http::parse_http_date;

/// The most bytes of name and value one cookie may have (RFC 6265 §6.1's minimum).
pub const MAX_COOKIE_SIZE: usize = 4096;
/// The most cookies kept for one domain.
pub const MAX_COOKIES_PER_DOMAIN: usize = 50;
/// The most cookies a jar keeps.
pub const MAX_COOKIES: usize = 3000;

/// Cookies received and to send; cheap to clone (clones share one jar).
#[derive(Clone, Default)]
pub struct CookieJar {
    inner: Rc<RefCell<Store>>,
}

#[derive(Default)]
struct Store {
    cookies: Vec<Stored>,
    /// Creation order for the cookies stored next.
    next_order: u64,
}

/// One cookie as stored (RFC 6265 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    name: String,
    value: String,
    /// Lower-case; the host that set it when `host_only`.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    http_only: bool,
    /// `None`: a session cookie, kept until the jar goes.
    expires: Option<SystemTime>,
    /// When it was first stored, in jar order (kept when a cookie is replaced).
    created: u64,
}

/// A cookie in the jar, as [`CookieJar::cookies`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The domain it is sent to (the host that set it, for a host-only cookie).
    pub domain: String,
    /// Whether it goes only to exactly `domain`, not its subdomains.
    pub host_only: bool,
    /// The path it is sent under.
    pub path: String,
    /// Whether it goes only over a secure channel.
    pub secure: bool,
    /// Whether the server asked scripts not to see it (kept for completeness).
    pub http_only: bool,
    /// When it expires; `None` for a session cookie.
    pub expires: Option<SystemTime>,
}

/// Why a `Set-Cookie` field was not stored.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieError {
    /// No `name=value` pair, or an empty name.
    Malformed,
    /// Name and value longer than [`MAX_COOKIE_SIZE`].
    TooLarge {
        /// Their length.
        len: usize,
    },
    /// A `Domain` the setting host is not within, or a bare top-level name.
    ForeignDomain {
        /// The domain asked for.
        domain: String,
        /// The host that asked.
        host: String,
    },
    /// Not valid UTF-8.
    NotText,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::Malformed => f.write_str("set-cookie refused: no name=value pair"),
            CookieError::TooLarge { len } => write!(
                f,
                "set-cookie refused: cookie too large: {len} bytes (max {MAX_COOKIE_SIZE})"
            ),
            CookieError::ForeignDomain { domain, host } => write!(
                f,
                "set-cookie refused: host {host} may not set cookies for domain {domain}"
            ),
            CookieError::NotText => f.write_str("set-cookie refused: not valid utf-8"),
        }
    }
}

impl std::error::Error for CookieError {}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// Stores what one `Set-Cookie` field value received from `url` at `now` asks for
    /// (a cookie dated in the past deletes the one it names).
    ///
    /// # Errors
    /// [`CookieError`] when the field is refused; the jar is then unchanged.
    pub fn store(&self, url: &Url, set_cookie: &[u8], now: SystemTime) -> Result<(), CookieError> {
        let text = std::str::from_utf8(set_cookie).map_err(|_| CookieError::NotText)?;
        let parsed = parse_set_cookie(text, now)?;
        let host = url.host();
        let (domain, host_only) = match parsed.domain {
            Some(domain) => {
                // A bare top-level name is refused unless it is the host itself
                // (`localhost` may set `Domain=localhost`).
                let too_wide = domain != host && !domain.contains('.');
                if !domain_matches(host, &domain) || too_wide {
                    return Err(CookieError::ForeignDomain {
                        domain,
                        host: host.to_owned(),
                    });
                }
                (domain, false)
            }
            None => (host.to_owned(), true),
        };
        let path = parsed.path.unwrap_or_else(|| default_path(url.target()));
        let mut store = self.inner.borrow_mut();
        let existing = store
            .cookies
            .iter()
            .position(|c| c.name == parsed.name && c.domain == domain && c.path == path);
        let created = match existing {
            Some(i) => store.cookies.remove(i).created,
            None => {
                store.next_order += 1;
                store.next_order
            }
        };
        if parsed.expires.is_some_and(|at| at <= now) {
            return Ok(()); // deleted (or never stored)
        }
        store.cookies.push(Stored {
            name: parsed.name,
            value: parsed.value,
            domain,
            host_only,
            path,
            secure: parsed.secure,
            http_only: parsed.http_only,
            expires: parsed.expires,
            created,
        });
        store.evict(now);
        Ok(())
    }

    /// The `Cookie` field value for a request to `url` at `now`, if any cookie applies;
    /// `secure` says whether the request goes over a secure channel (https).
    pub fn header_for(&self, url: &Url, secure: bool, now: SystemTime) -> Option<String> {
        let mut store = self.inner.borrow_mut();
        store.cookies.retain(|c| !c.expired(now));
        let path = url.target().split('?').next().unwrap_or("/");
        let mut matching: Vec<&Stored> = store
            .cookies
            .iter()
            .filter(|c| {
                let domain_ok = if c.host_only {
                    url.host() == c.domain
                } else {
                    domain_matches(url.host(), &c.domain)
                };
                domain_ok && path_matches(path, &c.path) && (secure || !c.secure)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        // RFC 6265 §5.4 step 2: longer paths first, then earlier creation.
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        let pairs: Vec<String> = matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        Some(pairs.join("; "))
    }

    /// Every cookie in the jar that has not expired at `now`, oldest first.
    pub fn cookies(&self, now: SystemTime) -> Vec<Cookie> {
        let mut store = self.inner.borrow_mut();
        store.cookies.retain(|c| !c.expired(now));
        let mut cookies: Vec<&Stored> = store.cookies.iter().collect();
        cookies.sort_by_key(|c| c.created);
        cookies
            .into_iter()
            .map(|c| Cookie {
                name: c.name.clone(),
                value: c.value.clone(),
                domain: c.domain.clone(),
                host_only: c.host_only,
                path: c.path.clone(),
                secure: c.secure,
                http_only: c.http_only,
                expires: c.expires,
            })
            .collect()
    }

    /// Forgets every cookie.
    pub fn clear(&self) {
        self.inner.borrow_mut().cookies.clear();
    }
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("cookies", &self.inner.borrow().cookies.len())
            .finish()
    }
}

impl Stored {
    fn expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

impl Store {
    /// Keeps the jar within its limits, evicting the cookies that expire soonest (session
    /// cookies last), oldest first among equals.
    fn evict(&mut self, now: SystemTime) {
        self.cookies.retain(|c| !c.expired(now));
        let Some(newest) = self.cookies.last() else {
            return;
        };
        let domain = newest.domain.clone();
        let in_domain = self.cookies.iter().filter(|c| c.domain == domain).count();
        if in_domain > MAX_COOKIES_PER_DOMAIN {
            self.evict_one(|c| c.domain == domain);
        }
        if self.cookies.len() > MAX_COOKIES {
            self.evict_one(|_| true);
        }
    }

    fn evict_one(&mut self, candidate: impl Fn(&Stored) -> bool) {
        let victim = self
            .cookies
            .iter()
            .enumerate()
            .filter(|(_, c)| candidate(c))
            .min_by_key(|(_, c)| (c.expires.is_none(), c.expires, c.created))
            .map(|(i, _)| i);
        if let Some(i) = victim {
            self.cookies.remove(i);
        }
    }
}

/// A `Set-Cookie` value read by RFC 6265 §5.2.
#[derive(Debug, PartialEq, Eq)]
struct SetCookie {
    name: String,
    value: String,
    domain: Option<String>,
    path: Option<String>,
    secure: bool,
    http_only: bool,
    expires: Option<SystemTime>,
}

fn parse_set_cookie(text: &str, now: SystemTime) -> Result<SetCookie, CookieError> {
    let mut parts = text.split(';');
    let pair = parts.next().unwrap_or_default();
    let (name, value) = pair.split_once('=').ok_or(CookieError::Malformed)?;
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() {
        return Err(CookieError::Malformed);
    }
    let len = name.len() + value.len();
    if len > MAX_COOKIE_SIZE {
        return Err(CookieError::TooLarge { len });
    }
    let mut cookie = SetCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        domain: None,
        path: None,
        secure: false,
        http_only: false,
        expires: None,
    };
    let mut max_age: Option<SystemTime> = None;
    for attribute in parts {
        let (key, value) = match attribute.split_once('=') {
            Some((key, value)) => (key.trim(), value.trim()),
            None => (attribute.trim(), ""),
        };
        match key.to_ascii_lowercase().as_str() {
            "expires" => {
                if let Some(at) = parse_http_date(value.as_bytes()) {
                    cookie.expires = Some(at);
                }
            }
            "max-age" => {
                if let Some(seconds) = parse_max_age(value) {
                    max_age = Some(if seconds <= 0 {
                        SystemTime::UNIX_EPOCH // the earliest time: expire at once
                    } else {
                        now.checked_add(Duration::from_secs(seconds.unsigned_abs()))
                            .unwrap_or(now + Duration::from_secs(u64::from(u32::MAX)))
                    });
                }
            }
            "domain" if !value.is_empty() => {
                let domain = value.strip_prefix('.').unwrap_or(value);
                cookie.domain = Some(domain.to_ascii_lowercase());
            }
            "path" if value.starts_with('/') => cookie.path = Some(value.to_owned()),
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            _ => {} // unknown attributes (SameSite, Partitioned, ...) are ignored
        }
    }
    if max_age.is_some() {
        cookie.expires = max_age; // Max-Age wins over Expires (§5.3 step 3)
    }
    Ok(cookie)
}

/// `Max-Age`'s value: an optional `-` then digits (§5.2.2); huge values saturate.
fn parse_max_age(value: &str) -> Option<i64> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// §5.1.3: `host` is `domain`, or a name (not an address) ending in `.domain`.
fn domain_matches(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    host.parse::<IpAddr>().is_err()
        && host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes().get(host.len() - domain.len() - 1) == Some(&b'.')
}

/// §5.1.4: the directory of the request path (`/a/b` -> `/a`; `/a` and `/` -> `/`).
fn default_path(target: &str) -> String {
    let path = target.split('?').next().unwrap_or("/");
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path.get(..i).unwrap_or("/").to_owned(),
    }
}

/// §5.1.4: `path` is `cookie_path`, or under it on a `/` boundary.
fn path_matches(path: &str, cookie_path: &str) -> bool {
    if path == cookie_path {
        return true;
    }
    path.starts_with(cookie_path)
        && (cookie_path.ends_with('/') || path.as_bytes().get(cookie_path.len()) == Some(&b'/'))
}

/// Wraps an agent to send the jar's cookies with each request and store the ones each
/// response sets (Twisted's `CookieAgent`). Put it under a
/// [`RedirectAgent`](super::RedirectAgent), so that every hop of a redirect chain sends
/// and stores cookies:
///
/// ```
/// use torsion::Reactor;
/// use torsion_web::client::{Agent, CookieAgent, CookieJar, HttpClient, RedirectAgent};
/// let reactor = Reactor::new().unwrap();
/// let jar = CookieJar::new();
/// let client = HttpClient::with_agent(RedirectAgent::new(CookieAgent::new(
///     Agent::new(&reactor),
///     jar.clone(),
/// )));
/// # let _ = client;
/// ```
///
/// A request that already carries a `Cookie` field is sent as it is. A `Set-Cookie` the
/// jar refuses is logged at debug level (target `torsion_web::client`) and ignored, as
/// browsers do.
#[derive(Debug, Clone)]
pub struct CookieAgent<A> {
    agent: Rc<A>,
    jar: CookieJar,
}

impl<A: Requester + 'static> CookieAgent<A> {
    /// Sends and stores `jar`'s cookies on `agent`'s requests.
    pub fn new(agent: A, jar: CookieJar) -> Self {
        CookieAgent {
            agent: Rc::new(agent),
            jar,
        }
    }

    /// The jar this agent uses.
    pub fn jar(&self) -> &CookieJar {
        &self.jar
    }
}

impl<A: Requester + 'static> Requester for CookieAgent<A> {
    fn request(
        &self,
        method: &str,
        url: &str,
        mut headers: RequestHeaders,
        body: Body,
    ) -> Deferred<Response> {
        let parsed: Url = match url.parse() {
            Ok(parsed) => parsed,
            Err(error) => return torsion::defer::fail(Failure::new(error)),
        };
        let secure = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if !headers.contains("cookie") {
            if let Some(cookies) = self.jar.header_for(&parsed, secure, SystemTime::now()) {
                headers.add("Cookie", cookies);
            }
        }
        let jar = self.jar.clone();
        self.agent
            .request(method, url, headers, body)
            .add_callback(move |response: Response| {
                let now = SystemTime::now();
                for value in response.headers().get_all("set-cookie") {
                    if let Err(error) = jar.store(response.url(), value, now) {
                        tracing::debug!(target: "torsion_web::client", "{}: {error}", response.url());
                    }
                }
                Ok::<_, Failure>(response)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn url(text: &str) -> Url {
        text.parse().unwrap()
    }

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn set_cookie_parses_by_rfc_6265_section_5_2() {
        let now = at(NOW);
        let cookie = parse_set_cookie(
            " id = a3fWa ; Expires=Wed, 21 Oct 2065 07:28:00 GMT; Secure; HttpOnly; \
             Domain=.Example.COM; Path=/docs; SameSite=Lax; Unknown",
            now,
        )
        .unwrap();
        assert_eq!(cookie.name, "id");
        assert_eq!(cookie.value, "a3fWa");
        assert_eq!(cookie.domain.as_deref(), Some("example.com"));
        assert_eq!(cookie.path.as_deref(), Some("/docs"));
        assert!(cookie.secure && cookie.http_only);
        assert_eq!(
            cookie.expires,
            parse_http_date(b"Wed, 21 Oct 2065 07:28:00 GMT")
        );

        // Max-Age wins over Expires, in either order; <= 0 expires at once.
        let both = parse_set_cookie(
            "a=1; Max-Age=10; Expires=Wed, 21 Oct 2065 07:28:00 GMT",
            now,
        );
        assert_eq!(both.unwrap().expires, Some(at(NOW + 10)));
        let zero = parse_set_cookie("a=1; Max-Age=0", now).unwrap();
        assert_eq!(zero.expires, Some(SystemTime::UNIX_EPOCH));
        let bad_age = parse_set_cookie("a=1; Max-Age=1x", now).unwrap();
        assert_eq!(bad_age.expires, None);
        let relative = parse_set_cookie("a=1; Path=docs; Domain=", now).unwrap();
        assert_eq!((relative.path, relative.domain), (None, None));
        let empty_value = parse_set_cookie("a=", now).unwrap();
        assert_eq!(empty_value.value, "");

        assert_eq!(
            parse_set_cookie("novalue", now),
            Err(CookieError::Malformed)
        );
        assert_eq!(parse_set_cookie("=x", now), Err(CookieError::Malformed));
        let huge = format!("a={}", "x".repeat(MAX_COOKIE_SIZE));
        assert_eq!(
            parse_set_cookie(&huge, now),
            Err(CookieError::TooLarge {
                len: MAX_COOKIE_SIZE + 1
            })
        );
    }

    #[test]
    fn domains_and_paths_match_as_rfc_6265_says() {
        assert!(domain_matches("example.com", "example.com"));
        assert!(domain_matches("www.example.com", "example.com"));
        assert!(!domain_matches("wwwexample.com", "example.com"));
        assert!(!domain_matches("example.com", "www.example.com"));
        assert!(!domain_matches("1.2.3.4", "2.3.4"));
        assert!(path_matches("/docs", "/docs"));
        assert!(path_matches("/docs/web", "/docs"));
        assert!(path_matches("/docs/web", "/docs/"));
        assert!(!path_matches("/docsets", "/docs"));
        assert!(!path_matches("/", "/docs"));
        assert_eq!(default_path("/a/b/c?x=/y"), "/a/b");
        assert_eq!(default_path("/a"), "/");
        assert_eq!(default_path("/"), "/");
    }

    #[test]
    fn hosts_cannot_set_cookies_for_other_domains() {
        let jar = CookieJar::new();
        let from = url("http://www.example.com/");
        let foreign = jar.store(&from, b"a=1; Domain=other.com", at(NOW));
        assert_eq!(
            foreign,
            Err(CookieError::ForeignDomain {
                domain: "other.com".into(),
                host: "www.example.com".into()
            })
        );
        let tld = jar.store(&url("http://example.com/"), b"a=1; Domain=com", at(NOW));
        assert!(matches!(tld, Err(CookieError::ForeignDomain { .. })));
        let child = jar.store(&from, b"a=1; Domain=sub.www.example.com", at(NOW));
        assert!(matches!(child, Err(CookieError::ForeignDomain { .. })));
        assert!(jar.cookies(at(NOW)).is_empty());
        // Its own host, named as a domain, is fine (and then covers subdomains).
        jar.store(&from, b"a=1; Domain=www.example.com", at(NOW))
            .unwrap();
        let sub = url("http://x.www.example.com/");
        assert_eq!(jar.header_for(&sub, false, at(NOW)).as_deref(), Some("a=1"));
    }

    #[test]
    fn cookies_are_replaced_deleted_ordered_and_kept_secure() {
        let jar = CookieJar::new();
        let site = url("http://example.com/app/page");
        let now = at(NOW);
        jar.store(&site, b"a=1", now).unwrap(); // path /app
        jar.store(&site, b"b=2; Path=/", now).unwrap();
        jar.store(&site, b"c=3; Path=/app/page", now).unwrap();
        jar.store(&site, b"s=4; Secure; Path=/", now).unwrap();
        let page = url("http://example.com/app/page");
        assert_eq!(
            jar.header_for(&page, false, now).as_deref(),
            Some("c=3; a=1; b=2"),
            "longest path first, then oldest"
        );
        assert_eq!(
            jar.header_for(&page, true, now).as_deref(),
            Some("c=3; a=1; b=2; s=4")
        );
        assert_eq!(
            jar.header_for(&url("http://example.com/other"), false, now)
                .as_deref(),
            Some("b=2")
        );
        // Replacing keeps the creation order; a date in the past deletes.
        jar.store(&site, b"a=new", now).unwrap();
        assert_eq!(
            jar.header_for(&page, false, now).as_deref(),
            Some("c=3; a=new; b=2")
        );
        jar.store(&site, b"a=gone; Expires=Sun, 06 Nov 1994 08:49:37 GMT", now)
            .unwrap();
        jar.store(&site, b"c=gone; Max-Age=-1; Path=/app/page", now)
            .unwrap();
        assert_eq!(jar.header_for(&page, false, now).as_deref(), Some("b=2"));
        assert_eq!(jar.cookies(now).len(), 2);
        jar.clear();
        assert_eq!(jar.header_for(&page, true, now), None);
    }

    #[test]
    fn the_jar_stays_within_its_limits() {
        let jar = CookieJar::new();
        let site = url("http://example.com/");
        let now = at(NOW);
        jar.store(&site, b"keep=1; Max-Age=100000", now).unwrap();
        jar.store(&site, b"soon=1; Max-Age=10", now).unwrap();
        for i in 0..MAX_COOKIES_PER_DOMAIN {
            let cookie = format!("c{i}=v; Max-Age=1000");
            jar.store(&site, cookie.as_bytes(), now).unwrap();
        }
        let names: Vec<String> = jar.cookies(now).into_iter().map(|c| c.name).collect();
        assert_eq!(names.len(), MAX_COOKIES_PER_DOMAIN);
        assert!(names.contains(&"keep".to_owned()), "{names:?}");
        assert!(
            !names.contains(&"soon".to_owned()),
            "the soonest to expire goes first"
        );
        for host in 0..(MAX_COOKIES / MAX_COOKIES_PER_DOMAIN + 5) {
            let from = url(&format!("http://h{host}.example/"));
            for i in 0..MAX_COOKIES_PER_DOMAIN {
                jar.store(&from, format!("c{i}=v").as_bytes(), now).unwrap();
            }
        }
        assert_eq!(jar.cookies(now).len(), MAX_COOKIES);
    }
}
