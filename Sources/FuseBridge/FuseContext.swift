import BucketFSCore
import CFuse3
import Glibc
import Logging
import Synchronization

/// Per-mount state the C callbacks reach through the session's userdata: the filesystem, the
/// reply timeouts, and the count of requests still owed a reply (drained before the session is
/// destroyed, since a reply after destroy would be a use-after-free).
final class FuseContext: Sendable {
    let fs: BucketFileSystem
    let logger: Logger
    let entryTimeout: Double
    let negativeTimeout: Double
    let readOnly: Bool
    let pending = Atomic<Int>(0)
    let invalidator = PageCacheInvalidator()

    init(fs: BucketFileSystem, logger: Logger) {
        self.fs = fs
        self.logger = logger
        self.entryTimeout = fs.config.metadataTTL
        self.negativeTimeout = fs.config.negativeTTL
        self.readOnly = fs.config.readOnly
    }

    static func of(_ req: fuse_req_t?) -> FuseContext {
        Unmanaged<FuseContext>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    /// Waits (up to `seconds`) until every started request has been answered.
    func drain(seconds: Double) {
        let deadline = MonotonicClock.deadline(after: seconds)
        while pending.load(ordering: .acquiring) > 0 && MonotonicClock.now() < deadline {
            usleep(10_000)
        }
    }
}

/// A FUSE request owed exactly one reply, which may be sent from any thread.
struct FuseRequest: @unchecked Sendable {
    let req: fuse_req_t?
    let ctx: FuseContext
    /// The operation (`lookup`, `read`, ...) and when it arrived, for the metrics.
    let op: String
    let start = ContinuousClock.now

    /// For work that finishes later: counts the request as pending until it is answered.
    init(_ req: fuse_req_t?, _ op: String) {
        self.req = req
        self.ctx = FuseContext.of(req)
        self.op = op
        ctx.pending.add(1, ordering: .relaxed)
    }

    private func done(_ errno: Int32 = 0) {
        FuseMetrics.answered(op, errno: errno, since: start)
        ctx.pending.subtract(1, ordering: .releasing)
    }

    func error(_ errno: Int32) { fuse_reply_err(req, errno); done(errno) }

    func fail(_ error: any Error, _ what: String) {
        let e = FSError.from(error)
        if e.errno != ENOENT { ctx.logger.debug("\(what): \(e)") }
        if e.errno == EIO || e.errno == ETIMEDOUT || e.errno == EACCES {
            ctx.logger.warning("\(what): \(e)")
        }
        fuse_reply_err(req, e.errno)
        done(e.errno)
    }

    /// What the kernel is told of a node: number, attributes, and how long both hold.
    func entryParam(_ ino: UInt64, _ attributes: NodeAttributes) -> fuse_entry_param {
        var e = fuse_entry_param()
        e.ino = fuse_ino_t(ino)
        e.generation = 1
        e.attr = StatConversion.stat(ino, attributes)
        e.attr_timeout = ctx.entryTimeout
        e.entry_timeout = ctx.entryTimeout
        return e
    }

    func entry(_ node: Node) {
        var e = entryParam(node.ino, node.attributes)
        fuse_reply_entry(req, &e)
        done()
    }

    /// A negative entry: the kernel remembers the name as missing for the negative TTL.
    func negativeEntry() {
        var e = fuse_entry_param()
        e.ino = 0
        e.entry_timeout = ctx.negativeTimeout
        fuse_reply_entry(req, &e)
        done()
    }

    func attr(_ ino: UInt64, _ a: NodeAttributes) {
        var st = StatConversion.stat(ino, a)
        fuse_reply_attr(req, &st, ctx.entryTimeout)
        done()
    }

    func open(_ o: BucketFileSystem.Opened) {
        var fi = Self.fileInfo(o)
        fuse_reply_open(req, &fi)
        done()
    }

    func buffers(_ slices: [ByteBuffer]) {
        var iov: [iovec] = []
        iov.reserveCapacity(slices.count)
        // The slices stay alive for the call: `slices` is held until it returns.
        withExtendedLifetime(slices) {
            for s in slices {
                s.withUnsafeReadableBytes { p in
                    iov.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress), iov_len: p.count))
                }
            }
            _ = iov.withUnsafeBufferPointer { fuse_reply_iov(req, $0.baseAddress, Int32($0.count)) }
        }
        done()
    }

    func bytes(_ b: UnsafeRawBufferPointer) {
        fuse_reply_buf(req, b.baseAddress?.assumingMemoryBound(to: CChar.self), b.count)
        done()
    }

    func readlink(_ target: String) { fuse_reply_readlink(req, target); done() }

    /// An xattr value or name list: its size when the caller asked with size 0, ERANGE when it
    /// does not fit in `size`.
    func xattr(_ bytes: [UInt8], size: Int) {
        if size == 0 {
            fuse_reply_xattr(req, bytes.count)
            done()
        } else if bytes.count > size {
            error(ERANGE)
        } else {
            _ = bytes.withUnsafeBytes { fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            done()
        }
    }

    func statfs(_ s: BucketFileSystem.Statistics) {
        var v = statvfs()
        v.f_bsize = UInt(s.blockSize)
        v.f_frsize = UInt(s.blockSize)
        v.f_blocks = fsblkcnt_t(s.blocks)
        v.f_bfree = fsblkcnt_t(s.blocksFree)
        v.f_bavail = fsblkcnt_t(s.blocksFree)
        v.f_files = fsfilcnt_t(s.files)
        v.f_ffree = fsfilcnt_t(s.filesFree)
        v.f_favail = fsfilcnt_t(s.filesFree)
        v.f_namemax = UInt(s.nameMax)
        fuse_reply_statfs(req, &v)
        done()
    }


    func none() { fuse_reply_none(req); done() }

    static func fileInfo(_ o: BucketFileSystem.Opened) -> fuse_file_info {
        var fi = fuse_file_info()
        fi.fh = o.fh
        bucketfs_fi_set_keep_cache(&fi, o.keepCache ? 1 : 0)
        bucketfs_fi_set_direct_io(&fi, o.direct ? 1 : 0)
        return fi
    }

    func created(_ node: Node, _ o: BucketFileSystem.Opened) {
        var e = entryParam(node.ino, node.attributes)
        var fi = Self.fileInfo(o)
        fuse_reply_create(req, &e, &fi)
        done()
    }

    func written(_ count: Int) { fuse_reply_write(req, count); done() }

    /// The calling thread's id (0 if unknown), read before the request is answered.
    var pid: Int32 { fuse_req_ctx(req).map { Int32($0.pointee.pid) } ?? 0 }

    /// The caller's uid and gid, for what it creates.
    var caller: Caller {
        guard let c = fuse_req_ctx(req) else { return Caller(uid: 0, gid: 0) }
        return Caller(uid: c.pointee.uid, gid: c.pointee.gid)
    }
}

import NIOCore
