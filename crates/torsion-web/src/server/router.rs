//! Routes by method and path pattern, as Klein and axum give them: a [`Router`] is a
//! [`Resource`] that sends each request to the handler of the route its method and path
//! match, with the path's parameters typed.
//!
//! ```
//! use std::rc::Rc;
//! use torsion_web::server::{HttpError, Params, Render, Request, Router, Site, Tree};
//!
//! let router = Router::new()
//!     .get("/", |_: &Request, _: &Params| Render::from("home"))
//!     .get("/users/{id}", |_: &Request, params: &Params| -> Result<Render, HttpError> {
//!         let id: u64 = params.get("id")?; // not a number: 400 naming `id`
//!         Ok(Render::from(format!("user {id}")))
//!     })
//!     .post("/users/{id}/photos", |request: &Request, _: &Params| {
//!         Render::from(format!("{} bytes stored", request.body().len()))
//!     })
//!     .get("/files/{*path}", |_: &Request, params: &Params| {
//!         Render::from(format!("file {}", params.raw("path").unwrap_or_default()))
//!     })
//!     .mount("/legacy", Tree::new());
//! # let reactor = torsion::Reactor::new().unwrap();
//! let site = Site::new(Rc::new(router), reactor.clone());
//! ```
//!
//! **Patterns** are `/`-separated segments: a literal (`users`), a parameter (`{id}`,
//! one whole segment, percent-decoded), or, last, a catch-all (`{*rest}`, the rest of the
//! path, possibly empty, its segments joined with `/`). A trailing `/` is a segment of its own: `/users/` and
//! `/users` are two routes. Where several routes could match, a literal beats a parameter
//! and a parameter beats a catch-all, segment by segment, whatever the order the routes
//! were added in. Two parameters of different names at the same place, or the same
//! method twice on one pattern, are conflicts: adding the second panics (a programming
//! error, found at start-up; [`Router::try_route`] returns it as an error instead).
//!
//! **Matching** walks a tree compiled from the patterns, one hash lookup per segment, so a
//! router of a thousand routes answers in about the time of one of ten.
//!
//! **Answers the router gives itself:** 404 when no pattern matches; 405 with `Allow`
//! (the methods of the routes of that path) when one does but not for this method; HEAD
//! wherever GET is, its body dropped. A [mounted](Router::mount) resource (a
//! [`File`](super::File) tree, another router) renders everything below its prefix,
//! walked as a site walks its tree.
//!
//! Handlers take the request and the [`Params`] and return what [`Resource::render`]
//! returns ([`Render`]: a body, a Deferred, or [`Render::Later`]), or a
//! `Result<Render, HttpError>` so that `?` turns a bad parameter into its 400.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;

use super::incoming_request::Request;
use super::path::percent_decode;
use super::resource::{
    allow_value, answer_options, error_render, method_allowed, not_found, Render, Resource,
};

/// Every method a router lets through to its own matching (its routes decide 405).
const ALL_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
];

/// A [`Resource`] that routes by method and path pattern; see the [module docs](self).
#[derive(Default)]
pub struct Router {
    root: Node,
    /// The most bytes of body any route accepts, when set per router.
    max_body_size: Option<u64>,
}

/// One segment position in the compiled tree.
#[derive(Default)]
struct Node {
    /// Literal segments, by their decoded text.
    literals: HashMap<String, Node>,
    /// `{name}` here, and what follows it.
    param: Option<(String, Box<Node>)>,
    /// `{*name}` here: the rest of the path.
    catch_all: Option<(String, Route)>,
    /// Routes whose pattern ends at this node.
    route: Option<Route>,
}

