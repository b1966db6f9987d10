//! Stage `lower`: a small builder that appends instructions to the current block and hands out
//! fresh values and blocks. A block is laid out when it is first switched to, so a lowering that
//! switches to a join block only after its arms keeps every jump forward.

use super::{Block, BlockData, Function, Inst, InstData, Terminator, Value};
use cranelift_entity::{EntityRef, PrimaryMap};

pub struct FunctionBuilder {
    blocks: PrimaryMap<Block, BlockData>,
    layout: Vec<Block>,
    current: Block,
    next_value: u32,
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
        FunctionBuilder {
            blocks,
            layout: vec![current],
            current,
            next_value: 0,
            note: None,
        }
    }

    /// Creates a block; it is laid out when first switched to.
    pub fn create_block(&mut self) -> Block {
        self.blocks.push(empty_block())
    }

    pub fn switch_to(&mut self, block: Block) {
        if !self.layout.contains(&block) {
            self.layout.push(block);
        }
        self.current = block;
    }

    pub fn current(&self) -> Block {
        self.current
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
        self.blocks[self.current].terminator = terminator;
    }

    pub fn finish(self, row_size: u32) -> Function {
        Function {
            blocks: self.blocks,
            layout: self.layout,
            value_count: self.next_value,
            row_size,
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
        insts: Vec::new(),
        terminator: Terminator::Return(0),
    }
}
