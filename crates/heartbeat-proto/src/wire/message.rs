//! The validated level: a [`Message`] with typed fields, parsed from and emitted into a
//! [`Frame`].

use core::time::Duration;

use super::frame::Frame;
use super::{AUTH_PREAMBLE_LEN, DecodeError, EncodeError, Field, HEADER_LEN, MAGIC, MAX_TAG_LEN};
use super::{ClusterId, Generation, NodeId, VERSION, flags};
use crate::time::Instant;

/// What a frame asks of its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// "I am alive": refreshes the sender's liveness, carries echoes and timeouts.
    Heartbeat,
    /// "I am leaving on purpose": the receiver marks the sender left instead of waiting for
    /// its timeout.
    Goodbye,
}

impl Kind {
    const fn to_wire(self) -> u8 {
        match self {
            Kind::Heartbeat => 1,
            Kind::Goodbye => 2,
        }
    }

    pub(crate) const fn from_wire(raw: u8) -> Option<Kind> {
        match raw {
            1 => Some(Kind::Heartbeat),
            2 => Some(Kind::Goodbye),
            _ => None,
        }
    }
}

/// The receiver's own timestamp, sent back so that it can measure the round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Echo {
    /// The timestamp of the latest frame the sender received from the receiver, on the
    /// receiver's clock.
    pub timestamp: Instant,
    /// How long the sender held that timestamp before sending this frame, so that the receiver
    /// can subtract it: `rtt = now - timestamp - delay`. Microsecond resolution.
    pub delay: Duration,
}

/// What a node asks of the receiver before authentication is applied: which scheme and key the
/// trailer will carry and how long its tag is. The tag bytes are not part of the message; an
/// authenticator computes them over the encoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthHeader {
    /// The authentication scheme, non-zero.
    pub scheme: u8,
    /// The key id.
    pub key_id: u8,
    /// The tag length in bytes, `1..=MAX_TAG_LEN`.
    pub tag_len: u8,
}

/// One v1 message with every field validated.
///
/// Durations travel as 32-bit microsecond counts: sub-microsecond parts are dropped by
/// [`emit`](Self::emit), and values above `u32::MAX` µs (about 71 minutes) are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Message {
    /// Heartbeat or goodbye.
    pub kind: Kind,
    /// The sender's cluster; other clusters ignore the frame.
    pub cluster: ClusterId,
    /// Who sent it (never 0).
    pub sender: NodeId,
    /// Who it is addressed to; `None` for every node (multicast or broadcast). Frames to every
    /// node carry no per-receiver fields: no echo, no `hears_you`, no applied timeout.
    pub receiver: Option<NodeId>,
    /// The sender's incarnation: higher after every restart.
    pub generation: Generation,
    /// Increases by one per heartbeat round within a generation.
    pub sequence: u64,
    /// The sender's clock when it sent the frame.
    pub timestamp: Instant,
    /// The receiver's timestamp echoed back, if the sender has heard the receiver.
    pub echo: Option<Echo>,
    /// How often the sender sends.
    pub interval: Duration,
    /// The timeout the sender asks the receiver to hold it to (Linux-HA's deadtime).
    pub requested_timeout: Duration,
    /// The timeout the sender, in turn, applies to the receiver after clamping.
    pub applied_timeout: Option<Duration>,
    /// The sender currently hears the receiver: the path works both ways.
    pub hears_you: bool,
    /// The authentication trailer's layout, if the frame is authenticated.
    pub auth: Option<AuthHeader>,
}

fn micros(raw: u32) -> Duration {
    Duration::from_micros(u64::from(raw))
}

fn wire_micros(d: Duration, field: Field) -> Result<u32, EncodeError> {
    crate::time::checked_micros_u32(d).ok_or(EncodeError::FieldOutOfRange(field))
}

