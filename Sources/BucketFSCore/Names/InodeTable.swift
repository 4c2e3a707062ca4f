import S3
import Synchronization

/// One node the kernel knows: its place in the tree, its attributes and how long they hold.
public struct Node: Sendable {
    public let ino: UInt64
    public internal(set) var parent: UInt64
    public internal(set) var name: String
    /// The S3 key of a file, or the key of a directory without its trailing `/` ("" for a bucket root).
    public internal(set) var key: String
    public var attributes: NodeAttributes
    /// Monotonic time (ns) until which `attributes` may be served without asking S3.
    public var validUntil: UInt64
    /// How many lookups the kernel holds (FUSE lookup count).
    public var lookups: UInt64
    /// ETag seen at the last open, to decide keep_cache.
    public var lastOpenedETag: String?
    /// The object's user metadata and content type, when a HEAD has told them (kept on rewrites).
    public var userMetadata: [String: String]?
    public var contentType: String?
    /// Whether `attributes.etag` came from a HEAD (or a write) rather than from a listing.
    public var headChecked = false
    /// Written past the kernel's page cache (a write-only handle): pages cached before may be
    /// stale, so the next open through the page cache must not keep them.
    public var pageCacheStale = false
    /// A handle that uses the page cache was opened while the kernel held this node, so it may
    /// hold pages of it (a mapping outlives its descriptor): writes that bypass the cache have
    /// the kernel drop the pages they change.
    public var pageCacheUsed = false
    /// Monotonic time (ns) when S3 last confirmed `attributes` (a listing, a HEAD or a store).
    public var checkedAt: UInt64 = 0

    public var isDirectory: Bool { attributes.kind == .directory }
    /// The prefix of a directory's children.
    public var childPrefix: String { KeyNames.childPrefix(ofDirectoryKey: key) }
}

/// Inode numbers for the nodes the kernel holds. A number stays the same while the kernel holds
/// the node (lookup count > 0); `forget` to zero drops it, so the table follows what is in use.
/// The root (1) is never dropped. Thread-safe.
public final class InodeTable: Sendable {
    public static let rootIno: UInt64 = 1

    struct ChildKey: Hashable {
        let parent: UInt64
        let name: String
    }

    struct State {
        var nodes: [UInt64: Node] = [:]
        var children: [ChildKey: UInt64] = [:]
        var nextIno: UInt64 = 2
        /// Directories whose every child is in `children` (made by this mount), until a deadline.
        var complete: [UInt64: UInt64] = [:]
    }

    private let state: Mutex<State>

    public init(rootKey: String, rootAttributes: NodeAttributes) {
        var s = State()
        s.nodes[Self.rootIno] = Node(ino: Self.rootIno, parent: Self.rootIno, name: "", key: rootKey,
                                     attributes: rootAttributes, validUntil: .max, lookups: 1)
        state = Mutex(s)
    }

    public func node(_ ino: UInt64) -> Node? { state.withLock { $0.nodes[ino] } }

    public func child(of parent: UInt64, named name: String) -> Node? {
        state.withLock { s in s.children[ChildKey(parent: parent, name: name)].flatMap { s.nodes[$0] } }
    }

    public var count: Int { state.withLock { $0.nodes.count } }

    /// Finds or makes the node `parent/name` with these attributes, adding `lookups` to its count.
    /// A node whose kind changed (file became directory) gets a new number.
    @discardableResult
    public func upsert(parent: UInt64, name: String, key: String, attributes: NodeAttributes,
                       validUntil: UInt64, lookups: UInt64 = 1) -> Node {
        state.withLock { s in
            let ck = ChildKey(parent: parent, name: name)
            if let ino = s.children[ck], var n = s.nodes[ino], n.attributes.kind == attributes.kind {
                if n.attributes.etag != attributes.etag { n.headChecked = false }
                n.attributes = attributes
                n.validUntil = validUntil
                n.checkedAt = MonotonicClock.now()
                n.lookups += lookups
                s.nodes[ino] = n
                return n
            }
            // A node of another kind under this name keeps its number until the kernel forgets it,
            // but the name now points to the new node.
            let ino = s.nextIno
            s.nextIno += 1
            var n = Node(ino: ino, parent: parent, name: name, key: key, attributes: attributes,
                         validUntil: validUntil, lookups: lookups)
            n.checkedAt = MonotonicClock.now()
            s.nodes[ino] = n
            s.children[ck] = ino
            return n
        }
    }

    /// Directory `ino` holds exactly the children in this table until `deadline` (it was just
    /// made here): a name not among them is missing without asking S3.
    public func markComplete(_ ino: UInt64, until deadline: UInt64) {
        state.withLock { $0.complete[ino] = deadline }
    }

    public func isComplete(_ ino: UInt64) -> Bool {
        state.withLock { s in (s.complete[ino] ?? 0) > MonotonicClock.now() }
    }

    public func addLookup(_ ino: UInt64, _ n: UInt64 = 1) {
        state.withLock { s in s.nodes[ino]?.lookups += n }
    }

    public func update(_ ino: UInt64, _ body: (inout Node) -> Void) {
        state.withLock { s in
            if var n = s.nodes[ino] { body(&n); s.nodes[ino] = n }
        }
    }

    /// The kernel forgets `n` lookups; at zero the node leaves the table.
    public func forget(_ ino: UInt64, _ n: UInt64) {
        guard ino != Self.rootIno else { return }
        state.withLock { s in
            guard var node = s.nodes[ino] else { return }
            node.lookups = node.lookups > n ? node.lookups - n : 0
            if node.lookups == 0 {
                s.nodes[ino] = nil
                let ck = ChildKey(parent: node.parent, name: node.name)
                if s.children[ck] == ino { s.children[ck] = nil }
                // The parent no longer has all its children here.
                s.complete[node.parent] = nil
                s.complete[ino] = nil
            } else {
                s.nodes[ino] = node
            }
        }
    }

    /// Moves node `ino` to `newParent/newName` with key `newKey`; for a directory, the keys of
    /// every known node below it follow. A node that held the new name loses it.
    public func move(_ ino: UInt64, to newParent: UInt64, name newName: String, key newKey: String) {
        state.withLock { s in
            guard var n = s.nodes[ino] else { return }
            let oldKey = n.key
            let old = ChildKey(parent: n.parent, name: n.name)
            if s.children[old] == ino { s.children[old] = nil }
            n.parent = newParent
            n.name = newName
            n.key = newKey
            s.nodes[ino] = n
            s.children[ChildKey(parent: newParent, name: newName)] = ino
            guard n.isDirectory else { return }
            let from = oldKey + "/"
            for (i, var d) in s.nodes where d.key.hasPrefix(from) && i != ino {
                d.key = newKey + "/" + d.key.dropFirst(from.count)
                s.nodes[i] = d
            }
        }
    }

    /// Drops the name `parent/name` (the object is gone); the node lives on until forgotten.
    public func unlinkName(parent: UInt64, name: String) {
        state.withLock { s in s.children[ChildKey(parent: parent, name: name)] = nil }
    }
}

/// Monotonic nanoseconds, for cache deadlines.
public enum MonotonicClock {
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public static func deadline(after seconds: Double) -> UInt64 {
        seconds <= 0 ? 0 : now() &+ UInt64(seconds * 1e9)
    }
}

#if canImport(Glibc)
import Glibc
#endif
