//! What the server reports: [`ServerEvent`], [`ServerError`] and [`ServerStats`].

use core::time::Duration;

use heartbeat_proto::engine::SessionHandle;

use crate::jute::{DecodeError, FrameError};

/// A session id: the server id in the top byte; below it a tag and the slot (see the
/// [`server`](super) module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub i64);

impl SessionId {
    /// The id of the server that created the session (its top byte).
    pub const fn server_id(self) -> u8 {
        (self.0 as u64 >> 56) as u8
    }
}

/// Names one client connection of a [`Server`](super::Server); stale once it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) SessionHandle);

/// A change of a session, or a resource it released.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent<R> {
    /// A new session, granted `timeout`.
    Created {
        /// Its id.
        session: SessionId,
        /// Its handle, for [`attach`](super::Server::attach) and [`touch`](super::Server::touch).
        handle: SessionHandle,
        /// The connection that asked for it.
        connection: ConnectionId,
        /// The negotiated timeout.
        timeout: Duration,
    },
    /// A client reconnected to its session with the right password.
    Resumed {
        /// The session.
        session: SessionId,
        /// The new connection.
        connection: ConnectionId,
        /// The timeout negotiated anew.
        timeout: Duration,
    },
    /// The client closed its session (closeSession), or the owner called
    /// [`close_session`](super::Server::close_session).
    Closed {
        /// The session.
        session: SessionId,
    },
    /// Nothing was heard from the session for its whole timeout.
    Expired {
        /// The session.
        session: SessionId,
        /// How long it had been silent when it expired.
        silent_for: Duration,
    },
    /// A resource attached to a session that closed or expired is released; it comes right
    /// before that session's `Closed` or `Expired`, in the order the resources were attached.
    Released {
        /// The session that owned it.
        session: SessionId,
        /// The resource.
        resource: R,
    },
}

/// Why input on a connection was refused. Session state is unchanged (the refused
/// connect is answered with the expired-session reply, as ZooKeeper does); errors of framing
/// and decoding close the connection, whose stream is out of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The connection id is stale or was never issued.
    #[error("unknown connection")]
    UnknownConnection,
    /// The byte stream could not be framed.
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// A frame did not decode.
    #[error("decoding: {0}")]
    Decode(#[from] DecodeError),
    /// A reconnect named a session this server does not have (never had, or it expired).
    #[error("unknown or expired session {0:?}")]
    UnknownSession(SessionId),
    /// A reconnect named a live session with the wrong password.
    #[error("wrong password for session {0:?}")]
    WrongPassword(SessionId),
    /// A four-letter word this server does not answer.
    #[error("unknown four-letter word {0:?}")]
    UnknownFourLetterWord([u8; 4]),
    /// The session table is full.
    #[error("session table full")]
    TableFull,
}

/// Counters of what the server did and refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Frames accepted.
    pub frames: u64,
    /// Pings answered.
    pub pings: u64,
    /// Requests answered with UNIMPLEMENTED.
    pub unimplemented: u64,
    /// Sessions created.
    pub created: u64,
    /// Sessions resumed.
    pub resumed: u64,
    /// Sessions closed.
    pub closed: u64,
    /// Sessions expired.
    pub expired: u64,
    /// Expiries the pause guard deferred.
    pub held_by_pause: u64,
    /// Server pauses detected.
    pub pauses: u64,
    /// Streams refused by the framer.
    pub bad_frames: u64,
    /// Frames that did not decode.
    pub bad_records: u64,
    /// Reconnects to an unknown or expired session.
    pub unknown_sessions: u64,
    /// Reconnects with a wrong password.
    pub wrong_passwords: u64,
    /// Four-letter words answered.
    pub four_letter_words: u64,
    /// Four-letter words refused.
    pub unknown_four_letter_words: u64,
    /// Bytes ignored because their connection had ended.
    pub ignored_bytes: u64,
}
