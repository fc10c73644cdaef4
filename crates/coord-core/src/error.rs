use std::fmt;
use std::io;

/// Everything that can go wrong in coord-core, in words a student can act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a call (fork, mmap, pipe, ...).
    Io(io::Error),
    /// `Queue::get`: the queue is empty and every process that ever put on it has exited or
    /// closed its end, so nothing can arrive any more.
    Disconnected,
    /// A `*_timeout` call waited its whole timeout.
    Timeout,
    /// `Queue::try_get`: nothing is waiting right now.
    Empty,
    /// The channel's bytes are no longer a sequence of whole messages (a process was killed
    /// in the middle of writing or reading a large message).
    Corrupted(String),
    /// A value could not be serialized.
    Encode(postcard::Error),
    /// Bytes received could not be decoded as the expected type (a malformed message).
    Decode(postcard::Error),
    /// An index past the fixed length of a shared array.
    OutOfBounds { index: usize, len: usize },
    /// A message larger than the channel accepts.
    TooLarge { len: usize, max: usize },
    /// Never returned: the limit it stood for (`MAX_PRODUCERS`) was never enforced and is gone.
    TooManyProducers { max: usize },
    /// A shared array larger than [`MAX_SHARED_BYTES`](crate::MAX_SHARED_BYTES): `len`
    /// elements of `elem_size` bytes (a product that may not even fit in a `usize`).
    SharedTooLarge {
        len: usize,
        elem_size: usize,
        max: usize,
    },
    /// The manager process has exited: its proxies cannot reach it.
    ServerGone,
    /// The manager refused the call (for example, a list index out of range).
    Remote(String),
    /// An argument no call could honour (a barrier of zero parties, ...), with why.
    InvalidArgument(String),
    /// `Barrier::wait`: another party gave up waiting (or the barrier was aborted), so this
    /// round can never open.
    BrokenBarrier,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "operating system error: {e}"),
            Error::Disconnected => {
                f.write_str("queue disconnected: it is empty and every producer has exited or closed it")
            }
            Error::Timeout => f.write_str("timed out"),
            Error::Empty => f.write_str("queue is empty"),
            Error::Corrupted(why) => write!(f, "channel corrupted: {why}"),
            Error::Encode(e) => write!(f, "could not serialize the message: {e}"),
            Error::Decode(e) => write!(f, "malformed message (could not decode it): {e}"),
            Error::OutOfBounds { index, len } => {
                write!(
                    f,
                    "index {index} is out of bounds: the shared array has a fixed length of {len}"
                )
            }
            Error::TooLarge { len, max } => write!(
                f,
                "message of {len} bytes is larger than the maximum of {max} bytes"
            ),
            Error::TooManyProducers { max } => write!(f, "more than {max} processes put on this queue"),
            Error::SharedTooLarge { len, elem_size, max } => write!(
                f,
                "a shared array of {len} elements of {elem_size} bytes each is larger than the \
                 limit of {max} bytes (MAX_SHARED_BYTES)"
            ),
            Error::ServerGone => f.write_str("the manager process is gone (it exited or was killed)"),
            Error::Remote(msg) => write!(f, "the manager refused the call: {msg}"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::BrokenBarrier => {
                f.write_str("barrier broken: another party timed out or aborted, so this round cannot open")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Encode(e) | Error::Decode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Io(io::Error::from(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
