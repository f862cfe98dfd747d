//! What a site serves: the [`Resource`] tree and what rendering returns (Twisted's
//! `twisted.web.resource`).
//!
//! ```
//! use std::rc::Rc;
//! use torsion_web::server::{FnResource, Render, Request, Resource, Tree};
//!
//! struct Hello;
//! impl Resource for Hello {
//!     fn render(&self, request: &Request) -> Render {
//!         request.set_header("Content-Type", "text/plain");
//!         Render::from("Hello, world!")
//!     }
//! }
//!
//! let root = Tree::new();
//! root.put_child("hello", Rc::new(Hello));
//! root.put_child("echo", Rc::new(FnResource::new(|r: &Request| Render::from(r.body().to_vec()))
//!     .with_methods(&["POST"])));
//! ```
//!
//! A request's path is walked one segment at a time from the root, as Twisted's
//! `getChildForRequest` does: `/a/b` asks the root for child `a`, then that for `b`, and
//! renders the last one; `/` asks the root for child `""`. A resource that says
//! [`is_leaf`](Resource::is_leaf) stops the walk and renders the rest of the path itself
//! ([`Request::postpath`]). A missing child is a 404 and a method the resource does not
//! list in [`allowed_methods`](Resource::allowed_methods) a 405 with `Allow`: both are
//! decided from the head alone, before any body is read.
//!
//! [`render`](Resource::render) returns the whole body ([`Render::Body`]), a [`Deferred`]
//! of it ([`Render::Deferred`]; async code gives one through the reactor's
//! `ensure_deferred`), or [`Render::Later`] when the resource streams with
//! [`Request::write`] and [`Request::finish`] (Twisted's `NOT_DONE_YET`). A panic in
//! `get_child` or `render`, or a failed Deferred, answers 500 for that request only.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use torsion::Deferred;

use super::html::error_page;
use super::incoming_request::Request;

/// Something a site serves at a path (Twisted's `IResource`).
pub trait Resource: 'static {
    /// The child named `name` (one path segment, percent-decoded), or `None` for a 404.
    /// The request's body has not been read yet.
    fn get_child(&self, name: &str, request: &Request) -> Option<Rc<dyn Resource>> {
        let _ = (name, request);
        None
    }

    /// True if this resource renders every path below it itself: the walk stops here.
    fn is_leaf(&self) -> bool {
        false
    }

    /// The methods [`render`](Resource::render) handles; others get 405 with `Allow`.
    /// `HEAD` is allowed wherever `GET` is: it renders as GET, and the body is dropped.
    fn allowed_methods(&self) -> &[&'static str] {
        &["GET", "HEAD"]
    }

    /// The largest request body this resource accepts (413 above it); `None` for the
    /// site's [`ServerConfig::max_body_size`](super::ServerConfig::max_body_size).
    fn max_body_size(&self) -> Option<u64> {
        None
    }

    /// Answers `request`: set the status and headers on it, and return the body.
    fn render(&self, request: &Request) -> Render;
}

/// A response body: borrowed for `'static` bytes, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(pub Cow<'static, [u8]>);

/// What [`Resource::render`] returns.
#[non_exhaustive]
pub enum Render {
    /// The whole body: sent with `Content-Length`, and the request is finished.
    Body(Body),
    /// A body that arrives later; a failure answers 500.
    Deferred(Deferred<Body>),
    /// The resource writes the body itself, with [`Request::write`] and ends it with
    /// [`Request::finish`] (Twisted's `NOT_DONE_YET`).
    Later,
}

impl Render {
    /// A body that a Deferred (or an async block given to `ensure_deferred`) delivers.
    pub fn deferred<B: Into<Body> + 'static>(body: Deferred<B>) -> Render {
        Render::Deferred(body.add_callback(|b| Ok(b.into())))
    }
}

