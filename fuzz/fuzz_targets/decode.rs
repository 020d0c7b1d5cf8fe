//! Bytes → `Message::decode`. Decoding never panics; whatever it accepts re-encodes to the
//! very same bytes (the authentication tag, which the encoder leaves zeroed for an
//! authenticator, is copied over as opaque payload) and decodes again to the same message.

#![no_main]

use heartbeat_proto::wire::Frame;
use heartbeat_proto::{MAX_FRAME_LEN, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::decode(data) else { return };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = msg.encode(&mut buf).expect("a decoded message re-encodes");
    assert_eq!(len, data.len(), "{msg:?}");
    let received = Frame::new_checked(data).expect("decode checked it");
    if let Some(trailer) = received.auth_trailer() {
        Frame::new_unchecked(&mut buf[..len]).tag_mut().copy_from_slice(trailer.tag);
    }
    assert_eq!(&buf[..len], data, "{msg:?}");
    assert_eq!(Message::decode(&buf[..len]), Ok(msg));
});
