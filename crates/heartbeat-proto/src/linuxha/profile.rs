//! Heartbeat's `t=status` as an engine [`Observation`], and our own status heartbeat.
//!
//! The mapping, received: the sender's node name (`src`) → a [`NodeId`] by a [`NodeNames`]
//! table; `hg` → [`Generation`]; `seq` → sequence; `ts` (wall-clock seconds) → `sent_at`, only
//! ever compared with the same sender's; `dt` (ms) → the requested timeout, which
//! [`Monitor`](crate::Monitor) clamps into this node's bounds; this node's `keepalive` →
//! interval (Heartbeat does not advertise its own); `t=shutdone` or `st=dead` → a goodbye.
//!
//! Sent: `t=status`, `st`, `dt`, `protocol=1` (only with flow control, see
//! [`LinuxHa::with_flow_control`]), then `src`, `srcuuid`, `seq`, `hg`, `ts`, `ld`, `ttl` and the
//! inner `auth`: the order of Heartbeat's `send_local_status` and `add_control_msg_fields`.

use core::time::Duration;

use heapless::{String, Vec};

use super::auth::{AuthError, AuthKeys};
use super::encode::encode_netstring;
use super::message::{Field, FieldError, Message, format_number};
use super::{DecodeError, EncodeError};
use crate::engine::Observation;
use crate::time::Instant;
use crate::wire::{Generation, NodeId};

/// The longest node name (Heartbeat's `HOSTLENG` is 100 including the terminator).
pub const MAX_NAME_LEN: usize = 100;

/// Why a name could not be added to a [`NodeNames`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamesError {
    /// The table is at its capacity.
    #[error("node name table full")]
    Full,
    /// Empty, longer than [`MAX_NAME_LEN`] bytes, or containing whitespace or control characters.
    #[error("bad node name")]
    BadName,
    /// The name (ASCII case-insensitively) or the id is already in the table.
    #[error("node name or id already present")]
    Duplicate,
}

/// Node names ↔ [`NodeId`]s, for up to `N` nodes, inline (no allocation). Names compare ASCII
/// case-insensitively and are stored lower-cased, as Heartbeat does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeNames<const N: usize> {
    entries: Vec<(String<MAX_NAME_LEN>, NodeId), N>,
}

impl<const N: usize> NodeNames<N> {
    /// An empty table.
    pub const fn new() -> Self {
        NodeNames { entries: Vec::new() }
    }

    /// Names numbered in order from 1 (`ha.cf`'s `node` lines give every node the same table).
    pub fn numbered<'n>(names: impl IntoIterator<Item = &'n str>) -> Result<Self, NamesError> {
        let mut table = Self::new();
        for (i, name) in names.into_iter().enumerate() {
            let id = NodeId::new(i as u64 + 1).ok_or(NamesError::Full)?;
            table.insert(name, id)?;
        }
        Ok(table)
    }

    /// Adds `name` as `id`.
    pub fn insert(&mut self, name: &str, id: NodeId) -> Result<(), NamesError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NamesError::BadName);
        }
        if self.id(name).is_some() || self.name(id).is_some() {
            return Err(NamesError::Duplicate);
        }
        let mut lower = String::new();
        for c in name.chars() {
            lower.push(c.to_ascii_lowercase()).map_err(|_| NamesError::BadName)?;
        }
        self.entries.push((lower, id)).map_err(|_| NamesError::Full)
    }

    /// The id of `name`.
    pub fn id(&self, name: &str) -> Option<NodeId> {
        self.entries.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, id)| *id)
    }

    /// The name of `id`.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.entries.iter().find(|(_, i)| *i == id).map(|(n, _)| n.as_str())
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A liveness message's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusKind {
    /// `t=status`: a heartbeat.
    Status,
    /// `t=shutdone`: the sender stops on purpose.
    Shutdone,
}