impl fmt::Debug for Render {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Render::Body(body) => write!(f, "Render::Body({} bytes)", body.0.len()),
            Render::Deferred(_) => f.write_str("Render::Deferred(..)"),
            Render::Later => f.write_str("Render::Later"),
        }
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Body {
        Body(Cow::Borrowed(text.as_bytes()))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body(Cow::Owned(text.into_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body(Cow::Owned(bytes))
    }
}

impl<B: Into<Body>> From<B> for Render {
    fn from(body: B) -> Render {
        Render::Body(body.into())
    }
}

/// A resource that only holds children, put in by name (Twisted's plain `Resource` with
/// `putChild`). Rendered itself, it is a 404, unless a child named `""` answers for it
/// when the path ends with `/`.
#[derive(Default)]
pub struct Tree {
    children: RefCell<HashMap<String, Rc<dyn Resource>>>,
}

impl Tree {
    /// A tree with no children.
    pub fn new() -> Rc<Tree> {
        Rc::new(Tree::default())
    }

    /// Serves `child` at `name` below this tree (Twisted's `putChild`); `""` answers for
    /// the tree's own path with a trailing `/`.
    pub fn put_child(&self, name: &str, child: Rc<dyn Resource>) {
        self.children.borrow_mut().insert(name.to_owned(), child);
    }
}

impl Resource for Tree {
    fn get_child(&self, name: &str, _: &Request) -> Option<Rc<dyn Resource>> {
        self.children.borrow().get(name).cloned()
    }

    fn render(&self, request: &Request) -> Render {
        not_found(request)
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let children = self.children.borrow();
        let mut names: Vec<&String> = children.keys().collect();
        names.sort();
        f.debug_struct("Tree").field("children", &names).finish()
    }
}

/// A leaf resource made of a closure, for the methods given (`GET` and `HEAD` unless
/// [`with_methods`](FnResource::with_methods) says otherwise).
pub struct FnResource<F> {
    render: F,
    methods: Vec<&'static str>,
}

impl<F: Fn(&Request) -> Render + 'static> FnResource<F> {
    /// A resource that renders with `render`.
    pub fn new(render: F) -> FnResource<F> {
        FnResource {
            render,
            methods: vec!["GET", "HEAD"],
        }
    }

    /// Answers these methods instead (`HEAD` follows `GET`).
    pub fn with_methods(mut self, methods: &[&'static str]) -> FnResource<F> {
        self.methods = methods.to_vec();
        self
    }
}

impl<F: Fn(&Request) -> Render + 'static> Resource for FnResource<F> {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[&'static str] {
        &self.methods
    }

    fn render(&self, request: &Request) -> Render {
        (self.render)(request)
    }
}

impl<F> fmt::Debug for FnResource<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnResource")
            .field("methods", &self.methods)
            .finish()
    }
}

/// Answers 404 with the server's page (Twisted's `NoResource`); the path is not echoed.
pub fn not_found(request: &Request) -> Render {
    error_render(request, 404, "No Such Resource", "No such child resource.")
}

/// Sets `status`, an HTML content type, and returns the escaped page.
pub(crate) fn error_render(request: &Request, status: u16, title: &str, detail: &str) -> Render {
    request.set_status(status);
    request.set_header("Content-Type", "text/html; charset=utf-8");
    Render::from(error_page(status, title, detail))
}

/// True if `method` is allowed by `allowed` (HEAD wherever GET is).
pub(crate) fn method_allowed(allowed: &[&str], method: &str) -> bool {
    allowed.contains(&method) || (method == "HEAD" && allowed.contains(&"GET"))
}

/// The `Allow` value for `allowed`: HEAD added after GET when missing.
pub(crate) fn allow_value(allowed: &[&str]) -> String {
    let mut methods: Vec<&str> = allowed.to_vec();
    if methods.contains(&"GET") && !methods.contains(&"HEAD") {
        methods.push("HEAD");
    }
    methods.join(", ")
}

/// Sets a 204 with `Allow` (OPTIONS added) for an `OPTIONS` request the resource does not
/// answer itself.
pub(crate) fn answer_options(request: &Request, allowed: &[&'static str]) {
    let allow = match allow_value(allowed) {
        none if none.is_empty() => "OPTIONS".to_owned(),
        some => format!("{some}, OPTIONS"),
    };
    request.set_header("Allow", allow);
    request.set_status(204);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_follows_get_in_allow() {
        assert!(method_allowed(&["GET"], "HEAD"));
        assert!(!method_allowed(&["POST"], "HEAD"));
        assert!(!method_allowed(&["GET"], "get"));
        assert_eq!(allow_value(&["GET", "POST"]), "GET, POST, HEAD");
        assert_eq!(allow_value(&["PUT"]), "PUT");
    }
}
