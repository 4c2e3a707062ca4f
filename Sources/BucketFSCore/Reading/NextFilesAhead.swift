import Collections
import Synchronization

/// Read-ahead across files: when a program opens the files of a directory one after another in
/// the order the directory was listed (`tar`, `cp -r`, `rsync`, `find | sort | xargs cat`, data
/// loaders), it names the next small files to fetch ahead, so their GETs run in parallel while
/// the program reads one at a time. Any other pattern (a jump back or ahead) stops it until two
/// opens in a row follow the order again. It only decides; `ObjectReader` fetches.
/// Bounded: at most `maxNames` listed names are kept (least recently used directories go first),
/// and the files named ahead of the one being read are at most `maxFiles` and `maxBytes`.
public final class NextFilesAhead: Sendable {
    struct Directory {
        var names: [String] = []
        var index: [String: Int] = [:]
        /// The position of the file opened last, and how many opens in a row followed the order.
        var last = -2
        var streak = 0
        /// Names before this position were named ahead already.
        var aheadUpTo = 0
    }

    public let maxFiles: Int
    public let maxBytes: Int64
    /// Files larger than this are not fetched ahead (their own read-ahead serves them).
    public let maxFileBytes: Int64
    let maxNames: Int
    private struct State {
        var dirs: OrderedDictionary<UInt64, Directory> = [:]
        var names = 0
    }
    private let state = Mutex(State())

    public init(maxFiles: Int = 16, maxBytes: Int64 = 16 << 20, maxFileBytes: Int64 = 4 << 20, maxNames: Int = 200_000) {
        self.maxFiles = maxFiles
        self.maxBytes = maxBytes
        self.maxFileBytes = maxFileBytes
        self.maxNames = maxNames
    }

    /// A listing of `dir` handed out `names` from stream position `position` on (0: its start,
    /// which begins the order anew). Pages that do not continue the order are ignored.
    public func listed(_ dir: UInt64, names: [String], at position: Int) {
        guard maxFiles > 0, !names.isEmpty else { return }
        state.withLock { s in
            var d = s.dirs.removeValue(forKey: dir) ?? Directory()
            if position == 0 {
                s.names -= d.names.count
                d = Directory()
            }
            if position == d.names.count {
                for n in names where d.index[n] == nil {
                    d.index[n] = d.names.count
                    d.names.append(n)
                }
                s.names += d.names.count - position
            }
            s.dirs[dir] = d
            while s.names > maxNames, let first = s.dirs.keys.first {
                s.names -= s.dirs.removeValue(forKey: first)?.names.count ?? 0
            }
        }
    }

    /// `name` in `dir` was opened for reading: the names to fetch ahead now (none unless this open
    /// and the one before followed the listing order). `size` answers a listed name's size, or
    /// nil for what is not a file fetched ahead (a directory, a file being written); it is
    /// called under this object's lock, so it must not call back into it.
    public func opened(_ dir: UInt64, _ name: String, size: (String) -> Int64?) -> [String] {
        guard maxFiles > 0 else { return [] }
        return state.withLock { s -> [String] in
            guard var d = s.dirs[dir], let i = d.index[name] else { return [] }
            d.streak = i == d.last + 1 ? d.streak + 1 : 0
            if d.streak == 0 { d.aheadUpTo = i + 1 }
            d.last = i
            defer { s.dirs[dir] = d }
            guard d.streak >= 1 else { return [] }
            func fetched(_ n: String) -> Int64? { size(n).flatMap { $0 <= maxFileBytes ? $0 : nil } }
            // What is ahead already counts against the bounds.
            let start = max(d.aheadUpTo, i + 1)
            var bytes = d.names[(i + 1)..<start].reduce(Int64(0)) { $0 + (fetched($1) ?? 0) }
            let end = min(d.names.count, i + 1 + maxFiles)
            var out: [String] = []
            var next = start
            while next < end {
                let n = d.names[next]
                if let s = fetched(n) {
                    if bytes + s > maxBytes && bytes > 0 { break }
                    bytes += s
                    out.append(n)
                }
                next += 1
            }
            d.aheadUpTo = max(d.aheadUpTo, next)
            return out
        }
    }

    /// Names held, for the bound's tests.
    public var heldNames: Int { state.withLock { $0.names } }
}
