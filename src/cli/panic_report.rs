//! CLI: the last line of defence — a panic anywhere in bpfq is reported as internal error E0903
//! ("this is a bug in bpfq") with where it happened and the command that met it, instead of
//! Rust's bare panic message. The run still ends by unwinding (`panic = "unwind"`), so every
//! BPF object it holds is closed by its owner's `Drop` on the way out.

use bpfq_compiler::codes;
use std::panic::PanicHookInfo;

/// Replaces the default panic message for the rest of the process.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let command: Vec<String> = std::env::args().collect();
        eprintln!("{}", message(info, &command));
    }));
}

fn message(info: &PanicHookInfo<'_>, command: &[String]) -> String {
    let payload = info.payload();
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    let at = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "an unknown place".to_string());
    render(what, &at, command)
}

/// The report, kept apart from `PanicHookInfo` (which only the panic machinery can make).
fn render(what: &str, at: &str, command: &[String]) -> String {
    format!(
        "error[{code}]: internal error (this is a bug in bpfq): {what}\n  \
         = at: {at} (bpfq's source)\n  \
         = command: {command}\n  \
         = help: please report it with this message and the output of `bpfq --version`",
        code = codes::PANIC,
        command = command.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_code_the_bug_the_place_and_the_command() {
        let text = render(
            "index out of bounds: the len is 3 but the index is 7",
            "compiler/src/lower/mod.rs:10:5",
            &["bpfq".to_string(), "from task select pid".to_string()],
        );
        assert!(text.starts_with("error[E0903]: "), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_real_panic_goes_through_the_hook() {
        // The hook is process-wide: install a capturing one around a real panic, then restore.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = seen.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            *sink.lock().unwrap() = message(info, &["bpfq".to_string()]);
        }));
        let result = std::panic::catch_unwind(|| {
            let columns: Vec<u8> = Vec::new();
            columns[usize::from(columns.is_empty()) * 4]
        });
        std::panic::set_hook(previous);
        assert!(result.is_err());
        let text = seen.lock().unwrap().clone();
        assert!(
            text.starts_with(
                "error[E0903]: internal error (this is a bug in bpfq): index out of bounds"
            ),
            "{text}"
        );
        assert!(text.contains("src/cli/panic_report.rs:"), "{text}");
    }
}
