//! The message model: an ordered list of `(name, type, value)` fields borrowed from the datagram.

// The encoding helpers serve the signing encoders of `linuxha-auth`.
#![cfg_attr(not(feature = "linuxha-auth"), allow(dead_code))]

use heapless::Vec;

use super::DecodeError;

/// The most fields one message may carry (a status heartbeat has 11).
pub const MAX_FIELDS: usize = 32;

/// A field's type tag (`FT_*` in cluster-glue's `ha_msg.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// 0: text.
    String,
    /// 1: raw bytes (base64 in the classic framing).
    Binary,
    /// 2: a nested message.
    Struct,
    /// 3: a list of strings.
    List,
    /// 4: zlib-compressed content.
    Compress,
    /// 5: uncompressed nested content.
    Uncompress,
}

impl FieldType {
    /// The type for a wire tag, `None` for an unknown one.
    pub const fn from_tag(tag: u32) -> Option<FieldType> {
        Some(match tag {
            0 => FieldType::String,
            1 => FieldType::Binary,
            2 => FieldType::Struct,
            3 => FieldType::List,
            4 => FieldType::Compress,
            5 => FieldType::Uncompress,
            _ => return None,
        })
    }

    /// The wire tag.
    pub const fn tag(self) -> u8 {
        match self {
            FieldType::String => 0,
            FieldType::Binary => 1,
            FieldType::Struct => 2,
            FieldType::List => 3,
            FieldType::Compress => 4,
            FieldType::Uncompress => 5,
        }
    }
}

/// A field's value, as the datagram carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A string field (type 0).
    Text(&'a str),
    /// A binary field as raw bytes (netstring framing).
    Binary(&'a [u8]),
    /// A binary field as standard, padded base64 (classic framing); checked to decode.
    Base64(&'a str),
    /// A field of another type, kept as its raw bytes (never part of a heartbeat).
    Opaque(FieldType, &'a [u8]),
}

impl Value<'_> {
    /// The field's type.
    pub const fn field_type(&self) -> FieldType {
        match self {
            Value::Text(_) => FieldType::String,
            Value::Binary(_) | Value::Base64(_) => FieldType::Binary,
            Value::Opaque(ty, _) => *ty,
        }
    }
}

/// One field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field<'a> {
    /// Its name (`t`, `src`, `seq`, ...).
    pub name: &'a str,
    /// Its value.
    pub value: Value<'a>,
}

impl<'a> Field<'a> {
    /// A string field.
    pub const fn text(name: &'a str, value: &'a str) -> Self {
        Field { name, value: Value::Text(value) }
    }

    /// A binary field.
    pub const fn binary(name: &'a str, value: &'a [u8]) -> Self {
        Field { name, value: Value::Binary(value) }
    }
}

/// How a message was framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// `###\n` netstrings `%%%\n` and an authentication netstring: what 3.0.6 sends.
    Netstring,
    /// `>>>\n` `name=value` lines `<<<\n`, authenticated by its `auth` field.
    Classic,
}

