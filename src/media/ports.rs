//! RTP port allocation: even ports from a configured range (RTCP would take the odd one
//! above), handed out round-robin so a just-released port is not reused at once and late
//! packets of an old call do not land in a new one. Thread-safe behind one cheap `Mutex`.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

/// Hands out even UDP ports in `low..=high`.
#[derive(Debug)]
pub struct PortAllocator {
    /// First even port in the range.
    first: u16,
    /// Number of even ports in the range (0 if none).
    count: u32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Index (port = first + 2 * index) where the next search starts.
    cursor: u32,
    in_use: HashSet<u16>,
}

impl PortAllocator {
    /// An allocator over the even ports in `low..=high` (an empty or inverted range allocates
    /// nothing).
    pub fn new(low: u16, high: u16) -> PortAllocator {
        let first = u32::from(low) + u32::from(low) % 2;
        let count = if first <= u32::from(high) {
            (u32::from(high) - first) / 2 + 1
        } else {
            0
        };
        PortAllocator {
            first: u16::try_from(first).unwrap_or(u16::MAX),
            count,
            state: Mutex::new(State::default()),
        }
    }

    /// A free even port, or `None` when all are in use.
    pub fn allocate(&self) -> Option<u16> {
        let mut state = self.lock();
        for step in 0..self.count {
            let index = (state.cursor + step) % self.count;
            let port = self.port_at(index)?;
            if state.in_use.insert(port) {
                state.cursor = (index + 1) % self.count;
                return Some(port);
            }
        }
        None
    }

    /// Returns a port to the pool; `false` if it was not allocated.
    pub fn release(&self, port: u16) -> bool {
        self.lock().in_use.remove(&port)
    }

    /// Ports currently handed out.
    pub fn in_use(&self) -> usize {
        self.lock().in_use.len()
    }

    /// Total ports this allocator can hand out.
    pub fn capacity(&self) -> usize {
        self.count as usize
    }

    fn port_at(&self, index: u32) -> Option<u16> {
        u16::try_from(u32::from(self.first) + 2 * index).ok()
    }

    /// The set stays consistent even if a holder panicked, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn range_sizes() {
        let cases = [
            ((10000, 10010), 6, Some(10000)),
            ((10001, 10010), 5, Some(10002)),
            ((10000, 10000), 1, Some(10000)),
            ((10001, 10001), 0, None),
            ((20000, 10000), 0, None),
            ((65534, 65535), 1, Some(65534)),
            ((65535, 65535), 0, None),
        ];
        for ((low, high), count, first) in cases {
            let ports = PortAllocator::new(low, high);
            assert_eq!(ports.capacity(), count, "{low}..={high}");
            assert_eq!(ports.allocate(), first, "{low}..={high}");
        }
    }

    #[test]
    fn exhaustion_then_reuse_round_robin() {
        let ports = PortAllocator::new(4000, 4006);
        let got: Vec<Option<u16>> = (0..5).map(|_| ports.allocate()).collect();
        assert_eq!(got, [Some(4000), Some(4002), Some(4004), Some(4006), None]);
        assert!(ports.release(4002));
        assert!(!ports.release(4002), "double release");
        assert!(!ports.release(4001), "never allocated");
        assert_eq!(ports.allocate(), Some(4002));
        assert!(ports.release(4000));
        assert!(ports.release(4006));
        // Round-robin: the search continues after the last port handed out (4002).
        assert_eq!(ports.allocate(), Some(4006));
        assert_eq!(ports.allocate(), Some(4000));
        assert_eq!(ports.in_use(), 4);
    }

    #[test]
    fn concurrent_allocations_are_unique() {
        let ports = Arc::new(PortAllocator::new(30000, 30199));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ports = Arc::clone(&ports);
                std::thread::spawn(move || {
                    (0..25).filter_map(|_| ports.allocate()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u16> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 100);
        assert!(all.iter().all(|p| p % 2 == 0));
    }
}
