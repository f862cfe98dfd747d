//! `MultiService`: children started in order, stopped in reverse.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::{Service, ServiceState};
use crate::defer::{succeed, Deferred, DeferredList, Failure};
use crate::net::{Address, ListeningPort};

/// A service made of services (Twisted's `MultiService`): children start in the order
/// they were added and stop in reverse; [`stop`](Service::stop) fires once every child's
/// stop has, with the first failure if any failed.
#[derive(Default)]
pub struct MultiService {
    state: ServiceState,
    children: RefCell<Vec<Rc<dyn Service>>>,
}

impl MultiService {
    /// An empty, stopped tree named `name`.
    pub fn new(name: impl Into<String>) -> MultiService {
        MultiService {
            state: ServiceState::new(name),
            children: RefCell::new(Vec::new()),
        }
    }

    /// Adds a child; if this service runs, the child is started now (as Twisted's
    /// `setServiceParent` does).
    ///
    /// # Errors
    /// The child's start failed (it is added anyway, as in Twisted).
    pub fn add(&self, child: Rc<dyn Service>) -> Result<(), Failure> {
        self.children.borrow_mut().push(child.clone());
        if self.is_running() {
            child.start()?;
        }
        Ok(())
    }

    /// The child named `name`, if any.
    pub fn get(&self, name: &str) -> Option<Rc<dyn Service>> {
        let children = self.children.borrow();
        children.iter().find(|c| c.name() == name).cloned()
    }

    /// The children, in start order.
    pub fn children(&self) -> Vec<Rc<dyn Service>> {
        self.children.borrow().clone()
    }
}

impl Service for MultiService {
    fn name(&self) -> &str {
        self.state.name()
    }

    fn privileged_start(&self) -> Result<(), Failure> {
        for child in self.children() {
            child.privileged_start()?;
        }
        Ok(())
    }

    /// Starts the children in order; the first failure stops the loop (children
    /// started before it keep running: the caller stops the tree).
    fn start(&self) -> Result<(), Failure> {
        if self.state.set_running(true) {
            return Ok(());
        }
        for child in self.children() {
            child.start()?;
        }
        Ok(())
    }

    fn stop(&self) -> Deferred<()> {
        if !self.state.set_running(false) {
            return succeed(());
        }
        let stops: Vec<Deferred<()>> = self.children().iter().rev().map(|c| c.stop()).collect();
        DeferredList::new(stops)
            .consume_errors()
            .into_deferred()
            .add_callback(|results: Vec<Result<(), Failure>>| {
                results.into_iter().collect::<Result<Vec<()>, Failure>>()?;
                Ok::<(), Failure>(())
            })
    }

    fn abort(&self) {
        for child in self.children().iter().rev() {
            child.abort();
        }
    }

    fn is_running(&self) -> bool {
        self.state.is_running()
    }

    fn addresses(&self) -> Vec<Address> {
        self.children().iter().flat_map(|c| c.addresses()).collect()
    }

    fn ports(&self) -> Vec<ListeningPort> {
        self.children().iter().flat_map(|c| c.ports()).collect()
    }
}

impl fmt::Debug for MultiService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .children()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        f.debug_struct("MultiService")
            .field("name", &self.name())
            .field("running", &self.is_running())
            .field("children", &names)
            .finish()
    }
}
