import Synchronization

/// A bound on bytes in use (read-ahead in flight, upload buffers): `acquire` waits, in arrival
/// order, until the bytes fit; `release` gives them back. A request larger than the whole budget
/// is let through alone, so nothing waits forever. With a `shared` budget the bytes must fit
/// there too (taken after this budget's, given back before).
public final class ByteBudget: Sendable {
    struct State {
        var used = 0
        var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    public let capacity: Int
    public let shared: MemoryBudget?
    private let state = Mutex(State())

    public init(capacity: Int, shared: MemoryBudget? = nil) {
        self.capacity = max(1, capacity)
        self.shared = shared
    }

    public func acquire(_ bytes: Int) async {
        await acquireOwn(bytes)
        await shared?.acquire(bytes)
    }

    private func acquireOwn(_ bytes: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.waiters.isEmpty && (s.used + bytes <= capacity || s.used == 0) {
                    s.used += bytes
                    return true
                }
                s.waiters.append((bytes, c))
                return false
            }
            if now { c.resume() }
        }
    }

    /// Takes `bytes` only if they fit now and nobody is waiting; never waits.
    public func tryAcquire(_ bytes: Int) -> Bool {
        let own = state.withLock { s in
            guard s.waiters.isEmpty, s.used + bytes <= capacity else { return false }
            s.used += bytes
            return true
        }
        guard own else { return false }
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
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.used -= bytes
            var out: [CheckedContinuation<Void, Never>] = []
            while let first = s.waiters.first, s.used + first.bytes <= capacity || s.used == 0 {
                s.used += first.bytes
                out.append(first.continuation)
                s.waiters.removeFirst()
            }
            return out
        }
        ready.forEach { $0.resume() }
    }

    public var inUse: Int { state.withLock { $0.used } }
}
