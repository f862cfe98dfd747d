//! Operating-system details the portable modules above must not spell out themselves.

pub(crate) mod process;
pub(crate) mod unix;
