import Synchronization

/// Names recently found missing, so repeated lookups of a missing name (shells, editors, `ls`
/// of dotfiles) cost one S3 round trip per TTL. Bounded: past `capacity` the oldest half goes.
public final class NegativeCache: Sendable {
    struct Key: Hashable {
        let parent: UInt64
        let name: String
    }

    private let state = Mutex<[Key: UInt64]>([:])
    private let ttl: Double
    private let capacity: Int

    public init(ttl: Double, capacity: Int = 10_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    public func isMissing(parent: UInt64, name: String) -> Bool {
        guard ttl > 0 else { return false }
        let now = MonotonicClock.now()
        return state.withLock { s in
            guard let until = s[Key(parent: parent, name: name)] else { return false }
            if until > now { return true }
            s[Key(parent: parent, name: name)] = nil
            return false
        }
    }

    public func insert(parent: UInt64, name: String) {
        guard ttl > 0 else { return }
        let until = MonotonicClock.deadline(after: ttl)
        state.withLock { s in
            if s.count >= capacity {
                let keep = s.sorted { $0.value > $1.value }.prefix(capacity / 2)
                s = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            s[Key(parent: parent, name: name)] = until
        }
    }

    public func remove(parent: UInt64, name: String) {
        _ = state.withLock { $0.removeValue(forKey: Key(parent: parent, name: name)) }
    }
}
