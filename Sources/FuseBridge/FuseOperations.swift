import BucketFSCore
import CFuse3
import Glibc
import NIOCore
import S3

/// The libfuse low-level callbacks. Each returns at once: answers that need S3 are sent from a
/// Task when the work completes, so a few loop threads keep many requests in flight. Answers
/// that need no network (cached attributes, cached blocks, forget, statfs) are sent inline.
/// Tasks start immediately on the loop thread (`Task.immediate`) and leave it at their first
/// real suspension (a request to S3, a busy actor): work that never waits (a write into a staged
/// file, a release) costs no hop to another thread.
enum FuseOperations {
    static func name(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    static func make() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            guard let conn else { return }
            conn.pointee.want |= UInt32(FUSE_CAP_READDIRPLUS)
            conn.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO)
            conn.pointee.want |= UInt32(FUSE_CAP_ASYNC_READ)
            // Lookups and listings of one directory run side by side (see ParallelDirops).
            if conn.pointee.capable & UInt32(FUSE_CAP_PARALLEL_DIROPS) != 0 { conn.pointee.want |= UInt32(FUSE_CAP_PARALLEL_DIROPS) }
            // open(O_TRUNC) arrives as one open instead of a truncate and an open.
            conn.pointee.want |= UInt32(FUSE_CAP_ATOMIC_O_TRUNC)
            conn.pointee.max_readahead = conn.pointee.max_readahead > 0 ? max(conn.pointee.max_readahead, 4 << 20) : 4 << 20
            // 1 MiB requests (max_pages 256) instead of 128 KiB: an eighth of the round trips.
            conn.pointee.max_write = 1 << 20
            conn.pointee.max_background = 64
            conn.pointee.congestion_threshold = 48
        }
        ops.lookup = { req, parent, cname in
            let r = FuseRequest(req, "lookup")
            let n = FuseOperations.name(cname)
            do {
                if let node = try r.ctx.fs.lookupCached(parent: UInt64(parent), name: n) { return r.entry(node) }
            } catch let e as FSError where e.errno == ENOENT {
                return r.negativeEntry()
            } catch {
                return r.fail(error, "lookup \(n)")
            }
            Task.immediate {
                do {
                    r.entry(try await r.ctx.fs.lookup(parent: UInt64(parent), name: n))
                } catch let e as FSError where e.errno == ENOENT {
                    r.negativeEntry()
                } catch {
                    r.fail(error, "lookup \(n)")
                }
            }
        }
        ops.forget = { req, ino, n in
            let r = FuseRequest(req, "forget")
            r.ctx.fs.forget(UInt64(ino), n)
            r.none()
        }
        ops.forget_multi = { req, count, forgets in
            let r = FuseRequest(req, "forget_multi")
            if let forgets {
                for i in 0..<count { r.ctx.fs.forget(UInt64(forgets[i].ino), forgets[i].nlookup) }
            }
            r.none()
        }
        ops.getattr = { req, ino, _ in
            let r = FuseRequest(req, "getattr")
            do {
                if let a = try r.ctx.fs.getattrCached(UInt64(ino)) { return r.attr(UInt64(ino), a) }
            } catch {
                return r.fail(error, "getattr \(ino)")
            }
            Task.immediate {
                do { r.attr(UInt64(ino), try await r.ctx.fs.getattr(UInt64(ino))) } catch { r.fail(error, "getattr \(ino)") }
            }
        }
        ops.readlink = { req, ino in
            let r = FuseRequest(req, "readlink")
            do {
                if let t = try r.ctx.fs.readlinkCached(UInt64(ino)) { return r.readlink(t) }
            } catch {
                return r.fail(error, "readlink \(ino)")
            }
            Task.immediate {
                do { r.readlink(try await r.ctx.fs.readlink(UInt64(ino))) } catch { r.fail(error, "readlink \(ino)") }
            }
        }
        ops.open = { req, ino, fi in
            let r = FuseRequest(req, "open")
            let flags = fi?.pointee.flags ?? 0
            let caller = r.caller
            Task.immediate {
                do {
                    r.open(try await r.ctx.fs.open(UInt64(ino), flags: flags, caller: caller))
                } catch {
                    r.fail(error, "open \(ino)")
                }
            }
        }
        ops.read = { req, _, size, off, fi in
            let r = FuseRequest(req, "read")
            guard let fh = fi?.pointee.fh else { return r.error(EBADF) }
            if let hit = r.ctx.fs.readCached(fh, offset: Int64(off), size: size) { return r.buffers(hit) }
            Task.immediate {
                do { r.buffers(try await r.ctx.fs.read(fh, offset: Int64(off), size: size)) } catch { r.fail(error, "read") }
            }
        }
        ops.release = { req, _, fi in
            let r = FuseRequest(req, "release")
            guard let fh = fi?.pointee.fh else { return r.error(0) }
            Task.immediate {
                await r.ctx.fs.release(fh)
                r.error(0)
            }
        }
        ops.flush = { req, _, fi in
            let r = FuseRequest(req, "flush")
            guard let fh = fi?.pointee.fh else { return r.error(0) }
            let pid = r.pid
            Task.immediate {
                do { try await r.ctx.fs.close(fh, pid: pid); r.error(0) } catch { r.fail(error, "close") }
            }
        }
        ops.fsync = { req, _, _, fi in
            let r = FuseRequest(req, "fsync")
            guard let fh = fi?.pointee.fh else { return r.error(0) }
            Task.immediate {
                do { try await r.ctx.fs.fsync(fh); r.error(0) } catch { r.fail(error, "fsync") }
            }
        }
        ops.write = { req, _, buf, size, off, fi in
            let r = FuseRequest(req, "write")
            guard let fh = fi?.pointee.fh, let buf else { return r.error(EBADF) }
            // The kernel's buffer lives only during this call: copy it before going async.
            let data = ByteBuffer(bytes: UnsafeRawBufferPointer(start: buf, count: size))
            Task.immediate {
                do {
                    let n = try await r.ctx.fs.write(fh, offset: Int64(off), data: data)
                    // A write past the page cache while the kernel may hold pages of the file:
                    // the range's pages go before the writer hears back, so no reader sees them after.
                    if let ino = r.ctx.fs.pageCacheToInvalidate(after: fh) {
                        await r.ctx.invalidator.invalidate(ino, offset: Int64(off), length: n)
                    }
                    r.written(n)
                } catch {
                    r.fail(error, "write")
                }
            }
        }
        ops.create = { req, parent, cname, mode, fi in
            let r = FuseRequest(req, "create")
            let n = FuseOperations.name(cname)
            // Answered on this thread: a create touches only memory and the staging directory.
            do {
                let (node, o, replaced) = try r.ctx.fs.createNow(parent: UInt64(parent), name: n, mode: UInt32(mode),
                                                                 flags: fi?.pointee.flags ?? O_RDWR, caller: r.caller)
                guard let replaced else { return r.created(node, o) }
                Task.immediate {
                    await replaced.markUnlinked()
                    r.created(node, o)
                }
            } catch {
                r.fail(error, "create \(n)")
            }
        }
        ops.setattr = { req, ino, attr, toSet, _ in
            let r = FuseRequest(req, "setattr")
            guard let st = attr?.pointee else { return r.error(EINVAL) }
            let changes = FuseOperations.changes(st, toSet)
            Task.immediate {
                do { r.attr(UInt64(ino), try await r.ctx.fs.setattr(UInt64(ino), changes)) } catch { r.fail(error, "setattr \(ino)") }
            }
        }
        ops.mkdir = { req, parent, cname, mode in
            let r = FuseRequest(req, "mkdir")
            let n = FuseOperations.name(cname)
            let caller = r.caller
            Task.immediate {
                do { r.entry(try await r.ctx.fs.mkdir(parent: UInt64(parent), name: n, mode: UInt32(mode), caller: caller)) } catch { r.fail(error, "mkdir \(n)") }
            }
        }
        ops.mknod = { req, parent, cname, mode, rdev in
            let r = FuseRequest(req, "mknod")
            let n = FuseOperations.name(cname)
            let caller = r.caller
            Task.immediate {
                do { r.entry(try await r.ctx.fs.mknod(parent: UInt64(parent), name: n, mode: UInt32(mode), rdev: UInt64(rdev), caller: caller)) } catch { r.fail(error, "mknod \(n)") }
            }
        }
        ops.symlink = { req, target, parent, cname in
            let r = FuseRequest(req, "symlink")
            let n = FuseOperations.name(cname)
            let t = FuseOperations.name(target)
            let caller = r.caller
            Task.immediate {
                do { r.entry(try await r.ctx.fs.symlink(target: t, parent: UInt64(parent), name: n, caller: caller)) } catch { r.fail(error, "symlink \(n)") }
            }
        }
        ops.unlink = { req, parent, cname in
            let r = FuseRequest(req, "unlink")
            let n = FuseOperations.name(cname)
            Task.immediate {
                do { try await r.ctx.fs.unlink(parent: UInt64(parent), name: n); r.error(0) } catch { r.fail(error, "unlink \(n)") }
            }
        }
        ops.rmdir = { req, parent, cname in
            let r = FuseRequest(req, "rmdir")
            let n = FuseOperations.name(cname)
            Task.immediate {
                do { try await r.ctx.fs.rmdir(parent: UInt64(parent), name: n); r.error(0) } catch { r.fail(error, "rmdir \(n)") }
            }
        }
        ops.rename = { req, parent, cname, newParent, cnewName, flags in
            let r = FuseRequest(req, "rename")
            let n = FuseOperations.name(cname)
            let nn = FuseOperations.name(cnewName)
            Task.immediate {
                do {
                    try await r.ctx.fs.rename(parent: UInt64(parent), name: n, newParent: UInt64(newParent), newName: nn, flags: UInt32(flags))
                    r.error(0)
                } catch {
                    r.fail(error, "rename \(n)")
                }
            }
        }
        // Hard links have no equivalent in a bucket.
        ops.link = { req, _, _, _ in FuseRequest(req, "link").error(EPERM) }
        ops.opendir = { req, ino, fi in
            let r = FuseRequest(req, "opendir")
            do {
                r.open(.init(fh: try r.ctx.fs.openDirectory(UInt64(ino)), keepCache: false, direct: false))
            } catch {
                r.fail(error, "opendir \(ino)")
            }
        }
        ops.readdir = { req, _, size, off, fi in FuseOperations.readdir(req, size: size, off: off, fi: fi, plus: false) }
        ops.readdirplus = { req, _, size, off, fi in FuseOperations.readdir(req, size: size, off: off, fi: fi, plus: true) }
        ops.releasedir = { req, _, fi in
            let r = FuseRequest(req, "releasedir")
            if let fh = fi?.pointee.fh { r.ctx.fs.releaseDirectory(fh) }
            r.error(0)
        }
        ops.fsyncdir = { req, _, _, _ in FuseRequest(req, "fsyncdir").error(0) }
        ops.statfs = { req, _ in
            let r = FuseRequest(req, "statfs")
            r.statfs(r.ctx.fs.statfs())
        }
        ops.access = { req, _, _ in FuseRequest(req, "access").error(0) }
        // Extended attributes are answered from memory (never a request: the kernel asks for
        // security.capability before every write); only user.* are stored.
        ops.getxattr = { req, ino, cname, size in
            let r = FuseRequest(req, "getxattr")
            do {
                r.xattr(try r.ctx.fs.getxattr(UInt64(ino), name: FuseOperations.name(cname)), size: size)
            } catch {
                r.fail(error, "getxattr")
            }
        }
        ops.listxattr = { req, ino, size in
            let r = FuseRequest(req, "listxattr")
            do {
                let names = try r.ctx.fs.listxattr(UInt64(ino))
                r.xattr(names.flatMap { Array($0.utf8) + [0] }, size: size)
            } catch {
                r.fail(error, "listxattr")
            }
        }
        ops.setxattr = { req, ino, cname, value, size, flags in
            let r = FuseRequest(req, "setxattr")
            let n = FuseOperations.name(cname)
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            Task.immediate {
                do { try await r.ctx.fs.setxattr(UInt64(ino), name: n, value: bytes, flags: flags); r.error(0) } catch { r.fail(error, "setxattr \(n)") }
            }
        }
        ops.removexattr = { req, ino, cname in
            let r = FuseRequest(req, "removexattr")
            let n = FuseOperations.name(cname)
            Task.immediate {
                do { try await r.ctx.fs.removexattr(UInt64(ino), name: n); r.error(0) } catch { r.fail(error, "removexattr \(n)") }
            }
        }
        return ops
    }

    /// The changes a setattr asks for (`*_NOW` resolved to the current time).
    static func changes(_ st: stat, _ toSet: Int32) -> AttributeChanges {
        var c = AttributeChanges()
        func has(_ flag: Int32) -> Bool { toSet & flag != 0 }
        if has(FUSE_SET_ATTR_MODE) { c.mode = UInt32(st.st_mode) & 0o7777 }
        if has(FUSE_SET_ATTR_UID) { c.uid = st.st_uid }
        if has(FUSE_SET_ATTR_GID) { c.gid = st.st_gid }
        if has(FUSE_SET_ATTR_SIZE) { c.size = Int64(st.st_size) }
        if has(FUSE_SET_ATTR_ATIME_NOW) { c.atime = .now() } else if has(FUSE_SET_ATTR_ATIME) {
            c.atime = Timestamp(seconds: Int64(st.st_atim.tv_sec), nanoseconds: Int32(st.st_atim.tv_nsec))
        }
        if has(FUSE_SET_ATTR_MTIME_NOW) { c.mtime = .now() } else if has(FUSE_SET_ATTR_MTIME) {
            c.mtime = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: Int32(st.st_mtim.tv_nsec))
        }
        return c
    }

    static func readdir(_ req: fuse_req_t?, size: Int, off: off_t, fi: UnsafeMutablePointer<fuse_file_info>?, plus: Bool) {
        let r = FuseRequest(req, plus ? "readdirplus" : "readdir")
        guard let fh = fi?.pointee.fh else { return r.error(EBADF) }
        Task.immediate {
            do {
                // Each entry takes at least 24 bytes (plain) or ~150 (plus); ask for about what fits.
                let limit = max(1, size / (plus ? 160 : 32))
                let entries = try await r.ctx.fs.readDirectory(fh, offset: Int64(off), limit: limit, plus: plus)
                let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
                defer { buf.deallocate() }
                var used = 0
                for e in entries {
                    let base = buf.baseAddress!.assumingMemoryBound(to: CChar.self) + used
                    let need: Int
                    if plus {
                        var p = r.entryParam(e.ino, e.attributes)
                        need = fuse_add_direntry_plus(r.req, base, size - used, e.name, &p, off_t(e.nextOffset))
                    } else {
                        var st = StatConversion.stat(e.ino, e.attributes)
                        need = fuse_add_direntry(r.req, base, size - used, e.name, &st, off_t(e.nextOffset))
                    }
                    if need > size - used { break }
                    used += need
                    if plus && e.name != "." && e.name != ".." { r.ctx.fs.addLookup(e.ino) }
                }
                r.bytes(UnsafeRawBufferPointer(start: buf.baseAddress, count: used))
            } catch {
                r.fail(error, "readdir")
            }
        }
    }
}
