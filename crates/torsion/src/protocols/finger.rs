//! The finger server of the Twisted talks (RFC 1288, reduced): a client sends a user name
//! on one line, gets that user's status back, and the server hangs up.
//!
//! ```
//! use std::collections::HashMap;
//! use torsion::net::{Protocol, ProtocolFactory, Transport};
//! use torsion::protocols::finger::Finger;
//! use torsion::testing::StringTransport;
//!
//! let users = HashMap::from([("moshez".to_owned(), "Happy and well".to_owned())]);
//! let factory = Finger::factory(users);
//! let transport = StringTransport::new();
//! let mut finger = factory.build_protocol(&transport.peer()).unwrap();
//! finger.connection_made(transport.clone());
//! finger.data_received(b"moshez\r\n");
//! assert_eq!(transport.value(), b"Happy and well\r\n");
//! assert!(transport.is_closing());
//! ```
//!
//! A name no one registered gets `No such user`. Lines are limited as
//! [`LineProtocol`]'s are: a longer one closes the connection.

use std::collections::HashMap;
use std::rc::Rc;

use super::basic::{LineProtocol, LineReceiver, Lines};
use crate::net::{Address, Protocol, ProtocolFactory};

/// Answers one question, then closes; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Finger {
    users: Rc<HashMap<Vec<u8>, String>>,
}

impl Finger {
    /// A finger server answering for `users` (name, status): a factory that builds one
    /// protocol per connection, all sharing the table.
    pub fn factory(users: HashMap<String, String>) -> Finger {
        let users = users
            .into_iter()
            .map(|(name, text)| (name.into_bytes(), text))
            .collect();
        Finger {
            users: Rc::new(users),
        }
    }
}

impl ProtocolFactory for Finger {
    fn build_protocol(&self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(LineProtocol::new(self.clone())))
    }
}

impl LineReceiver for Finger {
    fn line_received(&mut self, lines: &Lines, user: &[u8]) {
        let answer = match self.users.get(user) {
            Some(text) => text.as_bytes(),
            None => b"No such user",
        };
        lines.send_line(answer);
        lines.transport().lose_connection();
    }
}
