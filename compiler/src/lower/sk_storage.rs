//! Stage `lower`, for a `bpf_sk_storage_map` or `sockmap` query read through a socket iterator
//! (`socket_storage.rs`): the start of the program, which gives the map-element context's `sk`
//! and `value` (sk_storage) or `key` (sockmap) their values. Guarantees: the program goes on
//! only with a non-NULL socket that the lookup accepts and a non-NULL result: the socket's value
//! from `bpf_sk_storage_get`, or its key in the cookie -> key map user space filled from the
//! sockmap, so every row it writes is a socket in the map, built from the same two pointers the
//! map-element program reads.

use super::Lowerer;
use crate::ir::{Block, Inst, MapRef, Operand, Width};
use crate::plan::Plan;
use crate::socket_storage::{SocketFrom, SocketIterator, SocketIterators, SocketLookup};

/// Row bytes that hold the cookie a lookup reads; the row is built after the lookup, over them.
const COOKIE_ROW_OFFSET: u32 = 0;

impl Lowerer<'_> {
    /// `sk` = the iterator's socket (a `struct sock`), the looked-up field = its element of the
    /// map; the object is skipped when either is NULL.
    pub(super) fn socket_and_element(
        &mut self,
        plan: &Plan,
        sockets: &SocketIterators,
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
        let found = match sockets.lookup {
            SocketLookup::SkStorage => {
                self.b.note(
                    "value = bpf_sk_storage_get(map, sk, NULL, 0): skip sockets holding no value",
                );
                self.b.value(Inst::SkStorageGet {
                    map: MapRef::SkStorage,
                    sk,
                })
            }
            SocketLookup::SockmapKey { cookie_offset } => {
                self.b.note(
                    "key = the sockmap key of sk's cookie (sk->__sk_common.skc_cookie, looked up \
                     in the map user space filled): skip sockets not in the sockmap",
                );
                let cookie = self.pure(Inst::Load {
                    base: sk,
                    offset: cookie_offset as i32,
                    width: Width::B8,
                    signed: false,
                });
                self.b.effect(Inst::StoreRow {
                    offset: COOKIE_ROW_OFFSET,
                    width: Width::B8,
                    value: Operand::Value(cookie),
                });
                self.b.value(Inst::MapLookup {
                    map: MapRef::SocketKeys,
                    key: COOKIE_ROW_OFFSET,
                })
            }
        };
        self.skip_if_null(found, exit);
        // The columns read these where the map-element program reads ctx->sk and ctx->value
        // (or ctx->key).
        if let Some(offset) = sockets.sk_offset {
            self.ctx_fields.insert(offset, sk);
        }
        if let Some(offset) = sockets.found_offset {
            self.ctx_fields.insert(offset, found);
        }
    }
}
