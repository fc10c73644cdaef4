//! The terminal side of the binaries' `--class` mode, the same in every binary: text goes
//! out as it is ready, and before each answer the room gets a moment to guess. That pause
//! waits for Enter only when stdin is a terminal, so a captured, piped or tested run never
//! waits.

use std::io::{IsTerminal, Write};

/// Writes to stdout at once, ignoring a closed pipe (`| head`): the run still finishes and
/// cleans up its workers instead of panicking half-way.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The pause before an answer: "[Enter to reveal]" and a wait for Enter on a terminal,
/// nothing at all otherwise.
pub fn reveal_pause() -> impl FnMut() {
    let interactive = std::io::stdin().is_terminal();
    move || {
        if interactive {
            emit("[Enter to reveal] ");
            let _ = std::io::stdin().read_line(&mut String::new());
        }
    }
}
