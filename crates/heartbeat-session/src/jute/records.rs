//! The records of the session subset, field for field in the order of ZooKeeper's
//! `zookeeper.jute` (`org.apache.zookeeper.proto`), with the trailing `readOnly` flag that
//! current clients and servers append to the connect records.

use super::codec::{DecodeError, Reader, Writer};
use crate::BufferTooSmall;

/// The length of a session password.
pub const PASSWORD_LEN: usize = 16;
/// The xid of a ping request and its reply.
pub const PING_XID: i32 = -2;
/// The xid of a watch notification (never sent by this crate; a client ignores it).
pub const NOTIFICATION_XID: i32 = -1;
/// `OpCode.ping`.
pub const PING_OP: i32 = 11;
/// `OpCode.closeSession`.
pub const CLOSE_SESSION_OP: i32 = -11;

/// The `KeeperException.Code`s this subset uses (any other value is kept as `Other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0.
    Ok,
    /// −6: the server does not implement the operation.
    Unimplemented,
    /// −112.
    SessionExpired,
    /// −113.
    InvalidCallback,
    /// −115.
    AuthFailed,
    /// −118.
    SessionMoved,
    /// Any other code.
    Other(i32),
}

impl ErrorCode {
    /// The code on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::Ok => 0,
            ErrorCode::Unimplemented => -6,
            ErrorCode::SessionExpired => -112,
            ErrorCode::InvalidCallback => -113,
            ErrorCode::AuthFailed => -115,
            ErrorCode::SessionMoved => -118,
            ErrorCode::Other(c) => c,
        }
    }

    /// The code for a wire value.
    pub const fn from_code(code: i32) -> Self {
        match code {
            0 => ErrorCode::Ok,
            -6 => ErrorCode::Unimplemented,
            -112 => ErrorCode::SessionExpired,
            -113 => ErrorCode::InvalidCallback,
            -115 => ErrorCode::AuthFailed,
            -118 => ErrorCode::SessionMoved,
            c => ErrorCode::Other(c),
        }
    }
}

fn password<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    match r.buffer()? {
        Some(p) if p.len() <= PASSWORD_LEN => Ok(p),
        Some(p) => Err(DecodeError::BadPassword(Some(p.len()))),
        None => Err(DecodeError::BadPassword(None)),
    }
}

/// A client's first record: `ConnectRequest` plus the optional `readOnly` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRequest<'a> {
    /// `protocolVersion` (0).
    pub protocol_version: i32,
    /// `lastZxidSeen`.
    pub last_zxid_seen: i64,
    /// `timeOut`: the session timeout the client asks for, in milliseconds.
    pub timeout_ms: i32,
    /// `sessionId`: 0 for a new session.
    pub session_id: i64,
    /// `passwd`: 16 zero bytes for a new session (at most 16 bytes accepted).
    pub password: &'a [u8],
    /// The trailing `readOnly` flag, `None` when the client sent none.
    pub read_only: Option<bool>,
}

impl<'a> ConnectRequest<'a> {
    /// Decodes one whole record.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let request = ConnectRequest {
            protocol_version: r.int()?,
            last_zxid_seen: r.long()?,
            timeout_ms: r.int()?,
            session_id: r.long()?,
            password: password(&mut r)?,
            read_only: r.optional_boolean()?,
        };
        r.finish()?;
        Ok(request)
    }

    /// Encodes the record (without the frame's length prefix).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.int(self.protocol_version)?;
        w.long(self.last_zxid_seen)?;
        w.int(self.timeout_ms)?;
        w.long(self.session_id)?;
        w.buffer(Some(self.password))?;
        if let Some(ro) = self.read_only {
            w.boolean(ro)?;
        }
        Ok(())
    }
}

/// The server's answer to a [`ConnectRequest`]; `timeout_ms` 0 says the session expired (or
/// never existed, or the password was wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectResponse<'a> {
    /// `protocolVersion` (0).
    pub protocol_version: i32,
    /// `timeOut`: the negotiated session timeout in milliseconds; 0 for an expired session.
    pub timeout_ms: i32,
    /// `sessionId`.
    pub session_id: i64,
    /// `passwd`.
    pub password: &'a [u8],
    /// The trailing `readOnly` flag, `None` when the server sent none.
    pub read_only: Option<bool>,
}

impl<'a> ConnectResponse<'a> {
    /// Decodes one whole record.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let response = ConnectResponse {
            protocol_version: r.int()?,
            timeout_ms: r.int()?,
            session_id: r.long()?,
            password: password(&mut r)?,
            read_only: r.optional_boolean()?,
        };
        r.finish()?;
        Ok(response)
    }

    /// Encodes the record (without the frame's length prefix).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.int(self.protocol_version)?;
        w.int(self.timeout_ms)?;
        w.long(self.session_id)?;
        w.buffer(Some(self.password))?;
        if let Some(ro) = self.read_only {
            w.boolean(ro)?;
        }
        Ok(())
    }
}

/// `RequestHeader`: the start of every request after the connect record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// `xid`: the client's request number ([`PING_XID`] for pings).
    pub xid: i32,
    /// `type`: the operation code.
    pub op: i32,
}

impl RequestHeader {
    /// Decodes the header and returns it with the body that follows it.
    pub fn decode(bytes: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let mut r = Reader::new(bytes);
        let header = RequestHeader { xid: r.int()?, op: r.int()? };
        Ok((header, &bytes[8..]))
    }

    /// Encodes the header.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.int(self.xid)?;
        w.int(self.op)
    }
}

/// `ReplyHeader`: the start of every reply after the connect response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    /// `xid`: the request's.
    pub xid: i32,
    /// `zxid`: the server's last transaction id.
    pub zxid: i64,
    /// `err`: an [`ErrorCode`].
    pub err: ErrorCode,
}

impl ReplyHeader {
    /// Decodes the header and returns it with the body that follows it.
    pub fn decode(bytes: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let mut r = Reader::new(bytes);
        let header = ReplyHeader { xid: r.int()?, zxid: r.long()?, err: ErrorCode::from_code(r.int()?) };
        Ok((header, &bytes[16..]))
    }

    /// Encodes the header.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.int(self.xid)?;
        w.long(self.zxid)?;
        w.int(self.err.code())
    }
}

/// Writes one TCP frame into `buf`: a 4-byte big-endian length, then what `record` writes.
/// Returns the frame's total length.
pub fn frame_into(
    buf: &mut [u8],
    record: impl FnOnce(&mut Writer<'_>) -> Result<(), BufferTooSmall>,
) -> Result<usize, BufferTooSmall> {
    let have = buf.len();
    let (len, body) = buf.split_at_mut_checked(4).ok_or(BufferTooSmall { need: 4, have })?;
    let mut w = Writer::new(body);
    record(&mut w).map_err(|e| BufferTooSmall { need: e.need.saturating_add(4), have })?;
    let n = w.len();
    len.copy_from_slice(&(n as u32).to_be_bytes());
    Ok(n + 4)
}
