//! Plugins: a name, its options (clap), and the service tree it builds. The built-in
//! ones are `web`, `echo`, `finger`, `portforward` and `hello`.

mod portforward;

use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;

use clap::{ArgMatches, Args, Command, FromArgMatches};
use torsion::application::{listen_endpoint, ListenService, MultiService, Service};
use torsion::endpoints::{check_server_string, client_from_string, ClientEndpoint};
use torsion::net::ProtocolFactory;
use torsion::protocols::finger::Finger;
use torsion::protocols::wire::Echo;
use torsion::{Failure, Reactor};
use torsion_web::server::{File, Render, Request, Resource, Site};

pub use portforward::PortForward;

/// A command `torsiond` can run: `torsiond [global options] NAME [its options]`
/// (Twisted's `IServiceMaker`).
pub trait Plugin {
    /// The name on the command line.
    fn name(&self) -> &str;

    /// Its options, as a clap command named [`name`](Plugin::name) (with its `about`).
    fn command(&self) -> Command;

    /// Builds the service tree from the options parsed by [`command`](Plugin::command).
    ///
    /// # Errors
    /// What kept the tree from being built (a directory that does not exist).
    fn make_service(
        &self,
        reactor: &Reactor,
        options: &ArgMatches,
    ) -> Result<Rc<dyn Service>, Failure>;
}

/// A plugin from a clap `Args` type and a function that builds the tree from it: how a
/// user's binary adds its own.
///
/// ```no_run
/// use std::rc::Rc;
/// use torsion::{application::{ListenService, Service}, protocols::wire::Echo};
///
/// #[derive(clap::Args)]
/// struct Options {
///     /// Where to listen.
///     #[arg(long, default_value = "tcp:9000")]
///     listen: String,
/// }
///
/// let plugin = torsiond::plugin("myecho", "An echo server of my own", |reactor, options: Options| {
///     let service = ListenService::from_string(reactor, &options.listen, Echo::factory())?;
///     Ok(Rc::new(service) as Rc<dyn Service>)
/// });
/// std::process::exit(torsiond::run_with(vec![plugin]));
/// ```
pub fn plugin<T, F>(name: &'static str, about: &'static str, make: F) -> Box<dyn Plugin>
where
    T: Args + FromArgMatches + 'static,
    F: Fn(&Reactor, T) -> Result<Rc<dyn Service>, Failure> + 'static,
{
    Box::new(FnPlugin {
        name,
        about,
        make: Box::new(move |reactor, matches| {
            let options = T::from_arg_matches(matches).map_err(|e| Failure::msg(e.to_string()))?;
            make(reactor, options)
        }),
        augment: T::augment_args,
    })
}

/// The built-in plugins.
pub fn builtin_plugins() -> Vec<Box<dyn Plugin>> {
    vec![
        plugin(
            "web",
            "Serve a directory over HTTP (Twisted's `twistd web --path`)",
            web,
        ),
        plugin("echo", "Echo every byte back (RFC 862)", echo),
        plugin("finger", "Answer finger queries from a fixed table", finger),
        plugin(
            "portforward",
            "Relay each connection to a destination",
            portforward,
        ),
        plugin(
            "hello",
            "`Hello, world!` to every HTTP request (the benchmark server)",
            hello,
        ),
    ]
}

type MakeFn = Box<dyn Fn(&Reactor, &ArgMatches) -> Result<Rc<dyn Service>, Failure>>;

struct FnPlugin {
    name: &'static str,
    about: &'static str,
    make: MakeFn,
    augment: fn(Command) -> Command,
}

impl Plugin for FnPlugin {
    fn name(&self) -> &str {
        self.name
    }

    fn command(&self) -> Command {
        (self.augment)(Command::new(self.name)).about(self.about)
    }

    fn make_service(
        &self,
        reactor: &Reactor,
        options: &ArgMatches,
    ) -> Result<Rc<dyn Service>, Failure> {
        (self.make)(reactor, options)
    }
}

impl fmt::Debug for dyn Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name())
            .finish()
    }
}

/// Checks a server endpoint string on the command line (a `haproxy:` prefix included);
/// a bare port listens on 127.0.0.1 only ([`listen_endpoint`]).
pub fn server_endpoint(value: &str) -> Result<String, String> {
    let value = listen_endpoint(value);
    check_server_string(&value)
        .map(|()| value.into_owned())
        .map_err(|e| e.to_string())
}

/// Checks a client endpoint string on the command line.
pub fn client_endpoint(value: &str) -> Result<String, String> {
    ClientEndpoint::parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| e.to_string())
}

/// `NAME=TEXT`.
fn user_entry(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((name, text)) if !name.is_empty() => Ok((name.to_owned(), text.to_owned())),
        _ => Err(format!("{value:?}: expected NAME=TEXT")),
    }
}

