use proptest::prelude::*;

use super::*;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn owner() -> Owner {
    Owner { cluster: ClusterId(7), node: id(2) }
}

fn entry(peer: u64, generation: u32, sequence: u64) -> Entry {
    Entry { peer: id(peer), mark: Watermark { generation: Generation(generation), sequence } }
}

fn encoded(entries: &[Entry]) -> std::vec::Vec<u8> {
    let mut buf = std::vec![0xa5; encoded_len(entries.len())];
    let len = encode(owner(), entries, &mut buf).unwrap();
    assert_eq!(len, buf.len());
    buf
}

/// The layout of the module docs, byte for byte.
#[test]
fn golden_bytes() {
    let bytes = encoded(&[entry(1, 0x0102_0304, 0x0a0b_0c0d_0e0f_1011)]);
    let mut want = std::vec::Vec::new();
    want.extend_from_slice(b"HBRW\x01\0\0\0");
    want.extend_from_slice(&7u32.to_be_bytes());
    want.extend_from_slice(&2u64.to_be_bytes());
    want.extend_from_slice(&1u32.to_be_bytes());
    want.extend_from_slice(&1u64.to_be_bytes());
    want.extend_from_slice(&[1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]);
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&want);
    want.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(bytes, want);
}

#[test]
fn an_empty_snapshot_is_valid() {
    let bytes = encoded(&[]);
    assert_eq!(bytes.len(), HEADER_LEN + TRAILER_LEN);
    let snap = Snapshot::decode(&bytes).unwrap();
    assert!(snap.is_empty());
    assert_eq!(snap.entries().count(), 0);
}

#[test]
fn encoding_refuses_without_writing() {
    let entries = [entry(1, 1, 1), entry(3, 1, 1)];
    let mut small = [0xa5u8; 40];
    assert_eq!(encode(owner(), &entries, &mut small), Err(EncodeError::BufferTooSmall { need: 68, have: 40 }));
    assert!(small.iter().all(|&b| b == 0xa5));
    let mut buf = [0xa5u8; 128];
    let unsorted = [entry(3, 1, 1), entry(1, 1, 1)];
    assert_eq!(encode(owner(), &unsorted, &mut buf), Err(EncodeError::NotAscending { index: 1 }));
    let twice = [entry(3, 1, 1), entry(3, 2, 1)];
    assert_eq!(encode(owner(), &twice, &mut buf), Err(EncodeError::NotAscending { index: 1 }));
    assert!(buf.iter().all(|&b| b == 0xa5));
}

/// Rewrites the checksum so that a test reaches the check after it.
fn reseal(bytes: &mut [u8]) {
    let end = bytes.len() - TRAILER_LEN;
    let sum = CRC.checksum(&bytes[..end]);
    bytes[end..].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn each_defect_has_its_own_reason() {
    let good = encoded(&[entry(1, 5, 9), entry(4, 6, 10)]);
    assert_eq!(Snapshot::decode(&good[..10]), Err(SnapshotError::Truncated { len: 10 }));
    let mut b = good.clone();
    b[0] = b'X';
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::BadMagic));
    let mut b = good.clone();
    b[4] = 2;
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::UnsupportedVersion(2)));
    let mut b = good.clone();
    b[6] = 1;
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::Reserved));
    let mut b = good.clone();
    b[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::TooMany { count: u32::MAX }));
    assert_eq!(
        Snapshot::decode(&good[..good.len() - 1]),
        Err(SnapshotError::LengthMismatch { entries: 2, need: 68, len: 67 })
    );
    let mut b = good.clone();
    b[30] ^= 0x10;
    assert!(matches!(Snapshot::decode(&b), Err(SnapshotError::BadChecksum { .. })));
    let mut b = good.clone();
    b[12..20].fill(0);
    reseal(&mut b);
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::ZeroOwner));
    let mut b = good.clone();
    b[HEADER_LEN + ENTRY_LEN..HEADER_LEN + ENTRY_LEN + 8].fill(0);
    reseal(&mut b);
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::ZeroPeer { index: 1 }));
    let mut b = good.clone();
    b[HEADER_LEN + ENTRY_LEN..HEADER_LEN + ENTRY_LEN + 8].copy_from_slice(&1u64.to_be_bytes());
    reseal(&mut b);
    assert_eq!(Snapshot::decode(&b), Err(SnapshotError::NotAscending { index: 1 }));
}

#[test]
fn another_nodes_snapshot_is_foreign() {
    let bytes = encoded(&[entry(1, 5, 9)]);
    let snap = Snapshot::decode(&bytes).unwrap();
    assert_eq!(snap.check_owner(ClusterId(7), id(2)), Ok(()));
    assert_eq!(
        snap.check_owner(ClusterId(7), id(3)),
        Err(SnapshotError::Foreign { cluster: ClusterId(7), node: id(2) })
    );
    assert_eq!(
        snap.check_owner(ClusterId(8), id(2)),
        Err(SnapshotError::Foreign { cluster: ClusterId(7), node: id(2) })
    );
}

fn entries() -> impl Strategy<Value = std::vec::Vec<Entry>> {
    proptest::collection::btree_map(1u64.., (any::<u32>(), any::<u64>()), 0..40)
        .prop_map(|m| m.into_iter().map(|(peer, (g, s))| entry(peer, g, s)).collect())
}

proptest! {
    #[test]
    fn round_trip(entries in entries(), cluster: u32, node in 1u64..) {
        let owner = Owner { cluster: ClusterId(cluster), node: id(node) };
        let mut buf = std::vec![0; encoded_len(entries.len())];
        encode(owner, &entries, &mut buf).unwrap();
        let snap = Snapshot::decode(&buf).unwrap();
        prop_assert_eq!(snap.owner(), owner);
        prop_assert_eq!(snap.len(), entries.len());
        prop_assert_eq!(snap.entries().collect::<std::vec::Vec<_>>(), entries);
    }

    /// Any single damaged byte is refused (the CRC catches every one-byte error).
    #[test]
    fn one_damaged_byte_is_refused(entries in entries(), at: prop::sample::Index, flip in 1u8..) {
        let mut bytes = encoded(&entries);
        let at = at.index(bytes.len());
        bytes[at] ^= flip;
        prop_assert!(Snapshot::decode(&bytes).is_err());
    }

    /// Arbitrary bytes never panic; whatever decodes re-encodes to the same bytes.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(snap) = Snapshot::decode(&bytes) {
            let entries: std::vec::Vec<_> = snap.entries().collect();
            prop_assert_eq!(encoded_len(entries.len()), bytes.len());
            let mut again = std::vec![0; bytes.len()];
            encode(snap.owner(), &entries, &mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }

    /// A valid snapshot cut anywhere short is refused.
    #[test]
    fn truncation_is_refused(entries in entries(), cut: prop::sample::Index) {
        let bytes = encoded(&entries);
        let cut = cut.index(bytes.len());
        prop_assert!(Snapshot::decode(&bytes[..cut]).is_err());
    }
}
