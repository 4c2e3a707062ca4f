import Collections
import NIOCore
import S3
import Synchronization

/// Names one block of one version of one object.
public struct BlockKey: Hashable, Sendable {
    /// `bucket/key` and the ETag: a changed object never hits old blocks.
    public let object: ObjectVersion
    public let index: Int64
}

/// An object at one ETag.
public struct ObjectVersion: Hashable, Sendable {
    public let key: String
    public let etag: String
    public let size: Int64
    public init(key: String, etag: String, size: Int64) { self.key = key; self.etag = etag; self.size = size }
}

/// The bytes of one block, kept as the buffers they arrived in from the network (slices, no
/// copy); `count` is the sum of their readable bytes.
public struct Block: Sendable {
    public private(set) var segments: [ByteBuffer]
    public private(set) var count: Int

    public init(_ buffer: ByteBuffer) { self.init(segments: [buffer]) }

    public init(segments: [ByteBuffer]) {
        self.segments = segments.filter { $0.readableBytes > 0 }
        self.count = self.segments.reduce(0) { $0 + $1.readableBytes }
    }

    /// The bytes in `range` (clamped to the block) as slices of the segments, in order.
    public func slices(_ range: Range<Int>) -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        var at = 0
        for seg in segments {
            let n = seg.readableBytes
            defer { at += n }
            if at + n <= range.lowerBound { continue }
            if at >= range.upperBound { break }
            let from = max(range.lowerBound, at) - at
            let to = min(range.upperBound, at + n) - at
            if to > from, let s = seg.getSlice(at: seg.readerIndex + from, length: to - from) { out.append(s) }
        }
        return out
    }

    /// The bytes in `range` as a block of their own (sharing the segments' storage).
    public func block(_ range: Range<Int>) -> Block { Block(segments: slices(range)) }

    /// The bytes in one buffer (a copy when there is more than one segment).
    public var contiguous: ByteBuffer { ByteBuffer(joining: segments) }
}

/// The memory tier: blocks in LRU order under a hard byte limit that is never exceeded
/// (a block larger than the limit is simply not kept). The limit is `capacity`, or less while a
/// `MemoryBudget` gives the room to other buffers (`limit(to:)`). Thread-safe.
public final class BlockCache: Sendable {
    struct State {
        var blocks: OrderedDictionary<BlockKey, Block> = [:]
        var used = 0
        var limit: Int
        var hits = 0
        var misses = 0
        var evictions = 0
    }

    public let capacity: Int
    private let state: Mutex<State>

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
        state = Mutex(State(limit: self.capacity))
    }

    /// Holds at most `bytes` (never more than `capacity`) from now on, dropping the least
    /// recently used blocks at once if it holds more.
    public func limit(to bytes: Int) {
        state.withLock { s in
            s.limit = max(0, min(capacity, bytes))
            evict(&s, toFit: 0)
        }
    }

    private func evict(_ s: inout State, toFit size: Int) {
        while s.used + size > s.limit, let first = s.blocks.keys.first {
            s.used -= s.blocks.removeValue(forKey: first)?.count ?? 0
            s.evictions += 1
        }
    }

    public func get(_ key: BlockKey) -> Block? {
        state.withLock { s in
            guard let b = s.blocks.removeValue(forKey: key) else { s.misses += 1; return nil }
            s.blocks[key] = b
            s.hits += 1
            return b
        }
    }

    /// Forgets the block (a sequential reader's, handed out for the last time); not a hit or a miss.
    public func remove(_ key: BlockKey) {
        state.withLock { s in
            if let b = s.blocks.removeValue(forKey: key) { s.used -= b.count }
        }
    }

    public func contains(_ key: BlockKey) -> Bool { state.withLock { $0.blocks[key] != nil } }

    public func insert(_ key: BlockKey, _ block: Block) {
        let size = block.count
        state.withLock { s in
            if let old = s.blocks.removeValue(forKey: key) { s.used -= old.count }
            guard size <= s.limit else { return }
            evict(&s, toFit: size)
            s.blocks[key] = block
            s.used += size
        }
    }

    public var usedBytes: Int { state.withLock { $0.used } }
    /// What it may hold now (`capacity`, or less while other buffers have the room).
    public var currentLimit: Int { state.withLock { $0.limit } }
    public var stats: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }
    /// Blocks dropped to make room (not those dropped behind a sequential reader).
    public var evictions: Int { state.withLock { $0.evictions } }
}
