//! # poison-pill: Concept 1.1, shutdown through the data channel
//!
//! **Start with [`lesson`]**: the lecture's pool worker ([`lesson::worker_loop`]), the pills
//! ([`lesson::send_pills`]) and the two alternatives the lecture warns about, a `terminate()`
//! and a stop flag beside the queue. Everything else here measures those very functions.
//!
//! A pool of worker processes takes tasks from one queue and puts results on a second one.
//! How do the workers learn that there is no more work? The binary runs the same pool four
//! ways ([`config::Shutdown`]) and accounts for every task id:
//!
//! | mode | how the workers are told to stop | what goes wrong |
//! |---|---|---|
//! | `pill` | one `Msg::Stop` per worker, on the task queue, after the last task | nothing |
//! | `terminate` | `terminate()` (SIGTERM) once the task queue looks empty | the tasks in the workers' hands are lost |
//! | `none` | not at all | the workers wait for ever; `join` has to give up |
//! | `side-channel` | a shared flag, set right after the last put | the flag overtakes the tasks still queued |
//!
//! | module | what |
//! |---|---|
//! | [`lesson`] | the lecture's code: messages, worker, pills, the alternatives |
//! | [`work`] | the work of one task (CPU time) and its expected answer |
//! | [`cli`] | the command line (every `--help` line) |
//! | [`config`] | the knobs and the four ways to stop |
//! | [`scenarios`] | the instrumented runs: forked workers, start gate, accounting |
//! | [`claims`] | a run's figures against the lecture's claims; the `--json` document |
//! | [`render`] | the text output |
//! | [`class`] | `--class`: one scenario for a room, a question before each reveal |
//! | [`lanes`] | the run as a timeline: one lane per process (`--timeline`, `--timeline-svg`) |

pub mod claims;
pub mod class;
pub mod cli;
pub mod config;
pub mod lanes;
pub mod lesson;
pub mod render;
pub mod scenarios;
pub mod work;

#[cfg(test)]
mod tests;
