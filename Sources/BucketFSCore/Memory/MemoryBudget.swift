import Synchronization

/// One bound over the mount's buffers: read-ahead in flight, upload buffers and the first MiB of
/// new files (each also under its own `ByteBudget`), and the memory block cache. Guarantees: the
/// bytes those budgets hold plus the cache's never exceed `capacity` (a single request larger
/// than everything the others may hold is let through alone, so nothing waits forever). The
/// cache is what gives way: it is shrunk at once to what the others leave, down to `cacheFloor`,
/// and may grow again (to its own capacity) as they give bytes back. A request waits, in arrival
/// order, only while the others' bytes and the floor leave no room for it. Only waiting requests
/// (reads: read-ahead and fills, which give their bytes back when their GET ends) may take the
/// last `readReserve` bytes; `tryAcquire` (writers, which may hold buffers for as long as a file
/// stays open, and fall back to disk) leaves them, so writers never stall a read for long.
public final class MemoryBudget: Sendable {
    public let capacity: Int
    public let cacheFloor: Int
    public let readReserve: Int
    let cache: BlockCache
    private let state = Mutex(ByteQueue())

    /// `capacity` for everything, of which `cacheFloor` is always left to `cache`.
    public init(capacity: Int, cacheFloor: Int, readReserve: Int, cache: BlockCache) {
        self.capacity = max(1, capacity)
        self.cacheFloor = max(0, min(cacheFloor, capacity))
        self.readReserve = max(0, readReserve)
        self.cache = cache
        cache.limit(to: self.capacity)
    }

    /// What the others may hold together: everything but the cache's floor.
    private var room: Int { capacity - cacheFloor }

    public func acquire(_ bytes: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let used = state.withLock { q in q.take(bytes, below: room, orQueue: c) ? q.used : nil }
            if let used {
                cache.limit(to: capacity - used)
                c.resume()
            }
        }
    }

    /// Takes `bytes` only if they fit now, below the readers' reserve, and nobody is waiting.
    public func tryAcquire(_ bytes: Int) -> Bool {
        guard let used = state.withLock({ q in q.take(bytes, below: room - readReserve) ? q.used : nil }) else { return false }
        cache.limit(to: capacity - used)
        return true
    }

    public func release(_ bytes: Int) {
        let (ready, used) = state.withLock { q in (q.give(bytes, below: room), q.used) }
        cache.limit(to: capacity - used)
        ready.forEach { $0.resume() }
    }

    /// Bytes held outside the cache.
    public var inUse: Int { state.withLock { $0.used } }
}
