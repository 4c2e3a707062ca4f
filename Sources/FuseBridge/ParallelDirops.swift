import CFuse3
import Glibc
import Synchronization

/// Lets the kernel run lookups and listings of one directory side by side. libfuse 3.14 takes
/// FUSE_CAP_PARALLEL_DIROPS in `want` (it is even on by default) but never puts
/// FUSE_PARALLEL_DIROPS in its INIT reply, so the kernel sends one lookup or readdir at a time per
/// directory: a `stat` waited behind a listing the server was slow to answer, and lookups of one
/// directory ran one after another. This I/O layer passes every read and write through unchanged,
/// except that it sets that flag in the INIT reply when the kernel offered it.
enum ParallelDirops {
    /// `unique` of the INIT request while its reply is due (0: none).
    private static let initUnique = Atomic<UInt64>(0)
    static let flag: UInt32 = 1 << 18          // FUSE_PARALLEL_DIROPS, in fuse_init_in/out.flags
    static let opcodeInit: UInt32 = 26         // FUSE_INIT

    /// Installs the layer on a mounted session; false if libfuse refused it (nothing changes then).
    static func install(_ se: OpaquePointer) -> Bool {
        var io = fuse_custom_io()
        io.read = { fd, buf, len, _ in
            let n = Glibc.read(fd, buf, len)
            // fuse_in_header (40 bytes: len, opcode, unique, ...) then fuse_init_in (major,
            // minor, max_readahead, flags).
            if n >= 56, let p = buf, p.loadUnaligned(fromByteOffset: 4, as: UInt32.self) == ParallelDirops.opcodeInit,
               p.loadUnaligned(fromByteOffset: 52, as: UInt32.self) & ParallelDirops.flag != 0 {
                ParallelDirops.initUnique.store(p.loadUnaligned(fromByteOffset: 8, as: UInt64.self), ordering: .relaxed)
            }
            return n
        }
        io.writev = { fd, iov, count, _ in
            // fuse_out_header (16 bytes: len, error, unique) then fuse_init_out (major, minor,
            // max_readahead, flags).
            if count >= 2, let iov, ParallelDirops.initUnique.load(ordering: .relaxed) != 0,
               iov[0].iov_len >= 16, iov[1].iov_len >= 16, let head = iov[0].iov_base, let body = iov[1].iov_base,
               head.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == ParallelDirops.initUnique.load(ordering: .relaxed) {
                let flags = body.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
                body.storeBytes(of: flags | ParallelDirops.flag, toByteOffset: 12, as: UInt32.self)
                ParallelDirops.initUnique.store(0, ordering: .relaxed)
            }
            return Glibc.writev(fd, iov, count)
        }
        return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0
    }
}