/// The fields of a `t=status` or `t=shutdone` message, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status<'a> {
    /// `t`.
    pub kind: StatusKind,
    /// `st`: the sender's own status (`init`, `up`, `active`, `dead`), verbatim.
    pub st: Option<&'a str>,
    /// `src`: the sender's node name.
    pub src: &'a str,
    /// `srcuuid`: 16 bytes.
    pub srcuuid: Option<[u8; 16]>,
    /// `seq` (hex, > 0).
    pub seq: u64,
    /// `hg` (hex; absent = 0).
    pub hg: u64,
    /// `ts` (hex wall-clock seconds, ≠ 0).
    pub ts: u64,
    /// `ld`: the sender's load average line.
    pub ld: Option<&'a str>,
    /// `ttl` (decimal).
    pub ttl: Option<u64>,
    /// `dt` (hex ms): the deadtime the sender asks to be held to.
    pub dt: Option<Duration>,
    /// `protocol` (decimal): present while the sender does flow control.
    pub protocol: Option<u64>,
}

impl<'a> Status<'a> {
    /// Reads the liveness fields of `msg`, with the requirements of Heartbeat's
    /// `process_clustermsg` (`t`, `src`, non-zero `ts`, a `seq` > 0) plus `st` for `t=status`.
    pub fn from_message(msg: &Message<'a>) -> Result<Status<'a>, Rejection> {
        let kind = match msg.require_text("t")? {
            "status" => StatusKind::Status,
            "shutdone" => StatusKind::Shutdone,
            _ => return Err(Rejection::NotLiveness),
        };
        let st = msg.text("st")?;
        if kind == StatusKind::Status && st.is_none() {
            return Err(FieldError::Missing("st").into());
        }
        let src = msg.require_text("src")?;
        let ts = msg.hex("ts")?.ok_or(FieldError::Missing("ts"))?;
        let seq = msg.hex("seq")?.ok_or(FieldError::Missing("seq"))?;
        if ts == 0 {
            return Err(Rejection::Zero("ts"));
        }
        if seq == 0 {
            return Err(Rejection::Zero("seq"));
        }
        Ok(Status {
            kind,
            st,
            src,
            srcuuid: msg.binary::<16>("srcuuid")?,
            seq,
            hg: msg.hex("hg")?.unwrap_or(0),
            ts,
            ld: msg.text("ld")?,
            ttl: msg.decimal("ttl")?,
            dt: msg.hex("dt")?.map(Duration::from_millis),
            protocol: msg.decimal("protocol")?,
        })
    }

    /// Whether this says the sender is leaving: `t=shutdone`, or `st=dead`.
    pub fn is_goodbye(&self) -> bool {
        self.kind == StatusKind::Shutdone || self.st == Some("dead")
    }
}

/// Why a datagram gave no observation. Refusing changes nothing but its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a well-formed message.
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    /// Not authentic by this node's `authkeys`.
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    /// A liveness field missing or malformed.
    #[error("field: {0}")]
    Field(#[from] FieldError),
    /// A field that must be non-zero is zero (`ts`, `seq`).
    #[error("field `{0}` is zero")]
    Zero(&'static str),
    /// Authentic, but not `t=status` / `t=shutdone` (acks, rexmit, resource chatter).
    #[error("not a liveness message")]
    NotLiveness,
    /// From a node name not in the table (Heartbeat: "bad node", without autojoin).
    #[error("unknown node name")]
    UnknownNode,
    /// An `hg` beyond the engine's 32-bit generations.
    #[error("generation {0:#x} out of range")]
    GenerationOutOfRange(u64),
    /// A non-liveness message of our own, looped back.
    #[error("our own message")]
    FromSelf,
    /// Addressed (`dest`) to another node.
    #[error("addressed to another node")]
    NotForUs,
}

/// Counts of refused datagrams, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileStats {
    /// Observations produced.
    pub observed: u64,
    /// [`Rejection::Malformed`].
    pub malformed: u64,
    /// [`Rejection::Auth`].
    pub unauthentic: u64,
    /// [`Rejection::Field`] and [`Rejection::Zero`].
    pub bad_fields: u64,
    /// [`Rejection::NotLiveness`].
    pub not_liveness: u64,
    /// [`Rejection::UnknownNode`].
    pub unknown_node: u64,
    /// [`Rejection::GenerationOutOfRange`].
    pub bad_generation: u64,
    /// [`Rejection::FromSelf`] and [`Rejection::NotForUs`].
    pub not_for_us: u64,
}

/// The Linux-HA profile of one node: its name and identity, the cluster's names, its keys and
/// timing; it turns datagrams into [`Observation`]s and writes its own status heartbeats.
///
/// The generation is the caller's to keep across restarts, as Heartbeat keeps `hg` in
/// `/var/lib/heartbeat/hb_generation`: give each start a higher one ([`next_generation`]).
#[derive(Debug, Clone)]
pub struct LinuxHa<const N: usize> {
    me: NodeId,
    names: NodeNames<N>,
    keys: AuthKeys,
    keepalive: Duration,
    deadtime: Duration,
    generation: Generation,
    uuid: [u8; 16],
    seq: u64,
    flow_control: bool,
    stats: ProfileStats,
}

/// Digits are ASCII.
fn text(digits: &[u8]) -> &str {
    core::str::from_utf8(digits).unwrap_or("0")
}

/// The generation for this start: one more than the stored one (1 if none).
pub const fn next_generation(stored: Option<Generation>) -> Generation {
    match stored {
        Some(Generation(g)) => Generation(g.saturating_add(1)),
        None => Generation(1),
    }
}

impl<const N: usize> LinuxHa<N> {
    /// The profile of node `me` (a name in `names`), signing with `keys`' selected key,
    /// advertising `deadtime` and applying `keepalive` as its peers' interval.
    pub fn new(
        names: NodeNames<N>,
        me: &str,
        keys: AuthKeys,
        keepalive: Duration,
        deadtime: Duration,
        generation: Generation,
    ) -> Result<Self, Rejection> {
        let me = names.id(me).ok_or(Rejection::UnknownNode)?;
        Ok(LinuxHa {
            me,
            names,
            keys,
            keepalive,
            deadtime,
            generation,
            uuid: [0; 16],
            seq: 0,
            flow_control: false,
            stats: ProfileStats::default(),
        })
    }

