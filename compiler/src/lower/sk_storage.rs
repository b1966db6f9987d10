//! Stage `lower`, for a `bpf_sk_storage_map` query read through a socket iterator
//! (`socket_storage.rs`): the start of the program, which gives the map-element context's `sk`
//! and `value` their values. Guarantees: the program goes on only with a non-NULL socket that
//! `bpf_sk_storage_get` accepts and a non-NULL value pointer, so every row it writes is a socket
//! holding a value in the map, built from the same two pointers the map-element program reads.

use super::Lowerer;
use crate::ir::{Block, Inst, MapRef, Width};
use crate::plan::Plan;
use crate::socket_storage::{SocketFrom, SocketIterator, SocketIterators};

impl Lowerer<'_> {
    /// `sk` = the iterator's socket (a `struct sock`), `value` = its storage in the map; the
    /// object is skipped when either is NULL.
    pub(super) fn socket_and_value(
        &mut self,
        plan: &Plan,
        storage: &SocketIterators,
        iterator: &SocketIterator,
        exit: Block,
    ) {
        self.b.note(format!(
            "skip the object when ctx->{} is NULL (the final call)",
            plan.target.object_field
        ));
        let mut sk = self.pure(Inst::Load {
            base: self.ctx,
            offset: plan.target.object_offset as i32,
            width: Width::B8,
            signed: false,
        });
        self.skip_if_null(sk, exit);
        if iterator.socket_from == SocketFrom::SkcToTcpSock {
            self.b.note(
                "sk = bpf_skc_to_tcp_sock(ctx->sk_common): skip request and time-wait sockets",
            );
            sk = self.b.value(Inst::SkcToTcpSock { sk });
            self.skip_if_null(sk, exit);
        }
        self.b
            .note("value = bpf_sk_storage_get(map, sk, NULL, 0): skip sockets holding no value");
        let value = self.b.value(Inst::SkStorageGet {
            map: MapRef::SkStorage,
            sk,
        });
        self.skip_if_null(value, exit);
        // The columns read these where the map-element program reads ctx->sk and ctx->value.
        if let Some(offset) = storage.sk_offset {
            self.ctx_fields.insert(offset, sk);
        }
        if let Some(offset) = storage.value_offset {
            self.ctx_fields.insert(offset, value);
        }
    }
}