/// Why a field could not be read as what it should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A required field is absent.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// The field is not a string field.
    #[error("field `{0}` is not text")]
    NotText(&'static str),
    /// The field is not a binary field of the expected length.
    #[error("field `{0}` is not binary of the expected length")]
    BadBinary(&'static str),
    /// The field is not a number in its encoding (hex or decimal), or overflows.
    #[error("field `{0}` is not a valid number")]
    BadNumber(&'static str),
}

/// A decoded message: its fields in wire order, borrowed from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub(super) fields: Vec<Field<'a>, MAX_FIELDS>,
    pub(super) framing: Framing,
    /// Netstring: the authenticated bytes (`###\n` through `%%%\n`). Classic: empty.
    pub(super) signed: &'a [u8],
    /// Netstring: the trailer's `<keyid> <digest>`. Classic: `None`.
    pub(super) trailer: Option<&'a str>,
}

impl<'a> Message<'a> {
    /// Decodes one datagram in either framing (dispatching on its first four bytes, as
    /// Heartbeat's `wirefmt2msg` does). Authenticity is not checked here.
    pub fn decode(bytes: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        if bytes.len() > super::MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong(bytes.len()));
        }
        match bytes.get(..4) {
            Some(super::netstring::HEAD) => super::netstring::decode(bytes),
            Some(super::classic::HEAD) => super::classic::decode(bytes),
            _ => Err(DecodeError::UnknownFraming),
        }
    }

    /// The fields, in wire order (the inner `auth` field included).
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// The framing it arrived in.
    pub const fn framing(&self) -> Framing {
        self.framing
    }

    /// The netstring trailer (`<keyid> <digest>`), `None` for a classic message.
    pub const fn trailer(&self) -> Option<&'a str> {
        self.trailer
    }

    /// The bytes the netstring trailer authenticates (empty for a classic message).
    pub const fn signed_bytes(&self) -> &'a [u8] {
        self.signed
    }

    /// The value of the field `name`.
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.fields.iter().find(|f| f.name == name).map(|f| f.value)
    }

    /// The string field `name`, `Ok(None)` when absent.
    pub fn text(&self, name: &'static str) -> Result<Option<&'a str>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s)),
            Some(_) => Err(FieldError::NotText(name)),
        }
    }

    /// The string field `name`, required.
    pub fn require_text(&self, name: &'static str) -> Result<&'a str, FieldError> {
        self.text(name)?.ok_or(FieldError::Missing(name))
    }

    /// A lower-case hex number field (`seq`, `hg`, `ts`, `dt`, `ackseq`; `%lx`, no `0x`).
    pub fn hex(&self, name: &'static str) -> Result<Option<u64>, FieldError> {
        self.text(name)?.map(|s| parse_number(s, 16).ok_or(FieldError::BadNumber(name))).transpose()
    }

    /// A decimal number field (`ttl`, `protocol`, a rexmit request's `firstseq`/`lastseq`).
    pub fn decimal(&self, name: &'static str) -> Result<Option<u64>, FieldError> {
        self.text(name)?.map(|s| parse_number(s, 10).ok_or(FieldError::BadNumber(name))).transpose()
    }

    /// A binary field of exactly `N` bytes, decoded from base64 if it came in classic framing.
    pub fn binary<const N: usize>(&self, name: &'static str) -> Result<Option<[u8; N]>, FieldError> {
        let mut out = [0u8; N];
        match self.get(name) {
            None => Ok(None),
            Some(Value::Binary(b)) if b.len() == N => {
                out.copy_from_slice(b);
                Ok(Some(out))
            }
            Some(Value::Base64(s)) => match base64_decode_into(s, &mut out) {
                Some(n) if n == N => Ok(Some(out)),
                _ => Err(FieldError::BadBinary(name)),
            },
            Some(_) => Err(FieldError::BadBinary(name)),
        }
    }
}

/// Parses an unsigned number in `radix` (10 or 16): digits only, no sign, no prefix, no
/// overflow; upper-case hex digits are accepted as `strtoul` accepts them.
pub(super) fn parse_number(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(s, radix).ok()
}

