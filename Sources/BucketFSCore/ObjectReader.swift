import Logging
import NIOCore
import S3
import Synchronization

/// Reads byte ranges of objects through the block caches: memory, then disk, then S3.
/// Concurrent readers of one block share one GET; contiguous missing blocks are fetched with one
/// ranged GET of up to `chunkSize`; GETs carry If-Match so a block never mixes two versions.
/// Read-ahead is bounded globally by `maxPrefetchBytes` in flight: requests beyond it wait their
/// turn (already registered, so a reader that needs the block joins them instead of fetching twice).
public final class ObjectReader: Sendable {
    public let client: S3Client
    public let bucket: String
    public let blockSize: Int
    public let chunkSize: Int
    public let memory: BlockCache
    public let disk: DiskCache?
    let maxPrefetchBytes: Int
    let logger: Logger

    typealias Fetch = Task<[Int64: ByteBuffer], any Error>
    private let inflight = Mutex<[BlockKey: Fetch]>([:])
    private let budget: ByteBudget

    public init(client: S3Client, bucket: String, blockSize: Int, chunkSize: Int = 8 << 20, memory: BlockCache,
                disk: DiskCache?, maxPrefetchBytes: Int, logger: Logger) {
        self.client = client
        self.bucket = bucket
        self.blockSize = blockSize
        self.chunkSize = max(blockSize, chunkSize)
        self.memory = memory
        self.disk = disk
        self.maxPrefetchBytes = maxPrefetchBytes
        self.budget = ByteBudget(capacity: maxPrefetchBytes)
        self.logger = logger
    }

    func blockLength(_ object: ObjectVersion, _ index: Int64) -> Int {
        Int(min(Int64(blockSize), object.size - index * Int64(blockSize)))
    }

    /// The cached slices covering `offset..<offset+length` if every block is in memory; nil otherwise.
    /// Never touches the network: the FUSE thread may call it and reply at once.
    public func cachedRead(_ object: ObjectVersion, offset: Int64, length: Int) -> [ByteBuffer]? {
        let (first, last, end) = span(object, offset, length)
        guard end > offset else { return [] }
        var out: [ByteBuffer] = []
        for i in first...last {
            guard let b = memory.get(BlockKey(object: object, index: i)) else { return nil }
            out.append(b)
        }
        return slice(out, first: first, offset: offset, end: end)
    }

    private func span(_ object: ObjectVersion, _ offset: Int64, _ length: Int) -> (Int64, Int64, Int64) {
        let end = min(object.size, offset + Int64(length))
        let bs = Int64(blockSize)
        return (offset / bs, max(offset, end - 1) / bs, end)
    }

