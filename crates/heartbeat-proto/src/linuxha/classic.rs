//! The classic text framing (`msg2string` / `string2msg`), accepted on receive.
//!
//! `>>>\n`, one line `name=value\n` per field (a binary field as `(1)name=<base64>\n`),
//! `<<<\n`; authenticated by its `auth` field over the lines without head and tail.

use heapless::Vec;

use super::message::{Field, FieldType, Framing, Message, Value, base64_decoded_len, push_field};
use super::{DecodeError, MAX_MESSAGE_LEN};

/// The head of a classic message.
pub(super) const HEAD: &[u8] = b">>>\n";
/// Its tail.
pub(super) const TAIL: &[u8] = b"<<<\n";

/// Reads one line `[(<type>)]name=value` found at `at`.
fn line(text: &str, at: usize) -> Result<Field<'_>, DecodeError> {
    let (ty, rest) = match text.strip_prefix('(') {
        Some(rest) => {
            // One digit, as Heartbeat writes it.
            let tag = match rest.as_bytes() {
                [t @ b'0'..=b'9', b')', ..] => FieldType::from_tag(u32::from(t - b'0')),
                _ => None,
            };
            (tag.ok_or(DecodeError::BadTypeTag { at })?, &rest[2..])
        }
        None => (FieldType::String, text),
    };
    let (name, raw) = rest.split_once('=').ok_or(DecodeError::MissingEquals { at })?;
    let value = match ty {
        FieldType::String => Value::Text(raw),
        FieldType::Binary => {
            base64_decoded_len(raw).ok_or(DecodeError::BadBase64 { at })?;
            Value::Base64(raw)
        }
        other => Value::Opaque(other, raw.as_bytes()),
    };
    Ok(Field { name, value })
}

/// Decodes a classic message (`bytes` starts with `>>>\n`). A trailing NUL after `<<<\n` is
/// tolerated, as C senders may include the string's terminator.
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
        let rest = &bytes[at..];
        if rest.starts_with(TAIL) {
            let end = at + TAIL.len();
            if bytes.len() != end && &bytes[end..] != b"\0" {
                return Err(DecodeError::TrailingBytes { at: end });
            }
            break;
        }
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            return Err(DecodeError::MissingEnd);
        };
        let text = core::str::from_utf8(&rest[..nl]).map_err(|_| DecodeError::NotUtf8 { at })?;
        push_field(&mut fields, line(text, at)?, at)?;
        at += nl + 1;
    }
    Ok(Message { fields, framing: Framing::Classic, signed: &[], trailer: None })
}
