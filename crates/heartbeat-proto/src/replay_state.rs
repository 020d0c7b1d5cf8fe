//! Replay watermarks as bytes: what a node writes down so that a restart does not forget which
//! frames it already accepted.
//!
//! A [`Monitor`](crate::Monitor) refuses a frame at or below a peer's [`Watermark`] (the newest
//! generation and sequence number it accepted from that peer). That memory lives in RAM: a
//! restarted node would accept again, once, any authenticated frame recorded before the
//! restart. This module is the sans-IO half of keeping it: the node's watermarks
//! ([`Monitor::watermarks`](crate::Monitor::watermarks)) are [`encode`]d into a caller-owned
//! buffer, the caller stores the bytes wherever it likes, and after a restart
//! [`Snapshot::decode`] checks them and hands the entries back for
//! [`Monitor::resume_watermark`](crate::Monitor::resume_watermark). No I/O, no allocator.
//!
//! # Encoding (version 1, all integers big-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `HBRW` |
//! | 4 | version, 1 |
//! | 5..8 | reserved, zero |
//! | 8..12 | the owner's cluster id |
//! | 12..20 | the owner's node id (non-zero) |
//! | 20..24 | entry count `n`, at most [`MAX_ENTRIES`] |
//! | 24..24+20n | entries: peer node id (u64, non-zero), generation (u32), sequence (u64), in strictly ascending peer order |
//! | last 4 | CRC-32C (Castagnoli) of every byte before it |
//!
//! The owner names the node that wrote the file: a snapshot copied from another node, or from
//! another cluster, describes what *that* node accepted and is refused
//! ([`Snapshot::check_owner`]). Decoding is strict — any byte out of place is a
//! [`SnapshotError`], never a panic — so a file that was truncated, corrupted or written by
//! something else is refused as a whole rather than half-trusted.

use crate::monitor::Watermark;
use crate::wire::{ClusterId, Generation, NodeId};

/// The first four bytes of every snapshot.
pub const MAGIC: [u8; 4] = *b"HBRW";
/// The version this module writes and reads.
pub const VERSION: u8 = 1;
/// Bytes before the first entry.
pub const HEADER_LEN: usize = 24;
/// Bytes per entry.
pub const ENTRY_LEN: usize = 20;
/// Bytes of the checksum at the end.
pub const TRAILER_LEN: usize = 4;
/// The most entries a snapshot may hold (about 20 MiB): a count beyond it is refused before
/// any length arithmetic.
pub const MAX_ENTRIES: usize = 1 << 20;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The node whose watermarks a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Its cluster.
    pub cluster: ClusterId,
    /// Its node id.
    pub node: NodeId,
}

/// One peer's watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The peer.
    pub peer: NodeId,
    /// How far its frames were accepted.
    pub mark: Watermark,
}

/// Why a snapshot could not be encoded. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer is shorter than [`encoded_len`].
    #[error("buffer of {have} bytes, {need} needed")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        have: usize,
    },
    /// Entry `index` does not come strictly after the one before it (sort by peer, one entry
    /// per peer).
    #[error("entry {index} is not in strictly ascending peer order")]
    NotAscending {
        /// The entry out of order.
        index: usize,
    },
    /// More than [`MAX_ENTRIES`] entries.
    #[error("{count} entries, at most {MAX_ENTRIES}")]
    TooMany {
        /// Entries given.
        count: usize,
    },
}

/// Why bytes are not a snapshot this node may use. Decoding changes nothing anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Shorter than a header and a checksum.
    #[error("{len} bytes: too short for a replay-state file")]
    Truncated {
        /// The length given.
        len: usize,
    },
    /// Does not start with [`MAGIC`]: not a replay-state file.
    #[error("not a replay-state file (bad magic)")]
    BadMagic,
    /// A version this build does not read.
    #[error("replay-state version {0}, this build reads version {VERSION}")]
    UnsupportedVersion(u8),
    /// The reserved bytes are not zero.
    #[error("reserved bytes are not zero")]
    Reserved,
    /// The owner's node id is zero.
    #[error("owner node id is zero")]
    ZeroOwner,
    /// The entry count is above [`MAX_ENTRIES`].
    #[error("{count} entries, at most {MAX_ENTRIES}")]
    TooMany {
        /// The count the header claims.
        count: u32,
    },
    /// The length does not match the entry count: truncated or padded.
    #[error("{len} bytes, but {entries} entries need {need}")]
    LengthMismatch {
        /// Entries the header claims.
        entries: usize,
        /// Bytes they need.
        need: usize,
        /// Bytes given.
        len: usize,
    },
    /// The checksum does not match: the bytes were damaged.
    #[error("checksum {stored:#010x} does not match the contents ({computed:#010x})")]
    BadChecksum {
        /// The checksum stored.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// Entry `index` names peer zero.
    #[error("entry {index} names node 0")]
    ZeroPeer {
        /// The entry.
        index: usize,
    },
    /// Entry `index` does not come strictly after the one before it.
    #[error("entry {index} is not in strictly ascending peer order")]
    NotAscending {
        /// The entry.
        index: usize,
    },
    /// Written by another node, or for another cluster: its watermarks are not this node's.
    #[error("written by node {node} of cluster {}, not this node", cluster.0)]
    Foreign {
        /// The cluster the snapshot names.
        cluster: ClusterId,
        /// The node the snapshot names.
        node: NodeId,
    },
}

