//! jute primitives: a zero-copy [`Reader`] and a [`Writer`] into a caller's buffer.

use crate::BufferTooSmall;

/// Why bytes did not decode as the expected jute record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record ends early: `need` more bytes were expected at offset `at`.
    #[error("truncated at byte {at}: {need} more bytes needed")]
    Truncated {
        /// Where the missing field starts.
        at: usize,
        /// How many bytes it needs.
        need: usize,
    },
    /// A `boolean` byte other than 0 or 1.
    #[error("boolean byte {0} is neither 0 nor 1")]
    BadBoolean(u8),
    /// A `buffer` length below −1.
    #[error("negative buffer length {0}")]
    NegativeLength(i32),
    /// Bytes left over after the record (and its optional trailing fields).
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// A password `buffer` that is null or longer than [`PASSWORD_LEN`](super::PASSWORD_LEN).
    #[error("password of {0:?} bytes (at most 16, not null)")]
    BadPassword(Option<usize>),
}

/// Reads jute fields from a byte slice, front to back, borrowing buffers from it.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// Takes the next `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = &self.bytes[self.at..];
        if rest.len() < n {
            return Err(DecodeError::Truncated { at: self.at, need: n - rest.len() });
        }
        self.at += n;
        Ok(&rest[..n])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A jute `int`.
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    /// A jute `long`.
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    /// A jute `boolean`: strictly 0 or 1.
    pub fn boolean(&mut self) -> Result<bool, DecodeError> {
        match self.array::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::BadBoolean(other)),
        }
    }

    /// A trailing optional `boolean`: `None` when no byte is left.
    pub fn optional_boolean(&mut self) -> Result<Option<bool>, DecodeError> {
        if self.remaining() == 0 { Ok(None) } else { self.boolean().map(Some) }
    }

    /// A jute `buffer`: `None` for the null buffer (length −1).
    pub fn buffer(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.int()? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength(n)),
            n => self.take(n as usize).map(Some),
        }
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Writes jute fields into a caller's buffer, front to back.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, at: 0 }
    }

    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.at
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.at == 0
    }

    /// Appends raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.at + bytes.len();
        let have = self.buf.len();
        let dst = self.buf.get_mut(self.at..end).ok_or(BufferTooSmall { need: end, have })?;
        dst.copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }

    /// A jute `int`.
    pub fn int(&mut self, v: i32) -> Result<(), BufferTooSmall> {
        self.raw(&v.to_be_bytes())
    }

    /// A jute `long`.
    pub fn long(&mut self, v: i64) -> Result<(), BufferTooSmall> {
        self.raw(&v.to_be_bytes())
    }

    /// A jute `boolean`.
    pub fn boolean(&mut self, v: bool) -> Result<(), BufferTooSmall> {
        self.raw(&[u8::from(v)])
    }

    /// A jute `buffer`; `None` writes the null buffer. A slice longer than `i32::MAX` bytes
    /// cannot be expressed and reports the buffer too small for it.
    pub fn buffer(&mut self, v: Option<&[u8]>) -> Result<(), BufferTooSmall> {
        match v {
            None => self.int(-1),
            Some(b) => {
                let n =
                    i32::try_from(b.len()).map_err(|_| BufferTooSmall { need: usize::MAX, have: self.buf.len() })?;
                self.int(n)?;
                self.raw(b)
            }
        }
    }
}
