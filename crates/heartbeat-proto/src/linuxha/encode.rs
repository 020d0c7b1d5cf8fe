//! Encoding a field list, authenticated, in either framing, and checking received messages.

use super::auth::{AuthError, AuthKeys, Mac};
use super::message::{
    Field, Framing, Message, Value, base64_decode_stream, base64_decoded_len, classic_text, format_number,
};
use super::{AUTH_FIELD, EncodeError, classic, netstring};
use crate::engine::BufferTooSmall;

/// Writes into the caller's buffer, counting past its end (so the needed length is exact even
/// when it is too short), and feeds what it writes to an optional digest.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    tee: Option<Mac>,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(mac) = &mut self.tee {
            mac.update(bytes);
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.len += bytes.len();
    }

    fn decimal(&mut self, v: usize) {
        let mut digits = [0u8; 20];
        self.put(format_number(v as u64, 10, &mut digits));
    }
}

/// The `auth` field's value `<keyid> <digest>` of `fields` with the selected key.
fn inner_auth(fields: &[Field<'_>], keys: &AuthKeys) -> Result<([u8; 64], usize), EncodeError> {
    let mut mac = keys.start_selected();
    classic_text(fields, |b| mac.update(b)).map_err(EncodeError::Unrepresentable)?;
    Ok(authenticator(keys.selected(), mac))
}

fn authenticator(id: u8, mac: Mac) -> ([u8; 64], usize) {
    let mut out = [0u8; 64];
    let mut digits = [0u8; 20];
    let id = format_number(u64::from(id), 10, &mut digits);
    out[..id.len()].copy_from_slice(id);
    out[id.len()] = b' ';
    let digest = mac.finish();
    let start = id.len() + 1;
    out[start..start + digest.as_bytes().len()].copy_from_slice(digest.as_bytes());
    (out, start + digest.as_bytes().len())
}

fn check_fields(fields: &[Field<'_>]) -> Result<(), EncodeError> {
    for (i, f) in fields.iter().enumerate() {
        if f.name.is_empty() || f.name.contains(['=', '\n']) || f.name.starts_with('(') {
            return Err(EncodeError::BadName);
        }
        if f.name == AUTH_FIELD || fields[..i].iter().any(|g| g.name == f.name) {
            return Err(EncodeError::DuplicateField);
        }
        match f.value {
            Value::Text(v) if v.contains('\n') => return Err(EncodeError::BadValue),
            Value::Base64(s) if base64_decoded_len(s).is_none() => return Err(EncodeError::BadValue),
            _ => {}
        }
    }
    if fields.len() >= super::message::MAX_FIELDS {
        return Err(EncodeError::TooManyFields);
    }
    Ok(())
}

fn finish(w: Writer<'_>) -> Result<usize, EncodeError> {
    if w.len > w.buf.len() {
        return Err(EncodeError::BufferTooSmall(BufferTooSmall { need: w.len, have: w.buf.len() }));
    }
    Ok(w.len)
}

/// Encodes `fields` (in order; without `auth`, which this adds) as Heartbeat 3.0.6 sends a
/// message: netstring framing, the inner `auth` field over the classic text of the fields, and
/// the trailer over `###\n` through `%%%\n`, both with the selected key. Returns the length.
/// On [`EncodeError::BufferTooSmall`] the buffer's contents are unspecified and `need` is exact.
pub fn encode_netstring(fields: &[Field<'_>], keys: &AuthKeys, buf: &mut [u8]) -> Result<usize, EncodeError> {
    check_fields(fields)?;
    let (auth, auth_len) = inner_auth(fields, keys)?;
    // `<keyid> <hex>`: always ASCII.
    let auth = core::str::from_utf8(&auth[..auth_len]).map_err(|_| EncodeError::BadValue)?;
    let auth = Field::text(AUTH_FIELD, auth);
    let mut w = Writer { buf, len: 0, tee: Some(keys.start_selected()) };
    w.put(netstring::HEAD);
    for field in fields.iter().chain(core::iter::once(&auth)) {
        let (tag, len) = match field.value {
            Value::Text(v) => (0, v.len()),
            Value::Binary(b) => (1, b.len()),
            Value::Base64(s) => (1, base64_decoded_len(s).unwrap_or(0)),
            Value::Opaque(ty, raw) => (ty.tag(), raw.len()),
        };
        w.decimal(3 + field.name.len() + 1 + len);
        w.put(b":(");
        w.put(&[b'0' + tag]);
        w.put(b")");
        w.put(field.name.as_bytes());
        w.put(b"=");
        match field.value {
            Value::Text(v) => w.put(v.as_bytes()),
            Value::Binary(b) | Value::Opaque(_, b) => w.put(b),
            Value::Base64(s) => base64_decode_stream(s, |b| w.put(b)),
        }
        w.put(b",");
    }
    w.put(netstring::TAIL);
    let mac = w.tee.take().unwrap_or_else(|| keys.start_selected());
    let (trailer, trailer_len) = authenticator(keys.selected(), mac);
    w.decimal(trailer_len);
    w.put(b":");
    w.put(&trailer[..trailer_len]);
    w.put(b",");
    finish(w)
}

/// Encodes `fields` (without `auth`, which this appends) in the classic framing Heartbeat
/// also accepts: `>>>\n`, the lines, `auth=<keyid> <digest>\n`, `<<<\n`.
pub fn encode_classic(fields: &[Field<'_>], keys: &AuthKeys, buf: &mut [u8]) -> Result<usize, EncodeError> {
    check_fields(fields)?;
    let (auth, auth_len) = inner_auth(fields, keys)?;
    let mut w = Writer { buf, len: 0, tee: None };
    w.put(classic::HEAD);
    // Infallible here: `inner_auth` already rendered the same fields.
    classic_text(fields, |b| w.put(b)).map_err(EncodeError::Unrepresentable)?;
    w.put(AUTH_FIELD.as_bytes());
    w.put(b"=");
    w.put(&auth[..auth_len]);
    w.put(b"\n");
    w.put(classic::TAIL);
    finish(w)
}

impl Message<'_> {
    /// Checks the authenticator Heartbeat checks for this framing, with any key index `keys`
    /// defines: the trailer over the signed bytes (netstring), or the `auth` field over the
    /// classic text of the other fields (classic). Returns the key index used.
    pub fn verify(&self, keys: &AuthKeys) -> Result<u8, AuthError> {
        match self.framing {
            Framing::Netstring => {
                let trailer = self.trailer.ok_or(AuthError::Missing)?;
                keys.verify(trailer, |mac| mac.update(self.signed))
            }
            Framing::Classic => {
                let Some(Value::Text(auth)) = self.get(AUTH_FIELD) else {
                    return Err(AuthError::Missing);
                };
                let mut representable = true;
                let verdict = keys.verify(auth, |mac| {
                    representable = classic_text(&self.fields, |b| mac.update(b)).is_ok();
                });
                if !representable {
                    return Err(AuthError::Unrepresentable);
                }
                verdict
            }
        }
    }

    /// The fields other than `auth`, in order: what to re-encode.
    pub fn payload_fields(&self) -> impl Iterator<Item = &Field<'_>> + '_ {
        self.fields.iter().filter(|f| f.name != AUTH_FIELD)
    }
}