/// Bytes a snapshot of `entries` entries takes (saturating: a count that large cannot be
/// encoded anyway).
pub const fn encoded_len(entries: usize) -> usize {
    HEADER_LEN.saturating_add(entries.saturating_mul(ENTRY_LEN)).saturating_add(TRAILER_LEN)
}

/// Encodes `owner`'s watermarks into `buf`; returns the length written. `entries` must be in
/// strictly ascending peer order. Fails without writing.
pub fn encode(owner: Owner, entries: &[Entry], buf: &mut [u8]) -> Result<usize, EncodeError> {
    if entries.len() > MAX_ENTRIES {
        return Err(EncodeError::TooMany { count: entries.len() });
    }
    if let Some(index) = (1..entries.len()).find(|&i| entries[i].peer <= entries[i - 1].peer) {
        return Err(EncodeError::NotAscending { index });
    }
    let need = encoded_len(entries.len());
    let have = buf.len();
    let out = buf.get_mut(..need).ok_or(EncodeError::BufferTooSmall { need, have })?;
    out[0..4].copy_from_slice(&MAGIC);
    out[4] = VERSION;
    out[5..8].fill(0);
    out[8..12].copy_from_slice(&owner.cluster.0.to_be_bytes());
    out[12..20].copy_from_slice(&owner.node.get().to_be_bytes());
    // At most MAX_ENTRIES, checked above.
    out[20..24].copy_from_slice(&u32::try_from(entries.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (entry, chunk) in entries.iter().zip(out[HEADER_LEN..need - TRAILER_LEN].chunks_exact_mut(ENTRY_LEN)) {
        chunk[0..8].copy_from_slice(&entry.peer.get().to_be_bytes());
        chunk[8..12].copy_from_slice(&entry.mark.generation.0.to_be_bytes());
        chunk[12..20].copy_from_slice(&entry.mark.sequence.to_be_bytes());
    }
    let sum = CRC.checksum(&out[..need - TRAILER_LEN]);
    out[need - TRAILER_LEN..].copy_from_slice(&sum.to_be_bytes());
    Ok(need)
}

/// A checked snapshot, borrowing the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot<'a> {
    owner: Owner,
    /// The entries' bytes, a whole number of entries, each valid.
    entries: &'a [u8],
}

impl<'a> Snapshot<'a> {
    /// Checks `bytes` completely — structure, checksum, every entry — and returns the
    /// snapshot, or the first thing wrong with them. Never panics; O(length).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SnapshotError> {
        let len = bytes.len();
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(SnapshotError::Truncated { len });
        }
        if bytes[0..4] != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        if bytes[4] != VERSION {
            return Err(SnapshotError::UnsupportedVersion(bytes[4]));
        }
        if bytes[5..8] != [0, 0, 0] {
            return Err(SnapshotError::Reserved);
        }
        let count = u32::from_be_bytes(array(&bytes[20..24]));
        let entries = usize::try_from(count).unwrap_or(usize::MAX);
        if entries > MAX_ENTRIES {
            return Err(SnapshotError::TooMany { count });
        }
        let need = encoded_len(entries);
        if len != need {
            return Err(SnapshotError::LengthMismatch { entries, need, len });
        }
        let stored = u32::from_be_bytes(array(&bytes[need - TRAILER_LEN..]));
        let computed = CRC.checksum(&bytes[..need - TRAILER_LEN]);
        if stored != computed {
            return Err(SnapshotError::BadChecksum { stored, computed });
        }
        let cluster = ClusterId(u32::from_be_bytes(array(&bytes[8..12])));
        let node = NodeId::new(u64::from_be_bytes(array(&bytes[12..20]))).ok_or(SnapshotError::ZeroOwner)?;
        let body = &bytes[HEADER_LEN..need - TRAILER_LEN];
        let mut previous = 0u64;
        for (index, chunk) in body.chunks_exact(ENTRY_LEN).enumerate() {
            let peer = u64::from_be_bytes(array(&chunk[0..8]));
            if peer == 0 {
                return Err(SnapshotError::ZeroPeer { index });
            }
            if index > 0 && peer <= previous {
                return Err(SnapshotError::NotAscending { index });
            }
            previous = peer;
        }
        Ok(Snapshot { owner: Owner { cluster, node }, entries: body })
    }

    /// The node that wrote it.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// `Ok` if this node (`cluster`, `node`) wrote it, else [`SnapshotError::Foreign`].
    pub fn check_owner(&self, cluster: ClusterId, node: NodeId) -> Result<(), SnapshotError> {
        if self.owner == (Owner { cluster, node }) {
            Ok(())
        } else {
            Err(SnapshotError::Foreign { cluster: self.owner.cluster, node: self.owner.node })
        }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_LEN
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Its entries, in ascending peer order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + 'a {
        self.entries.chunks_exact(ENTRY_LEN).filter_map(|chunk| {
            // Every peer id was checked non-zero in `decode`.
            let peer = NodeId::new(u64::from_be_bytes(array(&chunk[0..8])))?;
            let generation = Generation(u32::from_be_bytes(array(&chunk[8..12])));
            let sequence = u64::from_be_bytes(array(&chunk[12..20]));
            Some(Entry { peer, mark: Watermark { generation, sequence } })
        })
    }
}

/// The first `N` bytes of `bytes` (zero-padded if shorter, which the callers rule out).
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests;
