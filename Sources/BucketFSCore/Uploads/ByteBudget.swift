import Synchronization

/// A bound on bytes in use (read-ahead in flight): `acquire` waits, in arrival order, until the
/// bytes fit; `release` gives them back. A request larger than the whole budget is let through
/// alone, so nothing waits forever.
public final class ByteBudget: Sendable {
    struct State {
        var used = 0
        var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public func acquire(_ bytes: Int) async {
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
        state.withLock { s in
            guard s.waiters.isEmpty, s.used + bytes <= capacity else { return false }
            s.used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
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
