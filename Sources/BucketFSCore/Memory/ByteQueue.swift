/// The state of a byte budget: the bytes taken, and the requests waiting for room in arrival
/// order. Its owner keeps it under a lock and resumes what it answers outside the lock.
/// Guarantees: nobody is admitted ahead of a waiter; a waiting request is admitted when it fits
/// below the limit or when nothing at all is taken (so one larger than the limit goes through
/// alone instead of waiting forever).
struct ByteQueue {
    private(set) var used = 0
    private var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []

    /// Takes `bytes` if nobody waits and they fit below `limit`; never queues.
    mutating func take(_ bytes: Int, below limit: Int) -> Bool {
        guard waiters.isEmpty, used + bytes <= limit else { return false }
        used += bytes
        return true
    }

    /// Takes `bytes` if they are admitted now (true: resume `c`), else queues `c` for `give`.
    mutating func take(_ bytes: Int, below limit: Int, orQueue c: CheckedContinuation<Void, Never>) -> Bool {
        if waiters.isEmpty && (used + bytes <= limit || used == 0) {
            used += bytes
            return true
        }
        waiters.append((bytes, c))
        return false
    }

    /// Gives `bytes` back and answers the waiters admitted now, in order.
    mutating func give(_ bytes: Int, below limit: Int) -> [CheckedContinuation<Void, Never>] {
        used -= bytes
        var ready: [CheckedContinuation<Void, Never>] = []
        while let first = waiters.first, used + first.bytes <= limit || used == 0 {
            used += first.bytes
            ready.append(first.continuation)
            waiters.removeFirst()
        }
        return ready
    }
}
