import Collections
import NIOCore
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

/// The memory tier: blocks in LRU order under a hard byte limit that is never exceeded
/// (a block larger than the limit is simply not kept). Thread-safe.
public final class BlockCache: Sendable {
    struct State {
        var blocks: OrderedDictionary<BlockKey, ByteBuffer> = [:]
        var used = 0
        var hits = 0
        var misses = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) { self.capacity = max(0, capacity) }

    public func get(_ key: BlockKey) -> ByteBuffer? {
        state.withLock { s in
            guard let b = s.blocks.removeValue(forKey: key) else { s.misses += 1; return nil }
            s.blocks[key] = b
            s.hits += 1
            return b
        }
    }

    public func contains(_ key: BlockKey) -> Bool { state.withLock { $0.blocks[key] != nil } }

    public func insert(_ key: BlockKey, _ block: ByteBuffer) {
        let size = block.readableBytes
        guard size <= capacity else { return }
        state.withLock { s in
            if let old = s.blocks.removeValue(forKey: key) { s.used -= old.readableBytes }
            while s.used + size > capacity, let first = s.blocks.keys.first {
                s.used -= s.blocks.removeValue(forKey: first)?.readableBytes ?? 0
            }
            s.blocks[key] = block
            s.used += size
        }
    }

    public var usedBytes: Int { state.withLock { $0.used } }
    public var stats: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }
}