/// A tree listening on each endpoint with the same factory.
fn listen_all(
    reactor: &Reactor,
    name: &str,
    endpoints: &[String],
    factory: Rc<dyn ProtocolFactory>,
    drain: Option<Site>,
) -> Result<Rc<dyn Service>, Failure> {
    let root = MultiService::new(name);
    for endpoint in endpoints {
        let server = torsion::endpoints::server_from_string(reactor, endpoint)?;
        let mut service = ListenService::new(endpoint.as_str(), Rc::new(server), factory.clone());
        if let Some(site) = &drain {
            let site = site.clone();
            service = service.with_drain(move || site.drain());
        }
        root.add(Rc::new(service))?;
    }
    Ok(Rc::new(root))
}

/// `torsiond web`'s options.
#[derive(Debug, Args)]
struct WebOptions {
    /// The directory to serve.
    #[arg(long, value_name = "DIR", default_value = ".")]
    path: PathBuf,
    /// Where to listen: an endpoint string, or a bare port for 127.0.0.1 only (repeatable).
    #[arg(long, value_name = "ENDPOINT", default_value = "8080", value_parser = server_endpoint)]
    listen: Vec<String>,
    /// List the contents of directories without an index.html.
    #[arg(long)]
    listing: bool,
}

fn web(reactor: &Reactor, options: WebOptions) -> Result<Rc<dyn Service>, Failure> {
    let files = File::new(&options.path)
        .map_err(|e| Failure::msg(format!("--path {}: {e}", options.path.display())))?
        .with_directory_listing(options.listing);
    let site = Site::new(Rc::new(files), reactor.clone());
    listen_all(
        reactor,
        "web",
        &options.listen,
        Rc::new(site.clone()),
        Some(site),
    )
}

/// Options of plugins that only listen.
#[derive(Debug, Args)]
struct ListenOptions {
    /// Where to listen: an endpoint string, or a bare port for 127.0.0.1 only (repeatable).
    #[arg(long, value_name = "ENDPOINT", default_value = "8000", value_parser = server_endpoint)]
    listen: Vec<String>,
}

fn echo(reactor: &Reactor, options: ListenOptions) -> Result<Rc<dyn Service>, Failure> {
    listen_all(
        reactor,
        "echo",
        &options.listen,
        Rc::new(Echo::factory()),
        None,
    )
}

/// `torsiond finger`'s options.
#[derive(Debug, Args)]
struct FingerOptions {
    /// Where to listen: an endpoint string, or a bare port for 127.0.0.1 only (repeatable).
    #[arg(long, value_name = "ENDPOINT", default_value = "7979", value_parser = server_endpoint)]
    listen: Vec<String>,
    /// A user and the text to answer for them (repeatable).
    #[arg(long, value_name = "NAME=TEXT", value_parser = user_entry)]
    user: Vec<(String, String)>,
}

fn finger(reactor: &Reactor, options: FingerOptions) -> Result<Rc<dyn Service>, Failure> {
    let factory = Finger::factory(options.user.into_iter().collect());
    listen_all(reactor, "finger", &options.listen, Rc::new(factory), None)
}

/// `torsiond portforward`'s options.
#[derive(Debug, Args)]
struct PortForwardOptions {
    /// Where to listen: an endpoint string, or a bare port for 127.0.0.1 only (repeatable).
    #[arg(long, value_name = "ENDPOINT", default_value = "8000", value_parser = server_endpoint)]
    listen: Vec<String>,
    /// Where to relay each connection (a client endpoint string: `tcp:HOST:PORT`).
    #[arg(long, value_name = "ENDPOINT", required = true, value_parser = client_endpoint)]
    dest: String,
}

fn portforward(reactor: &Reactor, options: PortForwardOptions) -> Result<Rc<dyn Service>, Failure> {
    let dest = client_from_string(reactor, &options.dest)?;
    let factory = PortForward::new(Rc::new(dest));
    listen_all(
        reactor,
        "portforward",
        &options.listen,
        Rc::new(factory),
        None,
    )
}

/// Answers every path and method with `Hello, world!`.
struct Hello;

impl Resource for Hello {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[&'static str] {
        &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    }

    fn render(&self, request: &Request) -> Render {
        request.set_header("Content-Type", "text/plain");
        Render::from("Hello, world!")
    }
}

/// `torsiond hello`'s options.
#[derive(Debug, Args)]
struct HelloOptions {
    /// Where to listen: an endpoint string, or a bare port for 127.0.0.1 only (repeatable).
    #[arg(long, value_name = "ENDPOINT", default_value = "8080", value_parser = server_endpoint)]
    listen: Vec<String>,
}

fn hello(reactor: &Reactor, options: HelloOptions) -> Result<Rc<dyn Service>, Failure> {
    let site = Site::new(Rc::new(Hello), reactor.clone());
    listen_all(
        reactor,
        "hello",
        &options.listen,
        Rc::new(site.clone()),
        Some(site),
    )
}
