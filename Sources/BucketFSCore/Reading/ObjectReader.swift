import Logging
import NIOCore
import S3
import Synchronization

/// Reads byte ranges of objects through the block caches: memory, then disk, then S3.
/// Concurrent readers of one block share one GET; contiguous missing blocks are fetched with one
/// ranged GET of up to `chunkSize`; GETs carry If-Match so a block never mixes two versions.
/// A GET hands each block to its readers (through a `BlockFeed`) as soon as the block's bytes
/// have arrived, so a reader never waits for the rest of the GET.
/// Read-ahead is bounded globally by `maxPrefetchBytes` in flight: requests beyond it wait their
/// turn (already registered, so a reader that needs the block joins them instead of fetching twice).
/// A sequential reader drops behind itself: the whole blocks a read covers leave the memory tier
/// once handed out (the kernel's page cache holds them now), so memory holds what is ahead of
/// readers, and freed buffers are reused while still in the CPU's caches.
public final class ObjectReader: Sendable {
    public let client: S3Client
    public let bucket: String
    public let blockSize: Int
    public let chunkSize: Int
    public let memory: BlockCache
    public let disk: DiskCache?
    let maxPrefetchBytes: Int
    let logger: Logger

    /// A GET in flight, under the blocks it brings: readers wait on its feed, which hands each
    /// block out as soon as it has arrived; `id` lets the GET unregister itself.
    struct Inflight {
        let id: UInt64
        let feed: BlockFeed
    }
    private struct Registry {
        var blocks: [BlockKey: Inflight] = [:]
        var nextID: UInt64 = 0
    }
    private let inflight = Mutex(Registry())
    private let budget: ByteBudget
    /// The mount's memory bound, which fills count against too.
    let shared: MemoryBudget?

    public init(client: S3Client, bucket: String, blockSize: Int, chunkSize: Int = 16 << 20, memory: BlockCache,
                disk: DiskCache?, maxPrefetchBytes: Int, shared: MemoryBudget? = nil, logger: Logger) {
        self.client = client
        self.bucket = bucket
        self.blockSize = blockSize
        self.chunkSize = max(blockSize, chunkSize)
        self.memory = memory
        self.disk = disk
        self.maxPrefetchBytes = maxPrefetchBytes
        self.budget = ByteBudget(capacity: maxPrefetchBytes, shared: shared)
        self.shared = shared
        self.logger = logger
    }

    func blockLength(_ object: ObjectVersion, _ index: Int64) -> Int {
        Int(min(Int64(blockSize), object.size - index * Int64(blockSize)))
    }

    /// The cached slices covering `offset..<offset+length` if every block is in memory; nil otherwise.
    /// Never touches the network: the FUSE thread may call it and reply at once. With `dropBehind`
    /// (a sequential reader), the whole blocks the range covers leave the memory tier.
    public func cachedRead(_ object: ObjectVersion, offset: Int64, length: Int, dropBehind: Bool = false) -> [ByteBuffer]? {
        let (first, last, end) = span(object, offset, length)
        guard end > offset else { return [] }
        var out: [Block] = []
        for i in first...last {
            guard let b = memory.get(BlockKey(object: object, index: i)) else { return nil }
            out.append(b)
        }
        if dropBehind { drop(object, offset: offset, end: end) }
        return slice(out, first: first, offset: offset, end: end)
    }

    /// Removes from the memory tier the blocks that lie wholly inside `offset..<end`.
    private func drop(_ object: ObjectVersion, offset: Int64, end: Int64) {
        let bs = Int64(blockSize)
        var i = (offset + bs - 1) / bs
        while i * bs < end, min(object.size, (i + 1) * bs) <= end {
            memory.remove(BlockKey(object: object, index: i))
            i += 1
        }
    }

    private func span(_ object: ObjectVersion, _ offset: Int64, _ length: Int) -> (Int64, Int64, Int64) {
        let end = min(object.size, offset + Int64(length))
        let bs = Int64(blockSize)
        return (offset / bs, max(offset, end - 1) / bs, end)
    }