/// Formats `v` in lower-case hex (`%lx`) or decimal into `buf`, returning the digits.
pub(super) fn format_number(v: u64, radix: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        // `v % radix` < 16, so the index is in range.
        buf[i] = b"0123456789abcdef"[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The length `base64` decodes to, if it is valid standard padded base64.
pub(super) fn base64_decoded_len(s: &str) -> Option<usize> {
    use base64ct::Encoding;
    let mut scratch = [0u8; 3];
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let last = (bytes.len() / 4).saturating_sub(1);
    let mut total = 0usize;
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let chunk = core::str::from_utf8(chunk).ok()?;
        let out = base64ct::Base64::decode(chunk, &mut scratch).ok()?;
        // Padding only in the last chunk.
        if out.len() < 3 && i != last {
            return None;
        }
        total += out.len();
    }
    Some(total)
}

/// Decodes `s` (standard padded base64) into `out`, returning the length; `None` if invalid
/// or too long for `out`.
pub(super) fn base64_decode_into(s: &str, out: &mut [u8]) -> Option<usize> {
    use base64ct::Encoding;
    base64_decoded_len(s)?;
    base64ct::Base64::decode(s, out).ok().map(<[u8]>::len)
}

/// Streams the standard padded base64 of `bytes` into `sink`, 64 characters at a time.
pub(super) fn base64_stream(bytes: &[u8], mut sink: impl FnMut(&[u8])) {
    use base64ct::Encoding;
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(48) {
        if let Ok(text) = base64ct::Base64::encode(chunk, &mut buf) {
            sink(text.as_bytes());
        }
    }
}

/// Streams the decoded bytes of checked base64 `s` into `sink`, 3 bytes at a time.
pub(super) fn base64_decode_stream(s: &str, mut sink: impl FnMut(&[u8])) {
    use base64ct::Encoding;
    let mut buf = [0u8; 3];
    for chunk in s.as_bytes().chunks(4) {
        if let Ok(chunk) = core::str::from_utf8(chunk)
            && let Ok(out) = base64ct::Base64::decode(chunk, &mut buf)
        {
            sink(out);
        }
    }
}

/// Streams the classic text of `fields` without head and tail (`msg2string_buf(..., NOHEAD)`):
/// `name=value\n` per field, binary as `(1)name=<base64>\n`, skipping the `auth` field. This is
/// what the inner `auth` field authenticates. Fails on a field type that has no classic text
/// here (nested messages, lists, compressed content).
pub(super) fn classic_text(fields: &[Field<'_>], mut sink: impl FnMut(&[u8])) -> Result<(), FieldType> {
    for field in fields.iter().filter(|f| f.name != super::AUTH_FIELD) {
        match field.value {
            Value::Text(v) => {
                sink(field.name.as_bytes());
                sink(b"=");
                sink(v.as_bytes());
            }
            Value::Binary(b) => {
                sink(b"(1)");
                sink(field.name.as_bytes());
                sink(b"=");
                base64_stream(b, &mut sink);
            }
            Value::Base64(s) => {
                sink(b"(1)");
                sink(field.name.as_bytes());
                sink(b"=");
                sink(s.as_bytes());
            }
            Value::Opaque(ty, _) => return Err(ty),
        }
        sink(b"\n");
    }
    Ok(())
}

/// Pushes a field, refusing a duplicate name or one field too many.
pub(super) fn push_field<'a>(
    fields: &mut Vec<Field<'a>, MAX_FIELDS>,
    field: Field<'a>,
    at: usize,
) -> Result<(), DecodeError> {
    if field.name.is_empty() {
        return Err(DecodeError::EmptyName { at });
    }
    if fields.iter().any(|f| f.name == field.name) {
        return Err(DecodeError::DuplicateField { at });
    }
    fields.push(field).map_err(|_| DecodeError::TooManyFields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_in_their_radix_and_refuse_junk() {
        assert_eq!(parse_number("fa0", 16), Some(0xfa0));
        assert_eq!(parse_number("FA0", 16), Some(0xfa0));
        assert_eq!(parse_number("10", 10), Some(10));
        assert_eq!(parse_number("fa0", 10), None);
        assert_eq!(parse_number("", 16), None);
        assert_eq!(parse_number("+1", 10), None);
        assert_eq!(parse_number("0x1", 16), None);
        assert_eq!(parse_number("1ffffffffffffffff", 16), None);
        let mut b = [0; 20];
        assert_eq!(format_number(0x6b07685a, 16, &mut b), b"6b07685a");
        assert_eq!(format_number(0, 16, &mut b), b"0");
        assert_eq!(format_number(u64::MAX, 10, &mut b), b"18446744073709551615");
    }

    #[test]
    fn base64_checks_padding_and_alphabet() {
        assert_eq!(base64_decoded_len("6xYnerDXR16vC7z8XlhmPw=="), Some(16));
        assert_eq!(base64_decoded_len(""), Some(0));
        assert_eq!(base64_decoded_len("6xY="), Some(2));
        assert_eq!(base64_decoded_len("6w=="), Some(1));
        // Non-zero bits after the last byte: not canonical.
        assert_eq!(base64_decoded_len("6x=="), None);
        assert_eq!(base64_decoded_len("6x==6xYn"), None);
        assert_eq!(base64_decoded_len("6xY"), None);
        assert_eq!(base64_decoded_len("6x!n"), None);
        let mut out = std::vec::Vec::new();
        base64_stream(&[0xeb, 0x16, 0x27, 0x7a], |b| out.extend_from_slice(b));
        assert_eq!(out, b"6xYneg==");
    }
}