impl Message {
    /// A heartbeat from `sender`, to every node of `cluster`: no echo, not hearing anyone, no
    /// applied timeout, no authentication. Narrow it with [`to`](Self::to),
    /// [`hearing`](Self::hearing), [`with_echo`](Self::with_echo) or [`goodbye`](Self::goodbye);
    /// encode and sign it in one step with [`Authentication::encode`](crate::Authentication::encode).
    pub const fn heartbeat(
        cluster: ClusterId,
        sender: NodeId,
        generation: Generation,
        sequence: u64,
        timestamp: Instant,
        interval: Duration,
        requested_timeout: Duration,
    ) -> Message {
        Message {
            kind: Kind::Heartbeat,
            cluster,
            sender,
            receiver: None,
            generation,
            sequence,
            timestamp,
            echo: None,
            interval,
            requested_timeout,
            applied_timeout: None,
            hears_you: false,
            auth: None,
        }
    }

    /// The same message addressed to `receiver` alone.
    pub const fn to(self, receiver: NodeId) -> Message {
        Message { receiver: Some(receiver), ..self }
    }

    /// The same message as a goodbye.
    pub const fn goodbye(self) -> Message {
        Message { kind: Kind::Goodbye, ..self }
    }

    /// The same message saying the sender hears its receiver and holds it to `applied_timeout`
    /// (only valid on an addressed message: see [`to`](Self::to)).
    pub const fn hearing(self, applied_timeout: Option<Duration>) -> Message {
        Message { hears_you: true, applied_timeout, ..self }
    }

    /// The same message echoing the receiver's timestamp (only valid on an addressed message).
    pub const fn with_echo(self, echo: Echo) -> Message {
        Message { echo: Some(echo), ..self }
    }

    /// The encoded length: the header, plus the trailer if authenticated.
    pub fn wire_len(&self) -> usize {
        match self.auth {
            None => HEADER_LEN,
            Some(a) => HEADER_LEN + AUTH_PREAMBLE_LEN + usize::from(a.tag_len),
        }
    }

