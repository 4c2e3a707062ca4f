/// Bounded fan-out: runs `work` for every item, at most `limit` at a time, and hands each result
/// to `each` in the caller's context (one at a time, in completion order), so the caller can
/// update its own state without locks. The first error cancels the rest and is thrown.
func forEachConcurrently<T: Sendable, R: Sendable>(_ items: [T], limit: Int,
                                                   isolation: isolated (any Actor)? = #isolation,
                                                   _ work: @escaping @Sendable (T) async throws -> R,
                                                   each: (R) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: R.self) { group in
        var next = 0
        func launch() {
            guard next < items.count else { return }
            let item = items[next]
            next += 1
            group.addTask { try await work(item) }
        }
        for _ in 0..<max(1, limit) { launch() }
        while let r = try await group.next() {
            try await each(r)
            launch()
        }
    }
}
