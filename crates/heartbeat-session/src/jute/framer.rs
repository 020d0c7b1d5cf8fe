//! Cutting a TCP byte stream into length-prefixed jute frames.

use alloc::vec::Vec;

/// The default cap on a frame's length: ZooKeeper's `jute.maxbuffer` default (0xfffff bytes).
pub const DEFAULT_MAX_FRAME_LEN: usize = 0xf_ffff;

/// Why the stream cannot be framed. The stream is out of step from then on: the framer stays
/// failed and the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A negative length prefix.
    #[error("negative frame length {0}")]
    NegativeLength(i32),
    /// A length prefix above the cap; refused before anything was allocated for it.
    #[error("frame of {len} bytes exceeds the cap of {cap}")]
    TooLong {
        /// The announced length.
        len: usize,
        /// The cap.
        cap: usize,
    },
    /// Bytes after a four-letter word, or after an earlier error.
    #[error("input after the end of the stream")]
    AfterEnd,
}

/// One unit cut from the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole record, without its length prefix.
    Record(&'a [u8]),
    /// A four-letter word (`ruok`, `mntr`, ...) sent instead of the first length prefix.
    FourLetterWord([u8; 4]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the 4-byte prefix (`have` bytes so far).
    Prefix { have: usize },
    /// Collecting a body of `len` bytes.
    Body { len: usize },
    /// A four-letter word or an error ended the stream.
    Ended,
}

/// Feeds on arbitrary chunks of a byte stream (down to one byte at a time) and yields whole
/// frames. Memory grows with the bytes actually received, never with an announced length.
///
/// A four-letter word is recognized when it is enabled, is the first four bytes of the stream
/// and they are all lowercase ASCII letters: read as a length prefix such bytes would announce
/// more than 1.6 GB, far above any cap, so no real frame is mistaken for one.
#[derive(Debug, Clone)]
pub struct Framer {
    cap: usize,
    four_letter_words: bool,
    first: bool,
    prefix: [u8; 4],
    body: Vec<u8>,
    state: State,
    /// The body of the frame yielded last, cleared at the next call.
    yielded: bool,
}

impl Framer {
    /// A framer refusing frames above `cap` bytes; `four_letter_words` lets the first four
    /// bytes of the stream be a four-letter word (server side).
    pub fn new(cap: usize, four_letter_words: bool) -> Self {
        Framer {
            cap,
            four_letter_words,
            first: true,
            prefix: [0; 4],
            body: Vec::new(),
            state: State::Prefix { have: 0 },
            yielded: false,
        }
    }

    /// Whether the stream ended (a four-letter word or an error).
    pub fn ended(&self) -> bool {
        self.state == State::Ended
    }

    /// Takes bytes from the front of `input` until one frame is whole and returns it;
    /// `Ok(None)` when `input` ran out first (all of it was kept). Call again with the rest of
    /// `input` while it is not empty.
    pub fn feed<'s>(&'s mut self, input: &mut &[u8]) -> Result<Option<Frame<'s>>, FrameError> {
        if self.yielded {
            self.body.clear();
            self.yielded = false;
        }
        loop {
            match self.state {
                State::Ended => {
                    return if input.is_empty() { Ok(None) } else { Err(FrameError::AfterEnd) };
                }
                State::Prefix { have } => {
                    let Some((&byte, rest)) = input.split_first() else { return Ok(None) };
                    *input = rest;
                    self.prefix[have] = byte;
                    if have + 1 < 4 {
                        self.state = State::Prefix { have: have + 1 };
                        continue;
                    }
                    let first = core::mem::replace(&mut self.first, false);
                    if first && self.four_letter_words && self.prefix.iter().all(u8::is_ascii_lowercase) {
                        self.state = State::Ended;
                        return Ok(Some(Frame::FourLetterWord(self.prefix)));
                    }
                    let len = i32::from_be_bytes(self.prefix);
                    if len < 0 {
                        self.state = State::Ended;
                        return Err(FrameError::NegativeLength(len));
                    }
                    let len = len as usize;
                    if len > self.cap {
                        self.state = State::Ended;
                        return Err(FrameError::TooLong { len, cap: self.cap });
                    }
                    self.state = State::Body { len };
                }
                State::Body { len } => {
                    let want = len - self.body.len();
                    let n = want.min(input.len());
                    let (take, rest) = input.split_at(n);
                    self.body.extend_from_slice(take);
                    *input = rest;
                    if self.body.len() < len {
                        return Ok(None);
                    }
                    self.state = State::Prefix { have: 0 };
                    self.yielded = true;
                    return Ok(Some(Frame::Record(&self.body)));
                }
            }
        }
    }
}