    /// The profile of node `me` as an `ha.cf` describes the cluster: its `node` names numbered
    /// from 1 in file order (every node reading the same file agrees), its `keepalive` and
    /// `deadtime`.
    pub fn from_ha_cf(
        cf: &super::HaCf<'_>,
        me: &str,
        keys: AuthKeys,
        generation: Generation,
    ) -> Result<Self, Rejection> {
        let names = NodeNames::numbered(cf.nodes.iter().copied()).map_err(|_| Rejection::UnknownNode)?;
        Self::new(names, me, keys, cf.keepalive, cf.deadtime, generation)
    }

    /// With this node's 16-byte uuid (`srcuuid`; zero by default).
    pub const fn with_uuid(mut self, uuid: [u8; 16]) -> Self {
        self.uuid = uuid;
        self
    }

    /// Whether to send `protocol=1` (off by default here). A real Heartbeat peer then expects
    /// the flow-control protocol: acks, and `reqnodes` answered with `repnodes` before its
    /// communication is up. [`LinuxHaNode`](super::LinuxHaNode) speaks it and turns it on;
    /// without it the peer turns flow control off, as it does for older versions.
    pub const fn with_flow_control(mut self, on: bool) -> Self {
        self.flow_control = on;
        self
    }

    /// This node's id.
    pub const fn id(&self) -> NodeId {
        self.me
    }

    /// The name table.
    pub const fn names(&self) -> &NodeNames<N> {
        &self.names
    }

    /// The refusal counters.
    pub const fn stats(&self) -> &ProfileStats {
        &self.stats
    }

    /// The last sequence number sent (0 before the first).
    pub const fn last_sequence(&self) -> u64 {
        self.seq
    }

    /// Decodes, authenticates and translates one datagram. Reads only.
    pub fn observation(&self, bytes: &[u8]) -> Result<Observation, Rejection> {
        let msg = Message::decode(bytes)?;
        msg.verify(&self.keys)?;
        self.translate(&msg)
    }

    /// An authenticated liveness message as an observation.
    fn translate(&self, msg: &Message<'_>) -> Result<Observation, Rejection> {
        let status = Status::from_message(msg)?;
        let peer = self.names.id(status.src).ok_or(Rejection::UnknownNode)?;
        let generation = u32::try_from(status.hg).map_err(|_| Rejection::GenerationOutOfRange(status.hg))?;
        let obs = Observation::heartbeat(
            peer,
            Generation(generation),
            status.seq,
            Instant::from_secs(status.ts),
            self.keepalive,
            status.dt.unwrap_or(self.deadtime),
        );
        Ok(if status.is_goodbye() { obs.goodbye() } else { obs })
    }

