//! The small protocols of Twisted's `twisted.protocols.wire`: [`Echo`] (RFC 862),
//! [`Discard`] (RFC 863), [`Chargen`] (RFC 864) and [`Daytime`] (RFC 867).
//!
//! ```
//! use torsion::net::Protocol;
//! use torsion::protocols::wire::Echo;
//! use torsion::testing::StringTransport;
//!
//! let transport = StringTransport::new();
//! let mut echo = Echo::default();
//! echo.connection_made(transport.clone());
//! echo.data_received(b"ping");
//! assert_eq!(transport.value(), b"ping");
//! ```
//!
//! Each is also a factory: `Echo::factory()` builds one per connection, ready for
//! `listen_tcp`.

use std::{
    cell::Cell,
    rc::Rc,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::net::{factory_fn, FnFactory, Producer, Protocol, PushProducer, Transport};

/// A factory that builds `P::default()` for every connection.
pub type DefaultFactory = FnFactory<fn(&crate::net::Address) -> Option<Box<dyn Protocol>>>;

fn factory_of<P: Protocol + Default>() -> DefaultFactory {
    fn build<P: Protocol + Default>(_: &crate::net::Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(P::default()))
    }
    factory_fn(build::<P> as fn(&crate::net::Address) -> Option<Box<dyn Protocol>>)
}

/// Sends back every byte it receives.
#[derive(Default)]
pub struct Echo {
    transport: Option<Rc<dyn Transport>>,
}

impl std::fmt::Debug for Echo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Echo")
    }
}

impl Echo {
    /// A factory of `Echo` protocols.
    pub fn factory() -> DefaultFactory {
        factory_of::<Echo>()
    }
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            t.write(data);
        }
    }
}

/// Reads and drops everything.
#[derive(Debug, Default)]
pub struct Discard;

impl Discard {
    /// A factory of `Discard` protocols.
    pub fn factory() -> DefaultFactory {
        factory_of::<Discard>()
    }
}

impl Protocol for Discard {
    fn data_received(&mut self, _: &[u8]) {}
}

/// Sends the RFC 864 character pattern for as long as the peer reads, as a push
/// producer: paused when the peer stops reading, so memory stays bounded.
#[derive(Debug, Default)]
pub struct Chargen {
    state: Option<Rc<ChargenProducer>>,
}

impl Chargen {
    /// A factory of `Chargen` protocols.
    pub fn factory() -> DefaultFactory {
        factory_of::<Chargen>()
    }
}

/// The producer behind [`Chargen`].
pub struct ChargenProducer {
    transport: Rc<dyn Transport>,
    paused: Cell<bool>,
    stopped: Cell<bool>,
    line: Cell<usize>,
}

impl std::fmt::Debug for ChargenProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargenProducer")
            .field("line", &self.line.get())
            .finish()
    }
}

/// One chargen line: 72 printable characters starting at `offset`, then CRLF.
fn chargen_line(offset: usize, out: &mut [u8; 74]) {
    for (i, byte) in out.iter_mut().take(72).enumerate() {
        // 95 printable ASCII characters, from ' ' (32) to '~' (126).
        *byte = 32 + ((offset + i) % 95) as u8;
    }
    out[72] = b'\r';
    out[73] = b'\n';
}

impl ChargenProducer {
    fn produce(&self) {
        let mut line = [0; 74];
        // Write until paused; the transport pauses us from inside `write` at its high
        // water mark. Bounded per call so one connection cannot hold the loop.
        for _ in 0..1024 {
            if self.paused.get() || self.stopped.get() || self.transport.is_closing() {
                return;
            }
            chargen_line(self.line.get(), &mut line);
            self.line.set(self.line.get() + 1);
            self.transport.write(&line);
        }
    }
}

impl PushProducer for ChargenProducer {
    fn pause_producing(&self) {
        self.paused.set(true);
    }

    fn resume_producing(&self) {
        self.paused.set(false);
        self.produce();
    }

    fn stop_producing(&self) {
        self.stopped.set(true);
    }
}

impl Protocol for Chargen {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let producer = Rc::new(ChargenProducer {
            transport: transport.clone(),
            paused: Cell::new(false),
            stopped: Cell::new(false),
            line: Cell::new(0),
        });
        let _ = transport.register_producer(Producer::Push(producer.clone()));
        producer.produce();
        self.state = Some(producer);
    }

    fn data_received(&mut self, _: &[u8]) {}
}

/// Sends the current UTC time, then closes.
#[derive(Debug, Default)]
pub struct Daytime;

impl Daytime {
    /// A factory of `Daytime` protocols.
    pub fn factory() -> DefaultFactory {
        factory_of::<Daytime>()
    }
}

impl Protocol for Daytime {
    fn connection_made(&mut self, transport: Rc<dyn Transport>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        transport.write(format!("{}\r\n", utc_timestamp(now)).as_bytes());
        transport.lose_connection();
    }

    fn data_received(&mut self, _: &[u8]) {}
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339), without a date crate:
/// Howard Hinnant's days-to-civil algorithm.
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::StringTransport;

    #[test]
    fn daytime_sends_a_timestamp_and_closes() {
        let transport = StringTransport::new();
        Daytime.connection_made(transport.clone());
        assert!(transport.disconnecting());
        assert!(transport.value().ends_with(b"Z\r\n"));
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn chargen_registers_a_producer_and_writes_the_pattern() {
        let transport = StringTransport::new();
        let mut chargen = Chargen::default();
        chargen.connection_made(transport.clone());
        assert!(matches!(transport.producer(), Some(Producer::Push(_))));
        let value = transport.value();
        assert_eq!(&value[..3], b" !\"");
        assert_eq!(&value[72..75], b"\r\n!");
        let state = chargen.state.as_ref().unwrap();
        state.pause_producing();
        transport.clear();
        state.produce();
        assert!(
            transport.value().is_empty(),
            "a paused producer writes nothing"
        );
    }

    #[test]
    fn discard_and_echo_factories_build_protocols() {
        use crate::net::ProtocolFactory;
        let addr = crate::net::Address::Unix(None);
        assert!(Discard::factory().build_protocol(&addr).is_some());
        assert!(Echo::factory().build_protocol(&addr).is_some());
    }
}
