import CFuse3
import Dispatch
import Synchronization

/// Has the kernel drop cached pages of an inode (`fuse_lowlevel_notify_inval_inode`) on a thread
/// of its own. Dropping a page waits for any read of it in flight, which bucketfs itself answers,
/// so the call never runs on a thread that answers requests; callers await it instead.
/// Does nothing before the session is set or after it is cleared.
final class PageCacheInvalidator: Sendable {
    private let queue = DispatchQueue(label: "bucketfs.page-cache-invalidation")
    /// The session, as a bit pattern (0: none).
    private let session = Atomic<UInt>(0)

    func attach(_ se: OpaquePointer?) { session.store(se.map { UInt(bitPattern: $0) } ?? 0, ordering: .releasing) }
    /// Clears the session and waits for a notification already under way, so none uses the
    /// session after it is destroyed.
    func detach() {
        session.store(0, ordering: .releasing)
        queue.sync {}
    }

    /// Returns once the kernel holds no cached page of `ino` in `offset..<offset+length`.
    func invalidate(_ ino: UInt64, offset: Int64, length: Int) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                let bits = session.load(ordering: .acquiring)
                if bits != 0, let se = OpaquePointer(bitPattern: bits) {
                    // ENOENT (the kernel forgot the inode) leaves nothing to drop.
                    _ = fuse_lowlevel_notify_inval_inode(se, fuse_ino_t(ino), off_t(offset), off_t(length))
                }
                done.resume()
            }
        }
    }
}