    /// Checks a frame's structure ([`Frame::check`]) and validates its fields. Never panics,
    /// even on a frame made with [`Frame::new_unchecked`] over a short buffer.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Message, DecodeError> {
        // Structure first (cheap), so that a frame made with `new_unchecked` cannot panic here.
        frame.check()?;
        let out_of_range = DecodeError::FieldOutOfRange;
        // `check` accepted the kind, so this cannot fail; stay typed anyway.
        let kind = Kind::from_wire(frame.kind_raw()).ok_or(DecodeError::UnknownKind(frame.kind_raw()))?;
        let raw_flags = frame.flags();
        let sender = NodeId::new(frame.sender()).ok_or(out_of_range(Field::Sender))?;
        let receiver = NodeId::new(frame.receiver());
        if receiver == Some(sender) {
            return Err(out_of_range(Field::Receiver));
        }
        let interval = frame.interval_us();
        if interval == 0 {
            return Err(out_of_range(Field::Interval));
        }
        let requested = frame.requested_timeout_us();
        if requested < interval {
            return Err(out_of_range(Field::RequestedTimeout));
        }
        let echo = if raw_flags & flags::ECHO != 0 {
            if receiver.is_none() {
                return Err(out_of_range(Field::Echo));
            }
            Some(Echo { timestamp: Instant::from_nanos(frame.echo_timestamp()), delay: micros(frame.echo_delay_us()) })
        } else {
            if frame.echo_timestamp() != 0 || frame.echo_delay_us() != 0 {
                return Err(out_of_range(Field::Echo));
            }
            None
        };
        let hears_you = raw_flags & flags::HEARS_YOU != 0;
        if hears_you && receiver.is_none() {
            return Err(out_of_range(Field::HearsYou));
        }
        let applied_timeout = match frame.applied_timeout_us() {
            0 => None,
            _ if receiver.is_none() => return Err(out_of_range(Field::AppliedTimeout)),
            us => Some(micros(us)),
        };
        let auth = frame.auth_trailer().map(|t| AuthHeader {
            scheme: t.scheme,
            key_id: t.key_id,
            // `check` bounded the tag length to MAX_TAG_LEN, which fits a byte.
            tag_len: t.tag.len() as u8,
        });
        Ok(Message {
            kind,
            cluster: ClusterId(frame.cluster()),
            sender,
            receiver,
            generation: Generation(frame.generation()),
            sequence: frame.sequence(),
            timestamp: Instant::from_nanos(frame.timestamp()),
            echo,
            interval: micros(interval),
            requested_timeout: micros(requested),
            applied_timeout,
            hears_you,
            auth,
        })
    }

    /// Checks and parses a whole frame: `Frame::new_checked` then [`parse`](Self::parse).
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        Message::parse(&Frame::new_unchecked(bytes))
    }

    /// Checks that every field can be encoded, the same rules [`parse`](Self::parse) applies.
    fn validate(&self) -> Result<WireTimes, EncodeError> {
        let bad = EncodeError::FieldOutOfRange;
        if self.receiver == Some(self.sender) {
            return Err(bad(Field::Receiver));
        }
        let interval = wire_micros(self.interval, Field::Interval)?;
        if interval == 0 {
            return Err(bad(Field::Interval));
        }
        let requested = wire_micros(self.requested_timeout, Field::RequestedTimeout)?;
        if requested < interval {
            return Err(bad(Field::RequestedTimeout));
        }
        let broadcast = self.receiver.is_none();
        if broadcast && self.echo.is_some() {
            return Err(bad(Field::Echo));
        }
        if broadcast && self.hears_you {
            return Err(bad(Field::HearsYou));
        }
        let applied = match self.applied_timeout {
            None => 0,
            Some(_) if broadcast => return Err(bad(Field::AppliedTimeout)),
            Some(d) => match wire_micros(d, Field::AppliedTimeout)? {
                0 => return Err(bad(Field::AppliedTimeout)),
                us => us,
            },
        };
        let echo_delay = match self.echo {
            None => 0,
            Some(e) => wire_micros(e.delay, Field::Echo)?,
        };
        if let Some(a) = self.auth
            && (a.scheme == 0 || a.tag_len == 0 || usize::from(a.tag_len) > MAX_TAG_LEN)
        {
            return Err(bad(Field::AuthTag));
        }
        Ok(WireTimes { interval, requested, applied, echo_delay })
    }

    /// Writes the message into a frame over a buffer of at least [`wire_len`](Self::wire_len)
    /// bytes. With `auth` set, the trailer's preamble is written and the tag bytes are zeroed
    /// for an authenticator to fill in.
    ///
    /// Fails without writing if a field is out of range or the buffer is short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) -> Result<(), EncodeError> {
        let times = self.validate()?;
        let required = self.wire_len();
        let available = frame.as_bytes().len();
        if available < required {
            return Err(EncodeError::BufferTooSmall { required, available });
        }
        self.write(frame, times, required);
        Ok(())
    }

    /// Encodes a message this crate built from a validated configuration, which is valid by
    /// construction (checked in debug builds), into a buffer exactly [`wire_len`](Self::wire_len)
    /// long. The state machines' send path, spared `validate`'s second look.
    pub(crate) fn encode_valid(&self, buf: &mut [u8]) {
        debug_assert_eq!(self.validate().err(), None, "{self:?}");
        debug_assert_eq!(buf.len(), self.wire_len());
        let micros = crate::time::duration_micros_u32;
        let times = WireTimes {
            interval: micros(self.interval),
            requested: micros(self.requested_timeout),
            applied: self.applied_timeout.map_or(0, micros),
            echo_delay: self.echo.map_or(0, |e| micros(e.delay)),
        };
        let len = self.wire_len();
        self.write(&mut Frame::new_unchecked(buf), times, len);
    }

    /// Writes every field; the caller checked them and the buffer's size.
    fn write<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>, times: WireTimes, len: usize) {
        let mut flag_bits = 0;
        if self.echo.is_some() {
            flag_bits |= flags::ECHO;
        }
        if self.hears_you {
            flag_bits |= flags::HEARS_YOU;
        }
        if self.auth.is_some() {
            flag_bits |= flags::AUTH;
        }
        frame.set_magic(MAGIC);
        frame.set_version(VERSION);
        frame.set_kind_raw(self.kind.to_wire());
        frame.set_flags(flag_bits);
        // `wire_len` is at most HEADER_LEN + 4 + MAX_TAG_LEN, far below u16::MAX.
        frame.set_length(len as u16);
        frame.set_cluster(self.cluster.0);
        frame.set_generation(self.generation.0);
        frame.set_sender(self.sender.get());
        frame.set_receiver(self.receiver.map_or(0, NodeId::get));
        frame.set_sequence(self.sequence);
        frame.set_timestamp(self.timestamp.as_nanos());
        frame.set_echo_timestamp(self.echo.map_or(0, |e| e.timestamp.as_nanos()));
        frame.set_echo_delay_us(times.echo_delay);
        frame.set_interval_us(times.interval);
        frame.set_requested_timeout_us(times.requested);
        frame.set_applied_timeout_us(times.applied);
        if let Some(a) = self.auth {
            frame.set_auth_preamble(a.scheme, a.key_id, a.tag_len);
            frame.tag_mut().fill(0);
        }
    }

    /// Encodes into the front of `buf` and returns the number of bytes written. Never
    /// allocates; fails without writing if `buf` is too short or a field is out of range.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.wire_len();
        let available = buf.len();
        let Some(out) = buf.get_mut(..len) else {
            // Validate first so that a bad field is reported as such even on a short buffer.
            self.validate()?;
            return Err(EncodeError::BufferTooSmall { required: len, available });
        };
        self.emit(&mut Frame::new_unchecked(out))?;
        Ok(len)
    }
}