    /// [`observation`](Self::observation), counting the outcome in [`stats`](Self::stats).
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Observation, Rejection> {
        let result = self.observation(bytes);
        self.count(&result.as_ref().map(|_| ()).map_err(|e| *e));
        result
    }

    fn count(&mut self, result: &Result<(), Rejection>) {
        let s = &mut self.stats;
        let counter = match result {
            Ok(()) => &mut s.observed,
            Err(Rejection::Malformed(_)) => &mut s.malformed,
            Err(Rejection::Auth(_)) => &mut s.unauthentic,
            Err(Rejection::Field(_) | Rejection::Zero(_)) => &mut s.bad_fields,
            Err(Rejection::NotLiveness) => &mut s.not_liveness,
            Err(Rejection::UnknownNode) => &mut s.unknown_node,
            Err(Rejection::GenerationOutOfRange(_)) => &mut s.bad_generation,
            Err(Rejection::FromSelf | Rejection::NotForUs) => &mut s.not_for_us,
        };
        *counter = counter.saturating_add(1);
    }

    /// Writes our `t=status` heartbeat with status `st` (`up`, `active`, ...), wall-clock time
    /// `wall_secs` (`ts`) and load line `load` (`ld`, e.g. `/proc/loadavg` without its newline),
    /// in netstring framing, signed. Takes the next sequence number only on success.
    pub fn encode_status(
        &mut self,
        st: &str,
        wall_secs: u64,
        load: &str,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.encode_liveness(Beat::Status { st, extra: None }, Sequencing::Next, wall_secs, load, buf)
    }

    /// [`encode_status`](Self::encode_status) with one more field after the status fields
    /// (before `src`, where Heartbeat puts a message type's own fields; Heartbeat ignores
    /// fields it does not know). It is covered by both authenticators.
    pub fn encode_status_with(
        &mut self,
        st: &str,
        wall_secs: u64,
        load: &str,
        extra: Field<'_>,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self.encode_liveness(Beat::Status { st, extra: Some(extra) }, Sequencing::Next, wall_secs, load, buf)
    }

    /// Writes our `t=shutdone` (`st=dead`): peers report a leave at once.
    pub fn encode_shutdone(&mut self, wall_secs: u64, load: &str, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.encode_liveness(Beat::Shutdone, Sequencing::Next, wall_secs, load, buf)
    }

    /// A `t=status` (or `t=shutdone`) with the given sequencing: [`Sequencing::Again`] writes
    /// one sent before again, the same fields in the same order.
    pub(super) fn encode_liveness(
        &mut self,
        beat: Beat<'_>,
        sequencing: Sequencing,
        wall_secs: u64,
        load: &str,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut dt = [0; 20];
        let dt = text(format_number(u64::try_from(self.deadtime.as_millis()).unwrap_or(u64::MAX), 16, &mut dt));
        let mut head: Vec<Field<'_>, 5> = Vec::new();
        let mut push = |f| head.push(f).map_err(|_| EncodeError::TooManyFields);
        match beat {
            Beat::Shutdone => {
                push(Field::text("t", "shutdone"))?;
                push(Field::text("st", "dead"))?;
            }
            Beat::Status { st, extra } => {
                push(Field::text("t", "status"))?;
                push(Field::text("st", st))?;
                push(Field::text("dt", dt))?;
                if self.flow_control {
                    push(Field::text("protocol", "1"))?;
                }
                if let Some(extra) = extra {
                    push(extra)?;
                }
            }
        }
        self.encode_message(&head, sequencing, wall_secs, load, buf)
    }

