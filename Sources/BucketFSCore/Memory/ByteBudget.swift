import Synchronization

/// A bound on bytes in use (read-ahead in flight, upload buffers): `acquire` waits, in arrival
/// order, until the bytes fit; `release` gives them back. A request larger than the whole budget
/// is let through alone, so nothing waits forever. With a `shared` budget the bytes must fit
/// there too (taken after this budget's, given back before).
public final class ByteBudget: Sendable {
    public let capacity: Int
    public let shared: MemoryBudget?
    private let state = Mutex(ByteQueue())

    public init(capacity: Int, shared: MemoryBudget? = nil) {
        self.capacity = max(1, capacity)
        self.shared = shared
    }

    public func acquire(_ bytes: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            if state.withLock({ $0.take(bytes, below: capacity, orQueue: c) }) { c.resume() }
        }
        await shared?.acquire(bytes)
    }

    /// Takes `bytes` only if they fit now and nobody is waiting; never waits.
    public func tryAcquire(_ bytes: Int) -> Bool {
        guard state.withLock({ $0.take(bytes, below: capacity) }) else { return false }
        if let shared, !shared.tryAcquire(bytes) {
            releaseOwn(bytes)
            return false
        }
        return true
    }

    public func release(_ bytes: Int) {
        shared?.release(bytes)
        releaseOwn(bytes)
    }

    private func releaseOwn(_ bytes: Int) {
        state.withLock { $0.give(bytes, below: capacity) }.forEach { $0.resume() }
    }

    public var inUse: Int { state.withLock { $0.used } }
}
