//! `bpfq fmt` with comments in random places (stage: fmt): every example and stdlib file, with
//! comments, doc comments and empty lines inserted between random tokens, must format (no
//! comment refused, no changed tree: the formatter checks both itself and this test compares
//! again) and formatting the result must change nothing.

use bpfq_compiler::syntax::format::{comments_of, without_spans};
use bpfq_compiler::syntax::lexical::scan;
use bpfq_compiler::syntax::{format_module, parse_module};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

const INSERTS: &[&str] = &[
    " -- trailing {}\n",
    "\n-- own line {}\n",
    "\n\n-- after an empty line {}\n",
    "\n--- doc-like {}\n",
    "-- glued {}\n",
    "\n\n",
    " ",
];

fn repository_files() -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = Vec::new();
    for dir in ["examples", "stdlib"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "bpfq") {
                let text = std::fs::read_to_string(&path).expect("read");
                files.push((path.display().to_string(), text));
            }
        }
    }
    files.sort();
    files
}

fn texts(src: &str) -> Vec<String> {
    comments_of(src, 0)
        .expect("scans")
        .into_iter()
        .map(|comment| comment.text)
        .collect()
}

#[test]
fn comments_between_any_tokens_survive_formatting() {
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    let mut formatted_count = 0;
    for (name, original) in repository_files() {
        let tokens = scan(&original, 0).expect("scans");
        for round in 0..16 {
            let mut cuts: Vec<usize> = (0..1 + rng.below(4))
                .map(|_| tokens[rng.below(tokens.len())].end)
                .collect();
            cuts.sort_unstable();
            let mut src = String::new();
            let mut from = 0;
            for (index, cut) in cuts.iter().enumerate() {
                src.push_str(&original[from..*cut]);
                let insert = INSERTS[rng.below(INSERTS.len())];
                src.push_str(&insert.replace("{}", &format!("{round}.{index}")));
                from = *cut;
            }
            src.push_str(&original[from..]);
            let Ok(before) = parse_module(&src, 0) else {
                continue; // a `---` line that became a doc comment where none may be, etc.
            };
            let formatted = match format_module(&src, 0) {
                Ok(formatted) => formatted,
                Err(diag) => panic!(
                    "{name} round {round}: {} {}\n{src}",
                    diag.code, diag.message
                ),
            };
            let after = parse_module(&formatted, 0).expect("output parses");
            assert_eq!(
                without_spans(&before),
                without_spans(&after),
                "{name}:\n{src}"
            );
            assert_eq!(texts(&src), texts(&formatted), "{name}:\n{src}");
            assert_eq!(
                format_module(&formatted, 0).as_deref(),
                Ok(formatted.as_str()),
                "{name}: not idempotent for\n{src}\nfirst output:\n{formatted}"
            );
            formatted_count += 1;
        }
    }
    assert!(
        formatted_count > 400,
        "only {formatted_count} variants formatted"
    );
}