    /// Writes a message of ours: the type-specific `head` fields (`t` first, `dest` among them
    /// if addressed), then the control fields Heartbeat's `add_control_msg_fields` appends in
    /// its order (`src`, `srcuuid`, `seq` and `ld` unless [`Sequencing::None`], `hg`, `ts`,
    /// `ttl`), netstring framing, signed. [`Sequencing::Next`] takes the next sequence number,
    /// only on success; [`Sequencing::Again`] re-sends one already taken.
    pub(super) fn encode_message(
        &mut self,
        head: &[Field<'_>],
        sequencing: Sequencing,
        wall_secs: u64,
        load: &str,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let seq = match sequencing {
            Sequencing::Next => Some(self.seq.wrapping_add(1).max(1)),
            Sequencing::Again(seq) => Some(seq),
            Sequencing::None => None,
        };
        let (mut sq, mut hg, mut ts, mut ttl) = ([0; 20], [0; 20], [0; 20], [0; 20]);
        let hg = text(format_number(u64::from(self.generation.0), 16, &mut hg));
        let ts = text(format_number(wall_secs, 16, &mut ts));
        // Heartbeat: hopfudge (1) + node count.
        let ttl = text(format_number(1 + self.names.len() as u64, 10, &mut ttl));
        let src = self.names.name(self.me).unwrap_or("");
        let mut fields: Vec<Field<'_>, 16> = Vec::new();
        let mut push = |f| fields.push(f).map_err(|_| EncodeError::TooManyFields);
        for field in head {
            push(*field)?;
        }
        push(Field::text("src", src))?;
        push(Field::binary("srcuuid", &self.uuid))?;
        if let Some(seq) = seq {
            push(Field::text("seq", text(format_number(seq, 16, &mut sq))))?;
        }
        push(Field::text("hg", hg))?;
        push(Field::text("ts", ts))?;
        if seq.is_some() {
            push(Field::text("ld", load))?;
        }
        push(Field::text("ttl", ttl))?;
        let len = encode_netstring(&fields, &self.keys, buf)?;
        if sequencing == Sequencing::Next
            && let Some(seq) = seq
        {
            self.seq = seq;
        }
        Ok(len)
    }

    /// Decodes, authenticates and sorts one datagram: a liveness message as an
    /// [`Observation`], anything else authentic from another configured node as [`Incoming::Other`].
    /// Reads only; [`classify`](Self::classify) counts.
    pub fn inspect(&self, bytes: &[u8]) -> Result<Incoming, Rejection> {
        let msg = Message::decode(bytes)?;
        msg.verify(&self.keys)?;
        let t = msg.require_text("t")?;
        if t == "status" || t == "shutdone" {
            let obs = self.translate(&msg)?;
            let flow_control = msg.decimal("protocol")?.is_some();
            return Ok(Incoming::Liveness { obs, flow_control });
        }
        let src = msg.require_text("src")?;
        let peer = self.names.id(src).ok_or(Rejection::UnknownNode)?;
        if peer == self.me {
            return Err(Rejection::FromSelf);
        }
        if let Some(dest) = msg.text("dest")?
            && self.names.id(dest).is_none_or(|d| d != self.me)
        {
            return Err(Rejection::NotForUs);
        }
        let ts = msg.hex("ts")?.ok_or(FieldError::Missing("ts"))?;
        if ts == 0 {
            return Err(Rejection::Zero("ts"));
        }
        let hg = msg.hex("hg")?.unwrap_or(0);
        let generation = Generation(u32::try_from(hg).map_err(|_| Rejection::GenerationOutOfRange(hg))?);
        let seq = if t.starts_with("NS_") {
            None
        } else {
            let seq = msg.hex("seq")?.ok_or(FieldError::Missing("seq"))?;
            if seq == 0 {
                return Err(Rejection::Zero("seq"));
            }
            Some(seq)
        };
        let number = |name: &'static str, hex: bool| -> Result<u64, Rejection> {
            let v = if hex { msg.hex(name)? } else { msg.decimal(name)? };
            v.ok_or(Rejection::Field(FieldError::Missing(name)))
        };
        let control = match t {
            "NS_rexmit" => Control::Rexmit { first: number("firstseq", false)?, last: number("lastseq", false)? },
            "NS_nak_rexmit" => Control::Nak { seq: number("firstseq", true)? },
            "NS_ackmsg" => Control::Ack { seq: number("ackseq", true)? },
            "reqnodes" => Control::ReqNodes,
            _ => Control::Other,
        };
        Ok(Incoming::Other { peer, generation, seq, control })
    }

