import Synchronization

/// Makes an object that is read at random local: its blocks are fetched in the background in
/// large GETs, a few at once, into the disk cache (or memory without one), while the random
/// reads go on being answered with exact ranged GETs until their blocks are in. Only an object
/// of at most `maxObjectBytes` (a share of the cache, so a fill never evicts itself) qualifies;
/// larger ones keep the small-GET path. One fill per object version however many handles read
/// it at random; it stops when the last of them is closed.
public final class ObjectFill: Sendable {
    private struct Running {
        var task: Task<Void, Never>
        var users: Int
    }

    let reader: ObjectReader
    public let maxObjectBytes: Int64
    let parallel: Int
    let runBytes: Int
    private let running = Mutex([ObjectVersion: Running]())

    /// At most `parallel * runBytes` (48 MiB) in flight per fill.
    public init(reader: ObjectReader, maxObjectBytes: Int64, parallel: Int = 6, runBytes: Int = 8 << 20) {
        self.reader = reader
        self.maxObjectBytes = maxObjectBytes
        self.parallel = parallel
        self.runBytes = runBytes
    }

    /// Whether a fill of `object` would be started.
    public func qualifies(_ object: ObjectVersion) -> Bool {
        object.size > 0 && object.size <= maxObjectBytes && !object.etag.isEmpty
    }

    /// Joins the fill of `object`, starting it if none runs. Answers false (and joins nothing)
    /// when the object does not qualify; after true, the caller must `leave` once.
    public func join(_ object: ObjectVersion) -> Bool {
        guard qualifies(object) else { return false }
        running.withLock { r in
            if r[object] != nil {
                r[object]?.users += 1
                return
            }
            let task = Task { [reader, parallel, runBytes] in
                _ = await reader.fill(object, parallel: parallel, runBytes: runBytes)
            }
            r[object] = Running(task: task, users: 1)
        }
        return true
    }

    /// A reader that joined is gone: the last one out cancels the fill (GETs already sent finish
    /// into the cache).
    public func leave(_ object: ObjectVersion) {
        let task = running.withLock { r -> Task<Void, Never>? in
            guard var x = r[object] else { return nil }
            x.users -= 1
            if x.users > 0 {
                r[object] = x
                return nil
            }
            r[object] = nil
            return x.task
        }
        task?.cancel()
    }
}
