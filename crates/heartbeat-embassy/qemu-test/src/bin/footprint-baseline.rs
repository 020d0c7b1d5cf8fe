//! Footprint image, without the heartbeat: the same executor, time driver, two embassy-net
//! stacks on the in-memory link and a UDP socket that receives (`recv_from_with` under
//! `with_deadline`) and sends a 72-byte datagram to 8 peers every 100 ms. What
//! `footprint-node` adds to this is the heartbeat's footprint (see `footprint.sh`).

#![no_std]
#![no_main]

use cortex_m_semihosting::hprintln;
use embassy_executor::Spawner;
use embassy_futures::select::select;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Instant, Timer, with_deadline};
use heartbeat_embassy_qemu_test::exit::pass;
use heartbeat_embassy_qemu_test::net::{self, SocketBuffers, spawn};
use heartbeat_embassy_qemu_test::{stack, uptime_ms};
use panic_semihosting as _;

static WAKE: Signal<CriticalSectionRawMutex, ()> = Signal::new();

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let (stack, _quiet) = heartbeat_embassy_qemu_test::boot(spawner);
    spawn(spawner, run(stack));
    Timer::after_millis(1000).await;
    hprintln!("{} ms: baseline done; stack peak {} bytes", uptime_ms(), stack::peak());
    pass();
}

#[embassy_executor::task]
async fn run(stack: Stack<'static>) {
    static DATAGRAM: [u8; 72] = [0x48; 72];
    let mut buffers = SocketBuffers::new();
    let mut socket = buffers.socket(stack);
    let mut received = 0usize;
    let mut next = Instant::now();
    loop {
        for n in 2..10 {
            let _ = socket.send_to(&DATAGRAM, net::address(n)).await;
        }
        next += Duration::from_millis(100);
        let receive = socket.recv_from_with(|datagram, _| received += datagram.len());
        let _ = with_deadline(next, select(receive, WAKE.wait())).await;
    }
}
