//! Stage `read`, network namespaces: where a query's iterators are created. Guarantees: the
//! one place `netns = ...` is resolved: this process's namespace, the one named, or with
//! `netns = all` each namespace of the machine, listed afresh at each walk (a `--watch` sees
//! namespaces made since the last); the thread always returns to its own namespace.

use std::os::fd::AsFd;
use std::path::PathBuf;

use bpfq_compiler::bind::{IterParams, NetnsRef};

use super::RunError;
use crate::loader::{IterLink, LoadError};
use crate::netns::{all_network_namespaces, NetNamespace};
use crate::IterReader;

/// The namespaces one walk creates its iterators in, in order.
pub enum Namespaces {
    /// This process's.
    Ours,
    /// The one a path names.
    Named(PathBuf),
    Each(Vec<NetNamespace>),
}

impl Namespaces {
    /// The namespaces `params` asks for (ours when they name none).
    pub fn of(params: Option<&IterParams>) -> Result<Namespaces, RunError> {
        match params {
            Some(IterParams::Netns(NetnsRef::All)) => Namespaces::every(),
            Some(IterParams::Netns(ns)) => {
                Ok(Namespaces::Named(ns.path().unwrap_or_default().into()))
            }
            _ => Ok(Namespaces::Ours),
        }
    }

    /// Every network namespace of the machine.
    pub fn every() -> Result<Namespaces, RunError> {
        all_network_namespaces()
            .map(Namespaces::Each)
            .map_err(|e| RunError::Failed(format!("listing the network namespaces failed: {e}")))
    }

    /// How many iterators a walk creates.
    pub(super) fn len(&self) -> usize {
        match self {
            Namespaces::Ours | Namespaces::Named(_) => 1,
            Namespaces::Each(all) => all.len(),
        }
    }

    /// A new iterator of `link` in the `index`th namespace.
    pub fn open(&self, link: &IterLink, index: usize) -> Result<IterReader, LoadError> {
        match self {
            Namespaces::Ours => link.open(),
            Namespaces::Named(path) => link.open_in_netns(path),
            Namespaces::Each(all) => link.open_in_net_namespace(all[index].file.as_fd()),
        }
    }

    /// A new iterator of `link` in each namespace.
    pub fn open_all(&self, link: &IterLink) -> Result<Vec<IterReader>, LoadError> {
        (0..self.len()).map(|i| self.open(link, i)).collect()
    }
}
