//! The netstring framing (`msg2netstring` / `netstring2msg`): what Heartbeat 3.0.6 sends.
//!
//! `###\n`, one netstring `<len>:(<type>)<name>=<value>,` per field (`len` in decimal counts
//! the `(<type>)` prefix), `%%%\n`, then one authentication netstring `<len>:<keyid> <digest>,`
//! over every byte from `###\n` through `%%%\n`.

use heapless::Vec;

use super::message::{Field, FieldType, Framing, Message, Value, push_field};
use super::{DecodeError, MAX_MESSAGE_LEN};

/// The head of a netstring message.
pub(super) const HEAD: &[u8] = b"###\n";
/// The end of its fields (before the authentication netstring).
pub(super) const TAIL: &[u8] = b"%%%\n";

/// The most decimal digits a netstring length may have (the datagram is < 100 000 bytes).
const MAX_LEN_DIGITS: usize = 5;

/// Reads one netstring at `at`: returns its payload and the offset after its comma.
fn netstring(bytes: &[u8], at: usize) -> Result<(&[u8], usize), DecodeError> {
    let rest = bytes.get(at..).unwrap_or_default();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > MAX_LEN_DIGITS || rest.get(digits) != Some(&b':') {
        return Err(DecodeError::BadLength { at });
    }
    // At most five ASCII digits: always a valid, small number.
    let len: usize = rest[..digits].iter().fold(0, |n, d| n * 10 + usize::from(d - b'0'));
    let start = at + digits + 1;
    let end = start.checked_add(len).filter(|end| *end <= bytes.len()).ok_or(DecodeError::LengthOverrun { at })?;
    if bytes.get(end) != Some(&b',') {
        return Err(DecodeError::MissingComma { at: end });
    }
    Ok((&bytes[start..end], end + 1))
}

/// Reads one field's payload `(<type>)<name>=<value>` found at `at`.
fn field(payload: &[u8], at: usize) -> Result<Field<'_>, DecodeError> {
    let bad_tag = DecodeError::BadTypeTag { at };
    let rest = payload.strip_prefix(b"(").ok_or(bad_tag)?;
    // One digit: the length Heartbeat declares counts a three-byte `(<t>)`.
    let (tag, rest) = match rest {
        [t @ b'0'..=b'9', b')', rest @ ..] => (u32::from(t - b'0'), rest),
        _ => return Err(bad_tag),
    };
    let ty = FieldType::from_tag(tag).ok_or(bad_tag)?;
    let eq = rest.iter().position(|b| *b == b'=').ok_or(DecodeError::MissingEquals { at })?;
    let name = core::str::from_utf8(&rest[..eq]).map_err(|_| DecodeError::NotUtf8 { at })?;
    let raw = &rest[eq + 1..];
    let value = match ty {
        FieldType::String => Value::Text(core::str::from_utf8(raw).map_err(|_| DecodeError::NotUtf8 { at })?),
        FieldType::Binary => Value::Binary(raw),
        other => Value::Opaque(other, raw),
    };
    Ok(Field { name, value })
}

/// Decodes a netstring message (`bytes` starts with `###\n`).
pub(super) fn decode(bytes: &[u8]) -> Result<Message<'_>, DecodeError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    if !bytes.starts_with(HEAD) {
        return Err(DecodeError::UnknownFraming);
    }
    let mut fields = Vec::new();
    let mut at = HEAD.len();
    loop {
        if bytes[at..].starts_with(TAIL) {
            break;
        }
        if at >= bytes.len() {
            return Err(DecodeError::MissingEnd);
        }
        let (payload, next) = netstring(bytes, at)?;
        push_field(&mut fields, field(payload, at)?, at)?;
        at = next;
    }
    let signed_end = at + TAIL.len();
    if signed_end >= bytes.len() {
        return Err(DecodeError::MissingTrailer);
    }
    let (trailer, end) = netstring(bytes, signed_end)?;
    let trailer = core::str::from_utf8(trailer).map_err(|_| DecodeError::NotUtf8 { at: signed_end })?;
    if end != bytes.len() {
        return Err(DecodeError::TrailingBytes { at: end });
    }
    Ok(Message { fields, framing: Framing::Netstring, signed: &bytes[..signed_end], trailer: Some(trailer) })
}
