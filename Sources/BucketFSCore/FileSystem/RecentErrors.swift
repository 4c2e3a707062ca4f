import S3
import Synchronization

/// The last errors the mount met (failed uploads, set-aside files), newest last, for
/// `bucketfs status`. Bounded: the oldest is dropped past `capacity`.
public final class RecentErrors: Sendable {
    public struct Entry: Sendable, Equatable {
        public var time: Timestamp
        public var message: String
    }

    let capacity: Int
    private let entries = Mutex<[Entry]>([])

    public init(capacity: Int = 20) { self.capacity = capacity }

    public func record(_ message: String) {
        entries.withLock { e in
            e.append(Entry(time: .now(), message: message))
            if e.count > capacity { e.removeFirst(e.count - capacity) }
        }
    }

    public var all: [Entry] { entries.withLock { $0 } }
}
