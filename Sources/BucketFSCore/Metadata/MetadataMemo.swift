import Collections
import S3
import Synchronization

/// Remembers the POSIX attributes (kind, mode, owner, times) of objects whose metadata this mount
/// has read (HEAD) or written, by key and ETag, so a listing, which carries no metadata, can show
/// them without a HEAD per entry. An entry is used only while the listed ETag is the remembered
/// one (directories, listed without ETags, by key alone). Bounded: least recently used entries go
/// first beyond `capacity`.
public final class MetadataMemo: Sendable {
    public struct Entry: Sendable {
        public var etag: String?
        public var attributes: NodeAttributes
    }

    let capacity: Int
    private let entries = Mutex<OrderedDictionary<String, Entry>>([:])

    public init(capacity: Int = 65_536) { self.capacity = max(1, capacity) }

    /// Remembers `attributes` for `key` (a directory's key ends in `/`).
    public func remember(_ key: String, _ attributes: NodeAttributes) {
        entries.withLock { e in
            e.removeValue(forKey: key)
            e[key] = Entry(etag: attributes.etag, attributes: attributes)
            if e.count > capacity { e.removeFirst(e.count - capacity) }
        }
    }

    /// The remembered attributes of `key` if its object is still the one with `etag` (and, when
    /// both are known, the same LastModified second: a copy onto itself that changed only the
    /// metadata keeps the ETag), or, for a server that lists an object under another ETag than
    /// it answers with, the one of the same size written at the same second.
    public func recall(_ key: String, etag: String?, size: Int64? = nil, stored: Timestamp? = nil) -> NodeAttributes? {
        entries.withLock { e in
            guard let entry = e[key] else { return nil }
            let known = entry.attributes.stored
            let sameStored = known != nil && stored != nil && known?.seconds == stored?.seconds
            let sameVersion = (entry.etag == etag && (known == nil || stored == nil || sameStored))
                || (sameStored && entry.attributes.size == size)
            guard sameVersion else { return nil }
            e.removeValue(forKey: key)
            e[key] = entry
            return entry.attributes
        }
    }

    /// Entries below `prefix` now live below `newPrefix` (a directory was renamed).
    public func move(prefix: String, to newPrefix: String) {
        entries.withLock { e in
            let moving = e.filter { $0.key.hasPrefix(prefix) }
            for (k, v) in moving {
                e.removeValue(forKey: k)
                e[newPrefix + k.dropFirst(prefix.count)] = v
            }
        }
    }

    /// Changes the remembered attributes of `key` if they are for the object with `etag`.
    /// With `etag` nil, whatever the version.
    public func update(_ key: String, etag: String?, _ body: (inout NodeAttributes) -> Void) {
        entries.withLock { e in
            guard var entry = e[key], etag == nil || entry.etag == etag else { return }
            body(&entry.attributes)
            entry.etag = entry.attributes.etag
            e[key] = entry
        }
    }

    public func forget(_ key: String) { entries.withLock { _ = $0.removeValue(forKey: key) } }

    public var count: Int { entries.withLock { $0.count } }
}