/// What a pattern leads to: handlers by method, or a mounted resource.
#[derive(Default)]
struct Route {
    handlers: Vec<(&'static str, Rc<dyn Handler>)>,
    mount: Option<Rc<dyn Resource>>,
    /// The pattern, for conflict messages.
    pattern: String,
}

/// A route handler: any `Fn(&Request, &Params) -> R` where `R` is [`Render`] or
/// `Result<Render, HttpError>`.
pub trait Handler {
    /// Answers `request`, whose path matched with `params`.
    fn call(&self, request: &Request, params: &Params) -> Render;
}

impl<F, R> Handler for F
where
    F: Fn(&Request, &Params) -> R,
    R: IntoRender,
{
    fn call(&self, request: &Request, params: &Params) -> Render {
        self(request, params).into_render(request)
    }
}

/// What a handler may return: a [`Render`], or a `Result` whose error answers the request.
pub trait IntoRender {
    /// The render for `request`.
    fn into_render(self, request: &Request) -> Render;
}

impl IntoRender for Render {
    fn into_render(self, _: &Request) -> Render {
        self
    }
}

impl<E: Into<HttpError>> IntoRender for Result<Render, E> {
    fn into_render(self, request: &Request) -> Render {
        match self {
            Ok(render) => render,
            Err(error) => error.into().into_render(request),
        }
    }
}

/// An error a handler answers with: a status and a message for the error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status (4xx or 5xx).
    pub status: u16,
    /// What went wrong, shown escaped on the page.
    pub message: String,
}

impl HttpError {
    /// An error answering `status` with `message`.
    pub fn new(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpError {}

impl IntoRender for HttpError {
    fn into_render(self, request: &Request) -> Render {
        let title = crate::http::response_head_writer::reason_phrase(self.status);
        error_render(request, self.status, title, &self.message)
    }
}

/// A path parameter that is missing or does not parse as the type asked for: a 400 that
/// names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter's name.
    pub name: String,
    /// Why: `missing`, or the type that did not parse.
    pub expected: &'static str,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.expected == "present" {
            write!(f, "path parameter {:?} is missing", self.name)
        } else {
            write!(
                f,
                "path parameter {:?} is not a valid {}",
                self.name, self.expected
            )
        }
    }
}

impl std::error::Error for ParamError {}

impl From<ParamError> for HttpError {
    fn from(error: ParamError) -> HttpError {
        HttpError::new(400, error.to_string())
    }
}

/// The parameters a request's path matched, percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: Vec<(String, String)>,
}