/// Durations already converted to their wire representation by `validate`.
struct WireTimes {
    interval: u32,
    requested: u32,
    applied: u32,
    echo_delay: u32,
}

#[cfg(feature = "bytes")]
mod with_bytes {
    use super::*;
    use bytes::{Buf, BufMut};

    impl Message {
        /// Appends the encoded message to a `BufMut`. Fails without writing if the buffer has
        /// too little room left or a field is out of range.
        pub fn put<B: BufMut>(&self, buf: &mut B) -> Result<(), EncodeError> {
            let mut scratch = [0u8; super::super::MAX_FRAME_LEN];
            let len = self.encode(&mut scratch)?;
            if buf.remaining_mut() < len {
                return Err(EncodeError::BufferTooSmall { required: len, available: buf.remaining_mut() });
            }
            buf.put_slice(&scratch[..len]);
            Ok(())
        }

        /// Decodes one frame that occupies all of `buf`'s remaining bytes (a datagram) and
        /// consumes it.
        ///
        /// A contiguous buffer such as `Bytes` or `BytesMut` is left untouched on error. A
        /// chained buffer is gathered first and therefore consumed even on error; input longer
        /// than [`MAX_FRAME_LEN`](super::super::MAX_FRAME_LEN) is rejected without consuming, as
        /// `TrailingBytes` past the longest frame there can be.
        pub fn get<B: Buf>(buf: &mut B) -> Result<Message, DecodeError> {
            let len = buf.remaining();
            if buf.chunk().len() >= len {
                let msg = Message::decode(&buf.chunk()[..len])?;
                buf.advance(len);
                return Ok(msg);
            }
            let mut scratch = [0u8; super::super::MAX_FRAME_LEN];
            let Some(gathered) = scratch.get_mut(..len) else {
                return Err(DecodeError::TrailingBytes { declared: super::super::MAX_FRAME_LEN, actual: len });
            };
            buf.copy_to_slice(gathered);
            Message::decode(gathered)
        }
    }
}
