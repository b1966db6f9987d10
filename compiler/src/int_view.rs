//! Integers shown as the text tools print for them (a task's state letter `S`, a terminal
//! `pts/3`): the one place that turns such a value into its text and a text back into the
//! value, so what a column shows and what a comparison with a string means always agree.

use std::borrow::Cow;

/// The integer views a stdlib column may declare (`column task.tty: tty_device = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntView {
    /// The kernel's task_state_index (0 to 8), shown as the letter /proc/PID/stat shows.
    TaskState,
    /// A terminal's kernel device number (major << 20 | minor), named as ps names it.
    TtyDevice,
}

/// The letters of task_state_index, as the kernel's task_state_array and ps show them.
const STATE_LETTERS: &[u8; 9] = b"RSDTtXZPI";

/// The kernel's major number of the Unix98 pseudo-terminal slaves (/dev/pts/N).
const PTS_MAJOR: u64 = 136;
/// The kernel's major number of the virtual consoles (minors 1-63) and serial ports (64-255).
const TTY_MAJOR: u64 = 4;
/// The major of /dev/console (minor 1).
const CONSOLE_MAJOR: u64 = 5;
const MINOR_BITS: u32 = 20;

impl IntView {
    /// Every view, for the binder's list of column types.
    pub const ALL: [IntView; 2] = [IntView::TaskState, IntView::TtyDevice];

    /// The name a stdlib column declares it by.
    pub fn name(self) -> &'static str {
        match self {
            IntView::TaskState => "task_state",
            IntView::TtyDevice => "tty_device",
        }
    }

    pub fn from_name(name: &str) -> Option<IntView> {
        IntView::ALL.into_iter().find(|v| v.name() == name)
    }

    /// What a string compared with such a column must look like (for a diagnostic).
    pub fn expected(self) -> &'static str {
        match self {
            IntView::TaskState => "one of the letters R, S, D, T, t, X, Z, P, I as ps shows them",
            IntView::TtyDevice => {
                "a terminal as ps names it, such as \"pts/3\", \"tty1\", \"ttyS0\", \"console\" or \"136:3\""
            }
        }
    }

    /// The text shown for `value`.
    pub fn text(self, value: u64) -> Cow<'static, str> {
        match self {
            IntView::TaskState => match STATE_LETTERS.get(value as usize) {
                Some(letter) => Cow::Owned(char::from(*letter).to_string()),
                None => Cow::Owned(value.to_string()),
            },
            IntView::TtyDevice => {
                let (major, minor) = (value >> MINOR_BITS, value & ((1 << MINOR_BITS) - 1));
                Cow::Owned(match (major, minor) {
                    (PTS_MAJOR, n) => format!("pts/{n}"),
                    (TTY_MAJOR, n @ 0..=63) => format!("tty{n}"),
                    (TTY_MAJOR, n @ 64..=255) => format!("ttyS{}", n - 64),
                    (CONSOLE_MAJOR, 1) => "console".to_string(),
                    (major, minor) => format!("{major}:{minor}"),
                })
            }
        }
    }

    /// The value whose text is `text`; None when no value shows as it.
    pub fn value(self, text: &str) -> Option<u64> {
        match self {
            IntView::TaskState => match text.as_bytes() {
                [letter] => STATE_LETTERS
                    .iter()
                    .position(|l| l == letter)
                    .map(|i| i as u64),
                _ => None,
            },
            IntView::TtyDevice => {
                let number = |digits: &str| -> Option<u64> {
                    digits
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| digits.parse().ok())
                        .flatten()
                };
                let device = |major: u64, minor: u64| {
                    (minor < 1 << MINOR_BITS).then_some(major << MINOR_BITS | minor)
                };
                if text == "console" {
                    device(CONSOLE_MAJOR, 1)
                } else if let Some(n) = text.strip_prefix("pts/") {
                    device(PTS_MAJOR, number(n)?)
                } else if let Some(n) = text.strip_prefix("ttyS") {
                    (number(n)? < 192).then(|| device(TTY_MAJOR, number(n)? + 64))?
                } else if let Some(n) = text.strip_prefix("tty") {
                    (number(n)? < 64).then(|| device(TTY_MAJOR, number(n)?))?
                } else {
                    let (major, minor) = text.split_once(':')?;
                    device(number(major)?, number(minor)?)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IntView;

    #[test]
    fn state_letters_round_trip() {
        for (value, letter) in "RSDTtXZPI".chars().enumerate() {
            assert_eq!(IntView::TaskState.text(value as u64), letter.to_string());
            assert_eq!(
                IntView::TaskState.value(&letter.to_string()),
                Some(value as u64)
            );
        }
        assert_eq!(IntView::TaskState.value("s"), None);
        assert_eq!(IntView::TaskState.value("SS"), None);
        assert_eq!(IntView::TaskState.text(9), "9");
    }

    #[test]
    fn terminals_are_named_as_ps_names_them() {
        let cases = [
            ((136 << 20) | 3, "pts/3"),
            ((136 << 20) | 300, "pts/300"),
            ((4 << 20) | 1, "tty1"),
            ((4 << 20) | 64, "ttyS0"),
            ((5 << 20) | 1, "console"),
            ((204 << 20) | 64, "204:64"),
        ];
        for (value, name) in cases {
            assert_eq!(IntView::TtyDevice.text(value), name);
            assert_eq!(IntView::TtyDevice.value(name), Some(value), "{name}");
        }
        for wrong in ["pts/", "pts/x", "tty64", "ttyS192", "pts3", "", "1:2:3"] {
            assert_eq!(IntView::TtyDevice.value(wrong), None, "{wrong}");
        }
    }
}
