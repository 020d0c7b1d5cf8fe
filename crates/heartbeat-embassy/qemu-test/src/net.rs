//! The network: embassy-net stacks on the in-memory link, 10.0.0.<n>/24, and UDP sockets on
//! the heartbeat port.

use embassy_executor::{SpawnError, SpawnToken, Spawner};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use heartbeat_embassy::link::{End, Link};
use heartbeat_proto::MAX_FRAME_LEN;
use static_cell::StaticCell;

use crate::exit;

/// Largest IP packet on the link: a heartbeat frame plus IP and UDP headers fits easily.
pub const MTU: usize = 256;
/// Packets queued per direction.
pub const DEPTH: usize = 4;
/// The UDP port every node listens on.
pub const PORT: u16 = 7000;
/// Datagrams each socket buffers per direction.
const SOCKET_DEPTH: usize = 4;

/// One end of the link: the driver of one stack.
pub type LinkEnd = End<'static, CriticalSectionRawMutex, MTU, DEPTH>;

/// The wire between the two stacks.
static LINK: Link<CriticalSectionRawMutex, MTU, DEPTH> = Link::new();

/// The UDP endpoint of host `n`.
pub fn address(n: u8) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n)), PORT)
}

/// Hosts 10.0.0.1 and 10.0.0.2, each end of [`LINK`]; spawns the tasks that run them.
pub fn two_stacks(spawner: Spawner) -> (Stack<'static>, Stack<'static>) {
    static RESOURCES: StaticCell<[StackResources<2>; 2]> = StaticCell::new();
    let [resources_1, resources_2] = RESOURCES.init([StackResources::new(), StackResources::new()]);
    let (end_1, end_2) = LINK.ends();
    (stack(spawner, end_1, 1, resources_1), stack(spawner, end_2, 2, resources_2))
}

/// A stack for host `n` on `end`, and spawns the task that runs it.
fn stack(spawner: Spawner, end: LinkEnd, n: u8, resources: &'static mut StackResources<2>) -> Stack<'static> {
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, n), 24),
        gateway: None,
        dns_servers: heapless::Vec::new(),
    });
    let (stack, runner) = embassy_net::new(end, config, resources, u64::from(n));
    spawn(spawner, network(runner));
    stack
}

/// Spawns a task, or fails the test if its pool is exhausted.
pub fn spawn<S>(spawner: Spawner, token: Result<SpawnToken<S>, SpawnError>) {
    match token {
        Ok(token) => spawner.spawn(token),
        Err(e) => exit::fail(format_args!("cannot spawn: {e}")),
    }
}

#[embassy_executor::task(pool_size = 2)]
async fn network(mut runner: Runner<'static, LinkEnd>) -> ! {
    runner.run().await
}

/// Memory for one UDP socket.
pub struct SocketBuffers {
    rx_meta: [PacketMetadata; SOCKET_DEPTH],
    rx: [u8; SOCKET_DEPTH * MAX_FRAME_LEN],
    tx_meta: [PacketMetadata; SOCKET_DEPTH],
    tx: [u8; SOCKET_DEPTH * MAX_FRAME_LEN],
}

impl SocketBuffers {
    /// Empty buffers.
    pub const fn new() -> Self {
        SocketBuffers {
            rx_meta: [PacketMetadata::EMPTY; SOCKET_DEPTH],
            rx: [0; SOCKET_DEPTH * MAX_FRAME_LEN],
            tx_meta: [PacketMetadata::EMPTY; SOCKET_DEPTH],
            tx: [0; SOCKET_DEPTH * MAX_FRAME_LEN],
        }
    }

    /// A socket on `stack` bound to [`PORT`].
    pub fn socket<'a>(&'a mut self, stack: Stack<'a>) -> UdpSocket<'a> {
        let mut socket = UdpSocket::new(stack, &mut self.rx_meta, &mut self.rx, &mut self.tx_meta, &mut self.tx);
        if let Err(e) = socket.bind(PORT) {
            exit::fail(format_args!("cannot bind port {PORT}: {e:?}"));
        }
        socket
    }
}

impl Default for SocketBuffers {
    fn default() -> Self {
        Self::new()
    }
}