    private func slice(_ blocks: [ByteBuffer], first: Int64, offset: Int64, end: Int64) -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        let bs = Int64(blockSize)
        for (n, b) in blocks.enumerated() {
            let blockStart = (first + Int64(n)) * bs
            let from = Int(max(offset, blockStart) - blockStart)
            let to = Int(min(end, blockStart + Int64(b.readableBytes)) - blockStart)
            if to > from, let s = b.getSlice(at: b.readerIndex + from, length: to - from) { out.append(s) }
        }
        return out
    }

    /// Reads `offset..<offset+length` (clamped to the object's size) as slices in order.
    public func read(_ object: ObjectVersion, offset: Int64, length: Int) async throws -> [ByteBuffer] {
        let (first, last, end) = span(object, offset, length)
        guard end > offset else { return [] }
        var blocks: [ByteBuffer] = []
        var missing: [Int64] = []
        var found: [Int64: ByteBuffer] = [:]
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
            for (i, b) in try await fetch(object, blocks: missing, prefetch: false) { found[i] = b }
        }
        for i in first...last {
            guard let b = found[i] else { throw FSError(5, "block \(i) of \(object.key) missing after fetch") }
            blocks.append(b)
        }
        return slice(blocks, first: first, offset: offset, end: end)
    }

    /// Starts fetching the blocks of `range` that are not cached or in flight, within the global
    /// read-ahead budget. Returns at once.
    public func prefetch(_ object: ObjectVersion, range: Range<Int64>) {
        let bs = Int64(blockSize)
        var wanted: [Int64] = []
        var i = range.lowerBound / bs
        while i * bs < range.upperBound && i * bs < object.size {
            let key = BlockKey(object: object, index: i)
            if !memory.contains(key) && inflight.withLock({ $0[key] == nil }) { wanted.append(i) }
            i += 1
        }
        guard !wanted.isEmpty else { return }
        Task {
            _ = try? await self.fetch(object, blocks: wanted, prefetch: true)
        }
    }

    /// Fetches `blocks` (sorted), sharing GETs already in flight, grouping contiguous runs into
    /// chunked GETs. Answers what it fetched or joined.
    func fetch(_ object: ObjectVersion, blocks: [Int64], prefetch: Bool) async throws -> [Int64: ByteBuffer] {
        var joined: [(Int64, Fetch)] = []
        var runs: [[Int64]] = []
        let perChunk = max(1, chunkSize / blockSize)
        var started: [(run: [Int64], task: Fetch)] = []
        inflight.withLock { m in
            var run: [Int64] = []
            for i in blocks {
                let key = BlockKey(object: object, index: i)
                if let t = m[key] { joined.append((i, t)); continue }
                if let last = run.last, last + 1 != i || run.count >= perChunk { runs.append(run); run = [] }
                run.append(i)
            }
            if !run.isEmpty { runs.append(run) }
        }
        for run in runs {
            let bytes = run.reduce(0) { $0 + blockLength(object, $1) }
            let task: Fetch = Task {
                if prefetch { await self.budget.acquire(bytes) }
                defer { if prefetch { self.budget.release(bytes) } }
                return try await self.fetchRun(object, run)
            }
            inflight.withLock { m in
                for i in run where m[BlockKey(object: object, index: i)] == nil { m[BlockKey(object: object, index: i)] = task }
            }
            started.append((run, task))
        }
        var out: [Int64: ByteBuffer] = [:]
        var firstError: (any Error)?
        for (run, task) in started {
            do {
                let got = try await task.value
                for (i, b) in got { out[i] = b }
            } catch {
                firstError = firstError ?? error
            }
            inflight.withLock { m in
                for i in run where m[BlockKey(object: object, index: i)] == task { m[BlockKey(object: object, index: i)] = nil }
            }
        }
        for (i, task) in joined {
            do {
                if let b = try await task.value[i] { out[i] = b }
            } catch {
                firstError = firstError ?? error
            }
        }
        if let e = firstError, !prefetch { throw e }
        return out
    }

    /// One ranged GET for a run of contiguous blocks, split into per-block slices and cached.
    private func fetchRun(_ object: ObjectVersion, _ run: [Int64]) async throws -> [Int64: ByteBuffer] {
        let bs = Int64(blockSize)
        let start = run[0] * bs
        let stop = min(object.size, (run[run.count - 1] + 1) * bs)
        let length = Int(stop - start)
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        let count = try await buffer.writeWithUnsafeMutableBytesAsync(length) { dest in
            try await self.client.readUnchanged(self.bucket, key: object.key, etag: object.etag) { ifMatch in
                try await self.client.getObject(self.bucket, key: object.key, range: start...(stop - 1), ifMatch: ifMatch, into: dest).count
            }
        }
        guard count == length else {
            throw FSError(5, "short read of \(object.key): \(count) of \(length) bytes (object changed?)")
        }
        var out: [Int64: ByteBuffer] = [:]
        for i in run {
            let from = Int(i * bs - start)
            let len = blockLength(object, i)
            guard let slice = buffer.getSlice(at: buffer.readerIndex + from, length: len) else { continue }
            let key = BlockKey(object: object, index: i)
            memory.insert(key, slice)
            disk?.put(key, slice)
            out[i] = slice
        }
        return out
    }
}

extension ByteBuffer {
    /// Lets an async producer write up to `count` bytes straight into the buffer's storage.
    mutating func writeWithUnsafeMutableBytesAsync(_ count: Int, _ body: (UnsafeDestination) async throws -> Int) async throws -> Int {
        reserveCapacity(minimumWritableBytes: count)
        guard let dest = withUnsafeMutableWritableBytes({ $0.baseAddress.map { UnsafeDestination(base: $0, count: count) } }) else {
            return 0
        }
        let n = try await body(dest)
        moveWriterIndex(forwardBy: n)
        return n
    }
}
