//! `ClientService` (from `endpoints`) as a [`Service`].

use super::Service;
use crate::defer::{Deferred, Failure};
use crate::endpoints::ClientService;

impl Service for ClientService {
    fn name(&self) -> &str {
        "client"
    }

    fn start(&self) -> Result<(), Failure> {
        self.start_service();
        Ok(())
    }

    /// Cancels the attempt or wait under way and closes the connection; fires once it
    /// is closed.
    fn stop(&self) -> Deferred<()> {
        self.stop_service()
    }

    fn is_running(&self) -> bool {
        ClientService::is_running(self)
    }
}
