//! A configured source that is switched off.

use std::time::Instant;

use crate::{Asked, BoxFuture, Source, status};

/// A configured source that is switched off: always SKIPPED, so a response still lists
/// it and says why.
#[derive(Debug)]
pub struct Disabled {
    name: String,
}

impl Disabled {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }
}

impl<Q: ?Sized + Sync, A> Source<Q, A> for Disabled {
    fn name(&self) -> &str {
        &self.name
    }

    fn repeatable(&self) -> bool {
        true
    }

    fn ask<'a>(&'a self, _: &'a Q, _: Option<Instant>) -> BoxFuture<'a, Asked<A>> {
        let why = format!(
            "{} is disabled in this deployment's configuration",
            self.name
        );
        Box::pin(async move { Asked::nothing(status::skipped(&self.name, &why)) })
    }
}
