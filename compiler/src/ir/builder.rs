//! Stage `lower`: a small builder that appends instructions to the current block and hands out
//! fresh values and blocks. A block is laid out when it is first switched to, so a lowering that
//! switches to a join block only after its arms keeps every jump forward. It also tracks
//! dominators as blocks are laid out, so the lowering can reuse a value only where the block
//! that defined it dominates the current one. A block no jump from the entry reaches (the
//! other arm of a condition that is constant, such as a `like` pattern that always matches) is
//! left out of the function: the verifier refuses unreachable instructions.

use super::{Block, BlockData, Function, Inst, InstData, Terminator, Value};
use cranelift_entity::{EntityRef, PrimaryMap, SecondaryMap};

pub struct FunctionBuilder {
    blocks: PrimaryMap<Block, BlockData>,
    layout: Vec<Block>,
    /// Position in `layout` (a topological order), for the dominator intersection.
    position: SecondaryMap<Block, u32>,
    preds: SecondaryMap<Block, Vec<Block>>,
    idom: SecondaryMap<Block, Option<Block>>,
    /// Whether a path of jumps from the entry leads to the block (known when it is laid out).
    reachable: SecondaryMap<Block, bool>,
    current: Block,
    next_value: u32,
    slots: u32,
    note: Option<String>,
}

impl Default for FunctionBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl FunctionBuilder {
    pub fn new() -> Self {
        let mut blocks = PrimaryMap::new();
        let current = blocks.push(empty_block());
        let mut reachable = SecondaryMap::new();
        reachable[current] = true;
        FunctionBuilder {
            blocks,
            layout: vec![current],
            position: SecondaryMap::new(),
            preds: SecondaryMap::new(),
            idom: SecondaryMap::new(),
            reachable,
            current,
            next_value: 0,
            slots: 0,
            note: None,
        }
    }

    /// Creates a block; it is laid out when first switched to.
    pub fn create_block(&mut self) -> Block {
        self.blocks.push(empty_block())
    }

    /// Continues in `block`. The first switch lays it out; all jumps into it must exist by
    /// then (true of structured lowering: a join is entered after its arms).
    pub fn switch_to(&mut self, block: Block) {
        if !self.layout.contains(&block) {
            self.position[block] = self.layout.len() as u32;
            self.layout.push(block);
            // Only reachable predecessors lead here: an unreachable one dominates nothing.
            self.idom[block] = self.preds[block]
                .iter()
                .copied()
                .filter(|p| self.reachable[*p])
                .reduce(|a, b| self.intersect(a, b));
        }
        self.current = block;
    }

    /// The nearest common dominator of two laid-out blocks.
    fn intersect(&self, mut a: Block, mut b: Block) -> Block {
        while a != b {
            while self.position[a] > self.position[b] {
                match self.idom[a] {
                    Some(up) => a = up,
                    None => return a,
                }
            }
            while self.position[b] > self.position[a] {
                match self.idom[b] {
                    Some(up) => b = up,
                    None => return b,
                }
            }
        }
        a
    }

    /// Whether every path from the entry to the current block passes through `block`.
    pub fn dominates_current(&self, block: Block) -> bool {
        let mut at = Some(self.current);
        while let Some(b) = at {
            if b == block {
                return true;
            }
            at = self.idom[b];
        }
        false
    }

    pub fn current(&self) -> Block {
        self.current
    }

    /// A fresh 8-byte stack slot for a value that crosses a join.
    pub fn new_slot(&mut self) -> u32 {
        self.slots += 1;
        self.slots - 1
    }

    /// Sets the source note attached to the next instruction emitted (shown by `explain`).
    pub fn note(&mut self, note: impl Into<String>) {
        self.note = Some(note.into());
    }

    /// Appends an instruction that yields a value.
    pub fn value(&mut self, inst: Inst) -> Value {
        let result = Value::new(self.next_value as usize);
        self.next_value += 1;
        self.push(Some(result), inst);
        result
    }

    /// Appends an instruction without a result.
    pub fn effect(&mut self, inst: Inst) {
        self.push(None, inst);
    }

    pub fn terminate(&mut self, terminator: Terminator) {
        for succ in terminator.successors() {
            self.preds[succ].push(self.current);
            if self.reachable[self.current] {
                self.reachable[succ] = true;
            }
        }
        let block = &mut self.blocks[self.current];
        block.terminator = terminator;
        block.terminator_note = self.note.take();
    }

    pub fn finish(self, row_size: u32) -> Function {
        let reachable = &self.reachable;
        let layout = self.layout.into_iter().filter(|b| reachable[*b]).collect();
        Function {
            blocks: self.blocks,
            layout,
            value_count: self.next_value,
            slots: self.slots,
            row_size,
            formats: Vec::new(),
        }
    }

    fn push(&mut self, result: Option<Value>, inst: Inst) {
        let note = self.note.take();
        self.blocks[self.current]
            .insts
            .push(InstData { result, inst, note });
    }
}

fn empty_block() -> BlockData {
    BlockData {
        terminator_note: None,
        insts: Vec::new(),
        terminator: Terminator::Return(0),
    }
}
