//! Publishing a driver's events to any number of subscribers, none of which can miss one.
//!
//! Each [`Subscription`] has a queue of its own with no bound: publishing never waits and never
//! drops, so a subscriber that falls behind (a slow log, a hook runner with a backlog) still
//! receives every event, in order, and the driver task is never held up by it. The price is
//! memory: a subscriber that stops reading keeps what it has not read. Drop a subscription
//! that is no longer read; the driver forgets it at its next event.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

/// The driver stopped and every event it published has been received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the driver stopped: no more events")]
pub struct Closed;

/// Why [`Subscription::try_recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// None is waiting now; more may come.
    #[error("no event waiting")]
    Empty,
    /// The driver stopped and every event has been received.
    #[error("the driver stopped: no more events")]
    Closed,
}

/// A receiver of every event a driver publishes after it subscribed, in order; none is ever
/// dropped. Its queue has no bound, so publishing never waits and a subscriber that falls
/// behind still gets everything; a subscriber that stops reading keeps what it has not read in
/// memory, so drop a subscription that is no longer read (the driver forgets it at its next
/// event).
#[derive(Debug)]
pub struct Subscription<E> {
    queue: mpsc::UnboundedReceiver<E>,
}

impl<E> Subscription<E> {
    /// The next event; [`Closed`] once the driver has stopped and every event was received.
    /// Cancellation-safe: an event is never lost to a dropped future.
    pub async fn recv(&mut self) -> Result<E, Closed> {
        self.queue.recv().await.ok_or(Closed)
    }

    /// The next event if one is waiting now.
    pub fn try_recv(&mut self) -> Result<E, TryRecvError> {
        self.queue.try_recv().map_err(|err| match err {
            mpsc::error::TryRecvError::Empty => TryRecvError::Empty,
            mpsc::error::TryRecvError::Disconnected => TryRecvError::Closed,
        })
    }

    /// How many events are waiting to be received.
    pub fn backlog(&self) -> usize {
        self.queue.len()
    }
}

/// The publishing side, shared by the driver task and its handles; `None` once the driver has
/// stopped, so that subscribers see [`Closed`] after the last event.
#[derive(Debug)]
pub(crate) struct Publisher<E> {
    subscribers: Arc<Mutex<Option<Vec<mpsc::UnboundedSender<E>>>>>,
}

impl<E> Clone for Publisher<E> {
    fn clone(&self) -> Self {
        Publisher { subscribers: Arc::clone(&self.subscribers) }
    }
}

impl<E> Publisher<E> {
    pub(crate) fn new() -> Self {
        Publisher { subscribers: Arc::new(Mutex::new(Some(Vec::new()))) }
    }

    /// A new subscriber; already closed if the driver has stopped.
    pub(crate) fn subscribe(&self) -> Subscription<E> {
        let (tx, queue) = mpsc::unbounded_channel();
        if let Some(subscribers) = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            subscribers.push(tx);
        }
        Subscription { queue }
    }

    /// The driver stopped: subscribers get what is queued, then [`Closed`].
    pub(crate) fn close(&self) {
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// Closes the publisher when dropped: the driver task holds one, so that an aborted task
    /// closes it too.
    pub(crate) fn close_on_drop(&self) -> CloseOnDrop<E> {
        CloseOnDrop(self.clone())
    }
}

impl<E: Clone> Publisher<E> {
    /// Queues `event` for every subscriber, forgetting the ones that were dropped. Never waits.
    pub(crate) fn publish(&self, event: E) {
        let mut guard = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(subscribers) = guard.as_mut() else { return };
        subscribers.retain(|tx| !tx.is_closed());
        if let Some((last, others)) = subscribers.split_last() {
            for tx in others {
                let _ = tx.send(event.clone());
            }
            let _ = last.send(event);
        }
    }
}

/// See [`Publisher::close_on_drop`].
pub(crate) struct CloseOnDrop<E>(Publisher<E>);

impl<E> Drop for CloseOnDrop<E> {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_far_behind_still_gets_every_event_in_order() {
        let publisher = Publisher::new();
        let mut slow = publisher.subscribe();
        let mut fast = publisher.subscribe();
        // Far more than the 1024 a broadcast channel used to keep.
        for i in 0..100_000u32 {
            publisher.publish(i);
            assert_eq!(fast.try_recv(), Ok(i));
        }
        assert_eq!(slow.backlog(), 100_000);
        for i in 0..100_000u32 {
            assert_eq!(slow.try_recv(), Ok(i));
        }
        assert_eq!(slow.try_recv(), Err(TryRecvError::Empty));
        publisher.close();
        assert_eq!(slow.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn closing_delivers_what_is_queued_then_closed_and_late_subscribers_are_closed() {
        let publisher = Publisher::new();
        let mut events = publisher.subscribe();
        publisher.publish(1u8);
        publisher.close();
        publisher.publish(2);
        assert_eq!(events.try_recv(), Ok(1));
        assert_eq!(events.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(publisher.subscribe().try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn a_dropped_subscriber_is_forgotten() {
        let publisher = Publisher::new();
        let dropped = publisher.subscribe();
        let mut kept = publisher.subscribe();
        drop(dropped);
        publisher.publish(5u8);
        let count = publisher.subscribers.lock().unwrap().as_ref().map(Vec::len);
        assert_eq!(count, Some(1));
        assert_eq!(kept.try_recv(), Ok(5));
    }
}
