//! What `/proc/<pid>/stat` says about a process: its state letter and its parent.

/// The fields of `/proc/<pid>/stat` the binaries and tests look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// `R` running, `S` sleeping, `Z` zombie, `T` stopped, ...
    pub state: char,
    pub ppid: u32,
}

/// Reads `/proc/<pid>/stat`; `None` if the process is gone. The command name sits in
/// parentheses and may itself hold spaces or `)`, so the fields are read after the last `) `.
pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(ProcStat { state, ppid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_stat() {
        let me = stat(std::process::id()).expect("we exist");
        assert!(matches!(me.state, 'R' | 'S'), "{me:?}"); // the main thread may be asleep
        assert_eq!(me.ppid, nix::unistd::getppid().as_raw() as u32);
        assert_eq!(stat(u32::MAX), None);
    }
}
