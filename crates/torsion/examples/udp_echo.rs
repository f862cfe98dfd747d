//! A UDP echo server: every datagram goes back to its sender (Twisted's UDP `Echo`).
//!
//! ```text
//! cargo run --example udp_echo -- --listen udp:9999:interface=127.0.0.1
//! echo hello | nc -u -w1 127.0.0.1 9999
//! ```
//!
//! `--listen` takes `udp:PORT[:interface=ADDR]` (also `udp:port=PORT`), or a plain port;
//! 0 picks a free port, and the interface defaults to every IPv4 one (write an IPv6
//! address with escaped colons: `udp:0:interface=\:\:1`). The first line on stdout is
//! `listening on ADDR`; the server runs until SIGINT or SIGTERM, then stops listening
//! and exits 0.

use std::{io::Write, net::SocketAddr, process::ExitCode};

use torsion::{
    net::{listen_udp, DatagramProtocol, UdpPort, DEFAULT_MAX_PACKET_SIZE},
    Reactor,
};

/// Writes every datagram back to where it came from.
#[derive(Default)]
struct Echo {
    port: Option<UdpPort>,
}

impl DatagramProtocol for Echo {
    fn start_protocol(&mut self, port: UdpPort) {
        self.port = Some(port);
    }

    fn datagram_received(&mut self, data: &[u8], from: SocketAddr) {
        let Some(port) = &self.port else { return };
        // UDP may lose any datagram; a lost echo is reported, not fatal.
        if let Err(e) = port.write(data, from) {
            eprintln!("udp_echo: {e}");
        }
    }
}

fn main() -> ExitCode {
    let (port, interface) = match parse_args(std::env::args().skip(1)) {
        Ok(listen) => listen,
        Err(message) => {
            eprintln!("udp_echo: {message}");
            eprintln!("usage: udp_echo [--listen udp:PORT[:interface=ADDR] | --listen PORT]");
            return ExitCode::from(2);
        }
    };
    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("udp_echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let echo = Echo::default();
    let port = match listen_udp(&reactor, port, echo, &interface, DEFAULT_MAX_PACKET_SIZE) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("udp_echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", port.host());
    if std::io::stdout().flush().is_err() {
        return ExitCode::FAILURE;
    }
    reactor.run(); // until SIGINT or SIGTERM
    port.stop_listening();
    ExitCode::SUCCESS
}

/// Reads `--listen ENDPOINT` (or `--listen=ENDPOINT`) into a port and an interface.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(u16, String), String> {
    let mut endpoint = "udp:0".to_owned();
    while let Some(arg) = args.next() {
        match arg.strip_prefix("--listen") {
            Some("") => endpoint = args.next().ok_or("--listen needs an endpoint")?,
            Some(inline) if inline.starts_with('=') => endpoint = inline[1..].to_owned(),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    parse_endpoint(&endpoint)
}

/// `udp:PORT[:interface=ADDR]`, `udp:port=PORT[:interface=ADDR]` or `PORT`; a
/// backslash takes the next character literally, as in Twisted's endpoint strings.
fn parse_endpoint(endpoint: &str) -> Result<(u16, String), String> {
    let bad = |why: &str| format!("{endpoint}: {why}");
    let mut parts = split_unescaped(endpoint);
    if parts.len() > 1 {
        if !parts[0].eq_ignore_ascii_case("udp") {
            return Err(bad("only udp endpoints are served here"));
        }
        parts.remove(0);
    }
    let (mut port, mut interface) = (None, String::new());
    for part in parts {
        match part.split_once('=') {
            Some(("port", value)) if port.is_none() => port = Some(value.to_owned()),
            Some(("interface", value)) => interface = value.to_owned(),
            Some((key, _)) => return Err(bad(&format!("unknown or repeated keyword {key:?}"))),
            None if part.is_empty() => {
                return Err(bad(r"empty argument: write an IPv6 address's colons as \:"))
            }
            None if port.is_none() => port = Some(part),
            None => return Err(bad(&format!("unexpected argument {part:?}"))),
        }
    }
    let port = port.ok_or_else(|| bad("a port is required"))?;
    let port = port
        .parse()
        .map_err(|_| bad("port must be a number from 0 to 65535"))?;
    Ok((port, interface))
}

/// Splits on `:` not preceded by a backslash, and removes the escapes.
fn split_unescaped(s: &str) -> Vec<String> {
    let (mut parts, mut current, mut chars) = (Vec::new(), String::new(), s.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ':' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_bad_ones_are_explained() {
        let ok = |port, interface: &str| Ok((port, interface.to_owned()));
        assert_eq!(parse_endpoint("9999"), ok(9999, ""));
        assert_eq!(parse_endpoint("udp:0"), ok(0, ""));
        assert_eq!(parse_endpoint("UDP:port=53"), ok(53, ""));
        assert_eq!(
            parse_endpoint("udp:0:interface=127.0.0.1"),
            ok(0, "127.0.0.1")
        );
        assert_eq!(parse_endpoint(r"udp:0:interface=\:\:1"), ok(0, "::1"));
        let err = |s: &str| parse_endpoint(s).unwrap_err();
        assert_eq!(err("tcp:80"), "tcp:80: only udp endpoints are served here");
        assert_eq!(err("udp:x"), "udp:x: port must be a number from 0 to 65535");
        assert_eq!(
            err("udp:interface=::1"),
            r"udp:interface=::1: empty argument: write an IPv6 address's colons as \:"
        );
        assert_eq!(
            err("udp:1:backlog=5"),
            "udp:1:backlog=5: unknown or repeated keyword \"backlog\""
        );
        let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        assert_eq!(args(&["--listen", "udp:7"]), ok(7, ""));
        assert_eq!(args(&["--listen=8"]), ok(8, ""));
        assert_eq!(args(&[]), ok(0, ""));
        assert_eq!(args(&["now"]), Err("unknown argument \"now\"".to_owned()));
    }
}
