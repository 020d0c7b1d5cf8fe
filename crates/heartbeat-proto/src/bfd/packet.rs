//! BFD control packets (RFC 5880 §4.1): a zero-copy view over bytes and a validated
//! representation with `parse` and `emit`.
//!
//! OWNED BY THE bfd-wire HELPER: replace this skeleton. The public names below are the contract
//! the session and the adapters code against; add to them, do not rename them without telling.

/// Bytes of the mandatory section.
pub const HEADER_LEN: usize = 24;
/// The longest packet this implementation emits or accepts: the mandatory section and the
/// longest authentication section (keyed SHA1: 28 bytes).
pub const MAX_PACKET_LEN: usize = HEADER_LEN + 28;
/// The only version defined.
pub const VERSION: u8 = 1;

/// A session state (§4.1 `Sta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Held down administratively.
    AdminDown = 0,
    /// Down.
    Down = 1,
    /// Init: the peer's Down was heard.
    Init = 2,
    /// Up.
    Up = 3,
}

/// A diagnostic code (§4.1 `Diag`, 5 bits). Codes without a name are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Diag(pub u8);

impl Diag {
    /// 0: No Diagnostic.
    pub const NONE: Diag = Diag(0);
    /// 1: Control Detection Time Expired.
    pub const CONTROL_DETECTION_TIME_EXPIRED: Diag = Diag(1);
    /// 2: Echo Function Failed.
    pub const ECHO_FUNCTION_FAILED: Diag = Diag(2);
    /// 3: Neighbor Signaled Session Down.
    pub const NEIGHBOR_SIGNALED_DOWN: Diag = Diag(3);
    /// 4: Forwarding Plane Reset.
    pub const FORWARDING_PLANE_RESET: Diag = Diag(4);
    /// 5: Path Down.
    pub const PATH_DOWN: Diag = Diag(5);
    /// 6: Concatenated Path Down.
    pub const CONCATENATED_PATH_DOWN: Diag = Diag(6);
    /// 7: Administratively Down.
    pub const ADMINISTRATIVELY_DOWN: Diag = Diag(7);
    /// 8: Reverse Concatenated Path Down.
    pub const REVERSE_CONCATENATED_PATH_DOWN: Diag = Diag(8);
}

/// The authentication section's header as carried in a packet (§4.2); the password or digest
/// itself stays in the bytes and is checked by [`crate::bfd::auth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSection {
    /// Auth Type (1..=5 defined).
    pub auth_type: u8,
    /// Auth Key ID.
    pub key_id: u8,
    /// The sequence number (0 for simple password, which has none).
    pub sequence: u32,
}

/// A validated control packet. Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket {
    /// Diagnostic.
    pub diag: Diag,
    /// The sender's session state.
    pub state: State,
    /// P: Poll.
    pub poll: bool,
    /// F: Final.
    pub final_: bool,
    /// C: Control Plane Independent.
    pub control_plane_independent: bool,
    /// D: Demand.
    pub demand: bool,
    /// Detect Mult (nonzero).
    pub detect_mult: u8,
    /// My Discriminator (nonzero).
    pub my_discriminator: u32,
    /// Your Discriminator (0 if unknown).
    pub your_discriminator: u32,
    /// Desired Min TX Interval, µs.
    pub desired_min_tx: u32,
    /// Required Min RX Interval, µs.
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval, µs.
    pub required_min_echo_rx: u32,
    /// The authentication section's header, when the A bit is set.
    pub auth: Option<AuthSection>,
}

/// Why bytes are not a BFD control packet that passes the structural checks of §6.8.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Placeholder until the codec lands.
    #[error("truncated")]
    Truncated,
}