    private func slice(_ blocks: [Block], first: Int64, offset: Int64, end: Int64) -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        let bs = Int64(blockSize)
        for (n, b) in blocks.enumerated() {
            let blockStart = (first + Int64(n)) * bs
            let from = Int(max(offset, blockStart) - blockStart)
            let to = Int(min(end, blockStart + Int64(b.count)) - blockStart)
            if to > from { out += b.slices(from..<to) }
        }
        return out
    }

    /// Reads `offset..<offset+length` (clamped to the object's size) as slices in order; with
    /// `dropBehind`, as `cachedRead`.
    public func read(_ object: ObjectVersion, offset: Int64, length: Int, dropBehind: Bool = false) async throws -> [ByteBuffer] {
        let (first, last, end) = span(object, offset, length)
        guard end > offset else { return [] }
        var blocks: [Block] = []
        var missing: [Int64] = []
        var found: [Int64: Block] = [:]
        for i in first...last {
            let key = BlockKey(object: object, index: i)
            if let b = memory.get(key) { found[i] = b; continue }
            if let d = disk, let b = d.get(key, expectedLength: blockLength(object, i)) {
                memory.insert(key, b)
                found[i] = b
                continue
            }
            missing.append(i)
        }
        if !missing.isEmpty {
            for (i, b) in try await fetch(object, blocks: missing) { found[i] = b }
        }
        for i in first...last {
            guard let b = found[i] else { throw FSError(5, "block \(i) of \(object.key) missing after fetch") }
            blocks.append(b)
        }
        if dropBehind { drop(object, offset: offset, end: end) }
        return slice(blocks, first: first, offset: offset, end: end)
    }

    /// A random read: the bytes cached already (memory or disk, whole blocks), or else one ranged
    /// GET of exactly `offset..<offset+length` (the kernel asks in whole pages), kept in no
    /// cache, so a random read fetches what it reads and no more.
    public func readRange(_ object: ObjectVersion, offset: Int64, length: Int) async throws -> [ByteBuffer] {
        let (first, last, end) = span(object, offset, length)
        guard end > offset else { return [] }
        if let local = localRange(object, first: first, last: last, offset: offset, end: end) { return local }
        let out = try await client.getObject(bucket, key: object.key, range: offset...(end - 1), ifMatch: object.etag.isEmpty ? nil : object.etag,
                                             maxBytes: Int(end - offset) + 1)
        guard let body = out.body, body.readableBytes == Int(end - offset) else {
            throw FSError(5, "\(object.key): short ranged GET at \(offset)")
        }
        ReaderMetrics.randomReadBytes.increment(by: body.readableBytes)
        return [body]
    }

    /// A random read answered from memory and disk alone (only the asked bytes of a block on
    /// disk are read), or nil if a block of it is in neither. Never touches the network: the
    /// FUSE thread may call it and reply at once.
    public func localRead(_ object: ObjectVersion, offset: Int64, length: Int) -> [ByteBuffer]? {
        let (first, last, end) = span(object, offset, length)
        guard end > offset else { return [] }
        return localRange(object, first: first, last: last, offset: offset, end: end)
    }

    /// `offset..<end` from memory and disk alone, or nil if a block of it is in neither.
    private func localRange(_ object: ObjectVersion, first: Int64, last: Int64, offset: Int64, end: Int64) -> [ByteBuffer]? {
        let bs = Int64(blockSize)
        var out: [ByteBuffer] = []
        for i in first...last {
            let key = BlockKey(object: object, index: i)
            let from = Int(max(offset, i * bs) - i * bs)
            let to = Int(min(end, (i + 1) * bs) - i * bs)
            if let b = memory.get(key) {
                out += b.slices(from..<min(to, b.count))
            } else if let d = disk, let part = d.get(key, range: from..<to) {
                out.append(part)
            } else {
                return nil
            }
        }
        return out
    }

    /// Fetches every block of `object` not cached yet, in GETs of `runBytes` (at most
    /// `chunkSize`), `parallel` at once, into the disk tier (or memory without one): at most
    /// `parallel * runBytes` in flight, beside (not within) the read-ahead budget, so a fill
    /// neither waits for nor starves sequential readers (both count against the mount's
    /// `MemoryBudget`). Stops at cancellation or the first
    /// failure; a failure only costs the rest of the fill. Answers the bytes it fetched.
    func fill(_ object: ObjectVersion, parallel: Int, runBytes: Int) async -> Int {
        let perChunk = Int64(max(1, min(chunkSize, runBytes) / blockSize))
        let blocks = (object.size + Int64(blockSize) - 1) / Int64(blockSize)
        let toMemory = disk == nil
        var chunks: [[Int64]] = []
        var c: Int64 = 0
        while c < blocks {
            let missing = (c..<min(blocks, c + perChunk)).filter { i in
                let key = BlockKey(object: object, index: i)
                return !(disk?.contains(key) ?? memory.contains(key))
            }
            if !missing.isEmpty { chunks.append(missing) }
            c += perChunk
        }
        // Each task answers the bytes it fetched, or nil when its GET failed.
        let bytes = await withTaskGroup(of: Int?.self) { group -> Int in
            var next = 0
            var total = 0
            func add() {
                guard next < chunks.count else { return }
                let run = chunks[next]
                next += 1
                group.addTask { [self] in
                    await fillRun(object, run, toMemory: toMemory)
                }
            }
            for _ in 0..<max(1, parallel) { add() }
            for await got in group {
                guard let got, !Task.isCancelled else { group.cancelAll(); break }
                total += got
                add()
            }
            return total
        }
        ReaderMetrics.fillBytes.increment(by: bytes)
        return bytes
    }

    /// One GET of a fill: the bytes it fetched, or nil if it failed or the fill was cancelled.
    private func fillRun(_ object: ObjectVersion, _ run: [Int64], toMemory: Bool) async -> Int? {
        guard !Task.isCancelled else { return nil }
        let bytes = run.reduce(0) { $0 + blockLength(object, $1) }
        await shared?.acquire(bytes)
        defer { shared?.release(bytes) }
        do {
            for (wanted, feed) in claim(object, blocks: run, prefetch: false, toMemory: toMemory) {
                for i in wanted { _ = try await feed.block(i) }
            }
            return bytes
        } catch {
            logger.debug("fill of \(object.key) stopped: \(error)")
            return nil
        }
    }

    /// Starts fetching the blocks of `range` that are not cached or in flight, within the global
    /// read-ahead budget. Returns at once, the GETs already registered: a read of one of these
    /// blocks that arrives next joins its GET instead of sending another.
    public func prefetch(_ object: ObjectVersion, range: Range<Int64>) {
        let bs = Int64(blockSize)
        var wanted: [Int64] = []
        var i = range.lowerBound / bs
        while i * bs < range.upperBound && i * bs < object.size {
            let key = BlockKey(object: object, index: i)
            // A block on disk is read from there when asked for: fetching it again would be waste.
            if !memory.contains(key) && disk?.contains(key) != true { wanted.append(i) }
            i += 1
        }
        guard !wanted.isEmpty else { return }
        _ = claim(object, blocks: wanted, prefetch: true)
    }

    /// Registers GETs for the blocks of `blocks` (sorted) not in flight yet, contiguous runs
    /// grouped into GETs of up to `chunkSize` that never cross a multiple of it, and answers them
    /// beside the GETs already in flight for the others. Synchronous, so two callers never fetch
    /// one block twice.
    private func claim(_ object: ObjectVersion, blocks: [Int64], prefetch: Bool, toMemory: Bool = true) -> [(blocks: [Int64], feed: BlockFeed)] {
        let perChunk = max(1, chunkSize / blockSize)
        return inflight.withLock { m in
            var out: [(blocks: [Int64], feed: BlockFeed)] = []
            var run: [Int64] = []
            func start() {
                guard !run.isEmpty else { return }
                let id = m.nextID
                m.nextID += 1
                let blocks = run
                let bytes = blocks.reduce(0) { $0 + blockLength(object, $1) }
                let feed = BlockFeed()
                Task {
                    defer {
                        self.inflight.withLock { m in
                            for i in blocks where m.blocks[BlockKey(object: object, index: i)]?.id == id {
                                m.blocks[BlockKey(object: object, index: i)] = nil
                            }
                        }
                    }
                    if prefetch {
                        await self.budget.acquire(bytes)
                        ReaderMetrics.readAheadBytes.increment(by: bytes)
                    }
                    defer { if prefetch { self.budget.release(bytes) } }
                    do {
                        try await self.fetchRun(object, blocks, into: feed, toMemory: toMemory)
                    } catch {
                        feed.fail(error)
                    }
                }
                for i in blocks { m.blocks[BlockKey(object: object, index: i)] = Inflight(id: id, feed: feed) }
                out.append((blocks, feed))
                run = []
            }
            for i in blocks {
                let key = BlockKey(object: object, index: i)
                if let f = m.blocks[key] {
                    start()
                    if out.last?.feed !== f.feed { out.append(([i], f.feed)) } else { out[out.count - 1].blocks.append(i) }
                    continue
                }
                if let last = run.last, last + 1 != i || i % Int64(perChunk) == 0 { start() }
                run.append(i)
            }
            start()
            return out
        }
    }

    /// Fetches `blocks` (sorted), sharing GETs already in flight; each block is answered as soon
    /// as it has arrived, not when its whole GET has.
    func fetch(_ object: ObjectVersion, blocks: [Int64]) async throws -> [Int64: Block] {
        var out: [Int64: Block] = [:]
        for (wanted, feed) in claim(object, blocks: blocks, prefetch: false) {
            for i in wanted { out[i] = try await feed.block(i) }
        }
        return out
    }

    /// One ranged GET for a run of contiguous blocks. As the body arrives it is cut into
    /// per-block slices of the buffers it arrived in (no copy), each cached in memory and handed
    /// to `feed` once whole; the disk tier gets them when the GET is complete. Without
    /// `toMemory` (a fill into the disk tier), the memory tier is left as it was.
    private func fetchRun(_ object: ObjectVersion, _ run: [Int64], into feed: BlockFeed, toMemory: Bool = true) async throws {
        let bs = Int64(blockSize)
        let start = run[0] * bs
        let stop = min(object.size, (run[run.count - 1] + 1) * bs)
        let length = Int(stop - start)
        let assembly = Mutex(BlockAssembly(lengths: run.map { blockLength(object, $0) }))
        let observer: BodyObserver = { [memory] part, offset in
            for (n, block) in assembly.withLock({ $0.add(part, at: offset) }) {
                if toMemory { memory.insert(BlockKey(object: object, index: run[n]), block) }
                feed.deliver(run[n], block)
            }
        }
        let (segments, count) = try await client.readUnchanged(bucket, key: object.key, etag: object.etag) { ifMatch in
            try await self.client.getObjectSegments(self.bucket, key: object.key, range: start...(stop - 1), ifMatch: ifMatch,
                                                    observer: observer)
        }
        guard count == length else {
            throw FSError(5, "short read of \(object.key): \(count) of \(length) bytes (object changed?)")
        }
        // The blocks the observer did not hand out (an answer that was not a 206) go out now,
        // and the disk tier gets them all. Those handed out are not cached again: a sequential
        // reader may have dropped them already.
        let streamed = assembly.withLock { $0.next }
        let whole = Block(segments: segments)
        for (n, i) in run.enumerated() {
            let from = Int(i * bs - start)
            let block = whole.block(from..<(from + blockLength(object, i)))
            let key = BlockKey(object: object, index: i)
            if n >= streamed {
                if toMemory { memory.insert(key, block) }
                feed.deliver(i, block)
            }
            disk?.put(key, block)
        }
    }
}
