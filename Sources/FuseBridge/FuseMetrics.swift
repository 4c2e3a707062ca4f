import Glibc
import Metrics
import Synchronization

/// FUSE operations as swift-metrics sees them: a count and a latency histogram per operation,
/// and errors by operation and errno name. The metric objects of each operation are made once.
enum FuseMetrics {
    struct Op {
        let count: Counter
        let latency: Timer
    }

    private static let ops = Mutex<[String: Op]>([:])

    static func answered(_ op: String, errno: Int32, since start: ContinuousClock.Instant) {
        let m = ops.withLock { table -> Op in
            if let m = table[op] { return m }
            let m = Op(count: Counter(label: "bucketfs_fuse_operations_total", dimensions: [("operation", op)]),
                       latency: Timer(label: "bucketfs_fuse_operation_duration_seconds", dimensions: [("operation", op)]))
            table[op] = m
            return m
        }
        m.count.increment()
        let d = ContinuousClock.now - start
        m.latency.recordNanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
        // ENOENT of a lookup is an answer, not a failure; ENOSYS of xattrs is by design.
        if errno != 0 && !(errno == ENOENT && op == "lookup") && errno != ENOSYS {
            Counter(label: "bucketfs_fuse_errors_total", dimensions: [("operation", op), ("errno", name(errno))]).increment()
        }
    }

    static func name(_ errno: Int32) -> String {
        switch errno {
        case ENOENT: return "ENOENT"
        case EIO: return "EIO"
        case EACCES: return "EACCES"
        case EPERM: return "EPERM"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ENOSPC: return "ENOSPC"
        case EEXIST: return "EEXIST"
        case ENOTEMPTY: return "ENOTEMPTY"
        case EISDIR: return "EISDIR"
        case ENOTDIR: return "ENOTDIR"
        case EROFS: return "EROFS"
        case EINVAL: return "EINVAL"
        case ESTALE: return "ESTALE"
        case EBADF: return "EBADF"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        default: return String(errno)
        }
    }
}
