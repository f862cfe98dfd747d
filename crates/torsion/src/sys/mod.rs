//! Operating-system details the portable modules above must not spell out themselves.

pub(crate) mod unix;
pub(crate) mod process;