    /// [`inspect`](Self::inspect), counting the outcome in [`stats`](Self::stats) (a message
    /// that is not liveness counts in `not_liveness`).
    pub fn classify(&mut self, bytes: &[u8]) -> Result<Incoming, Rejection> {
        let result = self.inspect(bytes);
        match &result {
            Ok(Incoming::Liveness { .. }) => self.count(&Ok(())),
            Ok(Incoming::Other { .. }) => self.count(&Err(Rejection::NotLiveness)),
            Err(e) => self.count(&Err(*e)),
        }
        result
    }
}

/// Which liveness message [`LinuxHa::encode_liveness`] writes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Beat<'a> {
    /// `t=status` with status `st`, and one more field after the status fields if any.
    Status { st: &'a str, extra: Option<Field<'a>> },
    /// `t=shutdone`, `st=dead`.
    Shutdone,
}

/// Which sequence number a message of ours carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sequencing {
    /// The next one (a new message).
    Next,
    /// One already sent (a retransmission).
    Again(u64),
    /// None: an `NS_*` message.
    None,
}

/// An authentic message from another configured node, sorted.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Incoming {
    /// `t=status` or `t=shutdone`, as an observation for the engine.
    Liveness {
        /// The observation.
        obs: Observation,
        /// Whether the sender speaks the flow-control protocol (its `protocol` field): it
        /// expects acks and asks for the node list.
        flow_control: bool,
    },
    /// Any other message for us (no `dest`, or `dest` = us).
    Other {
        /// The sender.
        peer: NodeId,
        /// Its `hg`.
        generation: Generation,
        /// Its `seq`; `None` for the unsequenced `NS_*` types.
        seq: Option<u64>,
        /// What it asks or says.
        control: Control,
    },
}

/// What a non-liveness message asks or says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Control {
    /// `t=NS_rexmit`: resend our messages `first..=last` (decimal on the wire).
    Rexmit {
        /// The first sequence number asked for.
        first: u64,
        /// The last one.
        last: u64,
    },
    /// `t=NS_nak_rexmit`: the sender cannot resend its message `seq` (hex `firstseq`).
    Nak {
        /// The sequence number given up.
        seq: u64,
    },
    /// `t=NS_ackmsg`: the sender has everything of ours up to `seq` (hex `ackseq`).
    Ack {
        /// The acknowledged sequence number.
        seq: u64,
    },
    /// `t=reqnodes`: the sender asks for the node list (answered with `t=repnodes`).
    ReqNodes,
    /// Any other type (`starting`, `resource`, `repnodes`, ...): sequenced chatter.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    #[test]
    fn names_compare_case_insensitively_and_are_stored_lower_case() {
        let names = NodeNames::<4>::numbered(["HBnode1", "hbnode2"]).unwrap();
        assert_eq!(names.id("hbnode1"), Some(id(1)));
        assert_eq!(names.id("HBNODE2"), Some(id(2)));
        assert_eq!(names.id("hbnode3"), None);
        assert_eq!(names.name(id(1)), Some("hbnode1"));
        assert_eq!(names.name(id(3)), None);
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn bad_full_and_duplicate_names_are_refused() {
        let mut names = NodeNames::<2>::new();
        assert!(names.is_empty());
        assert_eq!(names.insert("", id(1)), Err(NamesError::BadName));
        assert_eq!(names.insert("a b", id(1)), Err(NamesError::BadName));
        assert_eq!(names.insert("a\u{1}", id(1)), Err(NamesError::BadName));
        let long: std::string::String = core::iter::repeat_n('x', MAX_NAME_LEN + 1).collect();
        assert_eq!(names.insert(&long, id(1)), Err(NamesError::BadName));
        names.insert("a", id(1)).unwrap();
        assert_eq!(names.insert("A", id(2)), Err(NamesError::Duplicate));
        assert_eq!(names.insert("b", id(1)), Err(NamesError::Duplicate));
        names.insert("b", id(2)).unwrap();
        assert_eq!(names.insert("c", id(3)), Err(NamesError::Full));
    }

    #[test]
    fn generations_only_go_up() {
        assert_eq!(next_generation(None), Generation(1));
        assert_eq!(next_generation(Some(Generation(6))), Generation(7));
        assert_eq!(next_generation(Some(Generation(u32::MAX))), Generation(u32::MAX));
    }
}