impl Params {
    /// The parameter `name` parsed as `T` (`u64`, `String`, `Uuid`, ... any `FromStr`).
    ///
    /// # Errors
    /// [`ParamError`] naming the parameter when it is missing or does not parse; with
    /// `?` in a handler returning `Result<Render, HttpError>`, a 400.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<T, ParamError> {
        let expected = std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("value");
        let Some(raw) = self.raw(name) else {
            return Err(ParamError {
                name: name.to_owned(),
                expected: "present",
            });
        };
        raw.parse().map_err(|_| ParamError {
            name: name.to_owned(),
            expected,
        })
    }

    /// The parameter `name` as text (a catch-all's segments joined with `/`).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Why a route cannot be added.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The pattern does not start with `/`, has an empty or unclosed `{}`, or a catch-all
    /// that is not last.
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another route already answers this method on this pattern, or names a parameter
    /// at the same place differently.
    Conflict {
        /// The pattern being added.
        pattern: String,
        /// The route it conflicts with.
        existing: String,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::InvalidPattern { pattern, reason } => {
                write!(f, "invalid route pattern {pattern:?}: {reason}")
            }
            RouteError::Conflict { pattern, existing } => {
                write!(f, "route {pattern:?} conflicts with {existing:?}")
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// One segment of a pattern.
enum Segment<'p> {
    Literal(String),
    Param(&'p str),
    CatchAll(&'p str),
}

impl Router {
    /// A router with no routes: every path is a 404.
    pub fn new() -> Router {
        Router::default()
    }

    /// Answers GET (and HEAD) on `pattern` with `handler`.
    ///
    /// # Panics
    /// On an invalid pattern or a conflict (see [`Router::try_route`]).
    pub fn get(self, pattern: &str, handler: impl Handler + 'static) -> Router {
        self.route(&["GET"], pattern, handler)
    }

    /// Answers POST on `pattern`. Panics as [`Router::get`] does.
    pub fn post(self, pattern: &str, handler: impl Handler + 'static) -> Router {
        self.route(&["POST"], pattern, handler)
    }

    /// Answers PUT on `pattern`. Panics as [`Router::get`] does.
    pub fn put(self, pattern: &str, handler: impl Handler + 'static) -> Router {
        self.route(&["PUT"], pattern, handler)
    }

    /// Answers DELETE on `pattern`. Panics as [`Router::get`] does.
    pub fn delete(self, pattern: &str, handler: impl Handler + 'static) -> Router {
        self.route(&["DELETE"], pattern, handler)
    }

    /// Answers PATCH on `pattern`. Panics as [`Router::get`] does.
    pub fn patch(self, pattern: &str, handler: impl Handler + 'static) -> Router {
        self.route(&["PATCH"], pattern, handler)
    }

    /// Answers `methods` on `pattern` with `handler`.
    ///
    /// # Panics
    /// On an invalid pattern or a conflict, with the [`RouteError`]'s message.
    pub fn route(
        mut self,
        methods: &[&'static str],
        pattern: &str,
        handler: impl Handler + 'static,
    ) -> Router {
        if let Err(error) = self.try_route(methods, pattern, handler) {
            panic!("{error}");
        }
        self
    }

    /// Renders every path under `prefix` with `resource` (a file tree, another router),
    /// walked from there as a site walks its tree.
    ///
    /// # Panics
    /// On an invalid prefix or one already mounted.
    pub fn mount(mut self, prefix: &str, resource: Rc<dyn Resource>) -> Router {
        if let Err(error) = self.try_mount(prefix, resource) {
            panic!("{error}");
        }
        self
    }

    /// Limits request bodies for every route to `max` bytes (413 above).
    pub fn with_max_body_size(mut self, max: u64) -> Router {
        self.max_body_size = Some(max);
        self
    }

    /// Adds a route, or says why it cannot be added.
    ///
    /// # Errors
    /// [`RouteError`]: an invalid pattern, or a conflict with a route already there.
    pub fn try_route(
        &mut self,
        methods: &[&'static str],
        pattern: &str,
        handler: impl Handler + 'static,
    ) -> Result<(), RouteError> {
        let handler: Rc<dyn Handler> = Rc::new(handler);
        let route = self.route_for(pattern)?;
        if route.mount.is_some() {
            return Err(conflict(pattern, &route.pattern));
        }
        for method in methods {
            if route.handlers.iter().any(|(m, _)| m == method) {
                return Err(conflict(pattern, &route.pattern));
            }
        }
        for method in methods {
            route.handlers.push((method, handler.clone()));
        }
        Ok(())
    }

    /// Mounts a resource, or says why it cannot be mounted.
    ///
    /// # Errors
    /// [`RouteError`]: an invalid prefix, or routes already at it.
    pub fn try_mount(
        &mut self,
        prefix: &str,
        resource: Rc<dyn Resource>,
    ) -> Result<(), RouteError> {
        let pattern = format!("{}/{{*}}", prefix.trim_end_matches('/'));
        let route = self.route_for(&pattern)?;
        if route.mount.is_some() || !route.handlers.is_empty() {
            return Err(conflict(prefix, &route.pattern));
        }
        route.mount = Some(resource);
        route.pattern = prefix.to_owned();
        Ok(())
    }

    /// The route `pattern` leads to, made if new.
    fn route_for(&mut self, pattern: &str) -> Result<&mut Route, RouteError> {
        let segments = parse_pattern(pattern)?;
        let mut node = &mut self.root;
        let count = segments.len();
        for (i, segment) in segments.into_iter().enumerate() {
            node = match segment {
                Segment::Literal(text) => node.literals.entry(text).or_default(),
                Segment::Param(name) => {
                    let (existing, next) = node
                        .param
                        .get_or_insert_with(|| (name.to_owned(), Box::default()));
                    if existing != name {
                        let existing = format!("{{{existing}}}");
                        return Err(conflict(pattern, &existing));
                    }
                    next
                }
                Segment::CatchAll(name) => {
                    debug_assert_eq!(i + 1, count, "parse_pattern puts a catch-all last");
                    let (existing, route) = node
                        .catch_all
                        .get_or_insert_with(|| (name.to_owned(), Route::default()));
                    if existing != name && !(name.is_empty() || existing.is_empty()) {
                        let existing = format!("{{*{existing}}}");
                        return Err(conflict(pattern, &existing));
                    }
                    if route.pattern.is_empty() {
                        route.pattern = pattern.to_owned();
                    }
                    return Ok(route);
                }
            };
        }
        let route = node.route.get_or_insert_with(Route::default);
        if route.pattern.is_empty() {
            route.pattern = pattern.to_owned();
        }
        Ok(route)
    }
}

/// Depth-first: literal, then parameter, then catch-all, backtracking on a dead end.
fn find_in<'r>(
    node: &'r Node,
    segments: &[String],
    at: usize,
    params: &mut Vec<(String, String)>,
) -> Option<(&'r Route, usize)> {
    let Some(segment) = segments.get(at) else {
        if let Some(route) = &node.route {
            return Some((route, at));
        }
        // A catch-all also takes an empty rest: a mount at `/static` answers `/static`.
        return node.catch_all.as_ref().map(|(name, route)| {
            if !name.is_empty() {
                params.push((name.clone(), String::new()));
            }
            (route, at)
        });
    };
    if let Some(next) = node.literals.get(segment) {
        if let Some(found) = find_in(next, segments, at + 1, params) {
            return Some(found);
        }
    }
    if let Some((name, next)) = &node.param {
        params.push((name.clone(), segment.clone()));
        if let Some(found) = find_in(next, segments, at + 1, params) {
            return Some(found);
        }
        params.pop();
    }
    if let Some((name, route)) = &node.catch_all {
        if !name.is_empty() {
            let rest = segments.get(at..).unwrap_or_default().join("/");
            params.push((name.clone(), rest));
        }
        return Some((route, at));
    }
    None
}

impl Resource for Router {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[&'static str] {
        ALL_METHODS // each route decides its own 405, with its own Allow
    }

    fn max_body_size(&self) -> Option<u64> {
        self.max_body_size
    }

    fn render(&self, request: &Request) -> Render {
        let mut segments = request.postpath();
        if segments.is_empty() {
            segments.push(String::new()); // mounted at `/name`, asked for `/name`: "/"
        }
        match self.dispatch(request.method(), &segments) {
            Dispatch::Handler(handler, params) => handler.call(request, &params),
            Dispatch::Mounted(resource, consumed) => render_mounted(resource, request, consumed),
            Dispatch::MethodNotAllowed(methods) if request.method() == "OPTIONS" => {
                answer_options(request, &methods);
                Render::from("")
            }
            Dispatch::MethodNotAllowed(methods) => {
                request.set_header("Allow", allow_value(&methods));
                error_render(request, 405, "Method Not Allowed", "Method not allowed.")
            }
            Dispatch::NotFound => not_found(request),
        }
    }
}

/// Where a request goes.
enum Dispatch<'r> {
    Handler(&'r dyn Handler, Params),
    Mounted(&'r Rc<dyn Resource>, usize),
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// What [`Router::lookup`] found for a method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// A route's handler answers, with these parameters.
    Route(Params),
    /// A mounted resource answers, below this many segments of the path.
    Mounted {
        /// The segments the mount's prefix took.
        consumed: usize,
    },
    /// The path has routes, but not for this method: 405 with these in `Allow`.
    MethodNotAllowed(Vec<&'static str>),
    /// No route: 404.
    NotFound,
}

impl Router {
    /// Where `method path` would go, without a request (for tests and tools): `path` is
    /// as on the request line, percent-encoded, without the query.
    pub fn lookup(&self, method: &str, path: &str) -> Lookup {
        let segments: Vec<String> = match path.strip_prefix('/') {
            Some(rest) => rest
                .split('/')
                .map(|raw| String::from_utf8_lossy(&percent_decode(raw)).into_owned())
                .collect(),
            None => return Lookup::NotFound,
        };
        match self.dispatch(method, &segments) {
            Dispatch::Handler(_, params) => Lookup::Route(params),
            Dispatch::Mounted(_, consumed) => Lookup::Mounted { consumed },
            Dispatch::MethodNotAllowed(methods) => Lookup::MethodNotAllowed(methods),
            Dispatch::NotFound => Lookup::NotFound,
        }
    }

    fn dispatch(&self, method: &str, segments: &[String]) -> Dispatch<'_> {
        let mut params = Vec::new();
        let Some((route, consumed)) = find_in(&self.root, segments, 0, &mut params) else {
            return Dispatch::NotFound;
        };
        if let Some(resource) = &route.mount {
            return Dispatch::Mounted(resource, consumed);
        }
        let handler = route
            .handlers
            .iter()
            .find(|(m, _)| *m == method)
            .or_else(|| match method {
                "HEAD" => route.handlers.iter().find(|(m, _)| *m == "GET"),
                _ => None,
            });
        match handler {
            Some((_, handler)) => Dispatch::Handler(&**handler, Params { values: params }),
            None => Dispatch::MethodNotAllowed(route.handlers.iter().map(|(m, _)| *m).collect()),
        }
    }
}

/// Renders a mounted resource: the prefix's segments are consumed, then the walk goes on
/// below it as a site's does.
fn render_mounted(resource: &Rc<dyn Resource>, request: &Request, consumed: usize) -> Render {
    for _ in 0..consumed {
        request.advance_prepath();
    }
    let mut resource = resource.clone();
    let below = request.postpath();
    let mut rest = below.iter();
    while !resource.is_leaf() {
        let Some(segment) = rest.next() else {
            break;
        };
        request.advance_prepath();
        match resource.get_child(segment, request) {
            Some(child) => resource = child,
            None => return not_found(request),
        }
    }
    let allowed = resource.allowed_methods();
    if !method_allowed(allowed, request.method()) {
        request.set_header("Allow", allow_value(allowed));
        return error_render(request, 405, "Method Not Allowed", "Method not allowed.");
    }
    resource.render(request)
}

/// Splits a pattern into segments, checking its syntax.
fn parse_pattern(pattern: &str) -> Result<Vec<Segment<'_>>, RouteError> {
    let invalid = |reason| RouteError::InvalidPattern {
        pattern: pattern.to_owned(),
        reason,
    };
    let Some(rest) = pattern.strip_prefix('/') else {
        return Err(invalid("it must start with '/'"));
    };
    let raw: Vec<&str> = rest.split('/').collect();
    let last = raw.len() - 1; // split yields at least one piece
    let mut segments = Vec::with_capacity(raw.len());
    for (i, piece) in raw.into_iter().enumerate() {
        let segment = if let Some(inner) = piece.strip_prefix('{') {
            let Some(name) = inner.strip_suffix('}') else {
                return Err(invalid("'{' without its '}' closing the segment"));
            };
            if let Some(name) = name.strip_prefix('*') {
                if i != last {
                    return Err(invalid("a catch-all {*name} must be the last segment"));
                }
                Segment::CatchAll(name)
            } else if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(invalid(
                    "a parameter needs a name of letters, digits and '_'",
                ));
            } else {
                Segment::Param(name)
            }
        } else if piece.contains(['{', '}']) {
            return Err(invalid("'{' and '}' may only wrap a whole segment"));
        } else {
            Segment::Literal(String::from_utf8_lossy(&percent_decode(piece)).into_owned())
        };
        segments.push(segment);
    }
    Ok(segments)
}

fn conflict(pattern: &str, existing: &str) -> RouteError {
    RouteError::Conflict {
        pattern: pattern.to_owned(),
        existing: existing.to_owned(),
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}
