#if canImport(Glibc)
import Glibc
#endif
import Logging
import S3

/// When a written file is finished, and what is stored then. Guarantees:
/// - the stored object is replaced only by a complete new version: a close while another
///   writable descriptor of the file is still open (`dd`, `exec > file`: dup2 then close; a child
///   closing its copy of its parent's stdout) stores nothing, and neither does the close of a
///   process dying of a signal, nor any close after a write failed (ENOSPC, EIO), which answers
///   that error;
/// - the last close (no writable descriptor left with the closer or its parent) returns once
///   the file is stored, or with the error that kept it from being stored;
/// - when the last handle goes (release), a file still owed an upload is stored then (kept
///   for the background retries if that fails), and a file that must not be stored is set aside
///   in `staging/recovered/`, as crash recovery keeps unclosed files.
extension BucketFileSystem {
    /// close(2) of a descriptor by process `pid` (0: unknown).
    public func close(_ fh: UInt64, pid: Int32) async throws {
        guard let f = handles.withLock({ $0.files[fh] }), f.writable, let file = stagedFile(f.ino) else { return }
        if let e = await file.writeError { throw FSError(e, "\(await file.key): a write failed; the file is not stored") }
        switch census.meaning(pid: pid, ino: f.ino, mountID: mountID.withLock { $0 }) {
        case .last:
            try await store(file, ino: f.ino)
        case .stillOpen:
            // Stored when the file is finished: at the last close, or at release.
            return
        case .killed(let signal):
            await file.abandon("its writer (pid \(pid)) was killed by signal \(signal)")
        }
    }

    /// fsync(2): stores the file now if it changed, whoever else holds it open.
    public func fsync(_ fh: UInt64) async throws {
        guard let f = handles.withLock({ $0.files[fh] }), f.writable, let file = stagedFile(f.ino) else { return }
        try await store(file, ino: f.ino)
    }

    func store(_ file: StagedFile, ino: UInt64) async throws {
        do {
            // The directory has a record before the object with metadata is stored in it.
            if let stored = try await file.flush(prepare: { [records] key in try await records.ensure(KeyNames.parentPrefix(ofKey: key)) }) {
                await records.changed(KeyNames.parentPrefix(ofKey: stored.key))
                var attrs = stored.attributes
                attrs.etag = stored.etag
                remember(stored.key, attrs)
                let (meta, type) = (stored.metadata, stored.contentType)
                inodes.update(ino) { n in
                    n.attributes = attrs
                    n.attributes.etag = stored.etag
                    n.lastOpenedETag = stored.etag
                    n.headChecked = true
                    n.checkedAt = MonotonicClock.now()
                    // What was just stored: a later chmod or utimens needs no HEAD to learn it.
                    n.userMetadata = meta
                    n.contentType = type
                }
            }
        } catch {
            let key = await file.key
            if await file.abandoned != nil {
                logger.warning("\(FSError.from(error).message)")
            } else {
                logger.error("upload of \(key) failed: \(FSError.from(error)); the data stays staged in \(staging?.directory ?? "?") and is retried")
                recentErrors.record("upload of \(key) failed: \(FSError.from(error).message)")
            }
            throw error
        }
    }

    public func release(_ fh: UInt64) async {
        // Pages the kernel cached before or while this handle wrote past them are not kept by a
        // later open: marked while the handle still counts as open, so no open slips between.
        if let f = handles.withLock({ $0.files[fh] }), f.direct, f.writable {
            inodes.update(f.ino) { $0.pageCacheStale = true }
        }
        guard let (f, remaining) = handles.withLock({ h -> (OpenFile, Int)? in
            guard let f = h.files.removeValue(forKey: fh) else { return nil }
            let c = (h.openCount[f.ino] ?? 1) - 1
            h.openCount[f.ino] = c > 0 ? c : nil
            if f.direct {
                let d = (h.directCount[f.ino] ?? 1) - 1
                h.directCount[f.ino] = d > 0 ? d : nil
            }
            return (f, c)
        }) else { return }
        if let object = f.filling { fill.leave(object) }
        guard remaining == 0, let file = stagedFile(f.ino) else { return }
        await lastHandleGone(f.ino, file, store: f.writable)
    }

    /// No handle is left on `ino`: an abandoned file is set aside; with `store`, one still owed
    /// an upload is stored now (a close that deferred it, or a descriptor passed elsewhere),
    /// and kept for the background retries if that fails; anything else is dropped.
    func lastHandleGone(_ ino: UInt64, _ file: StagedFile, store: Bool) async {
        if let why = await file.abandoned {
            await setAside(ino, file, why: why)
            return
        }
        if await file.needsUpload {
            guard store, (try? await self.store(file, ino: ino)) != nil else { return }
        }
        await dropStaged(ino, file)
    }

    /// Moves an abandoned file's data to `staging/recovered/` and forgets it: the node shows the
    /// stored object again (looked up anew).
    func setAside(_ ino: UInt64, _ file: StagedFile, why: String) async {
        guard forget(ino, file) else { return }
        inodes.update(ino) { n in
            n.validUntil = 0
            n.headChecked = false
        }
        if let forget = forgetCached.withLock({ $0 }) { await forget(ino) }
        let key = await file.key
        let path = await file.setAside()
        logger.warning("\(key) is not stored (\(why)); the stored object is unchanged and the written data is kept in \(path)")
        recentErrors.record("\(key) is not stored (\(why)); the written data is kept in \(path)")
    }

    /// Takes `file` out of the staged files if it is still the inode's and no handle is open on it.
    private func forget(_ ino: UInt64, _ file: StagedFile) -> Bool {
        handles.withLock { h in
            guard (h.openCount[ino] ?? 0) == 0 else { return false }
            return staged.withLock { s -> Bool in
                guard s[ino] === file else { return false }
                s[ino] = nil
                return true
            }
        }
    }

    /// Forgets the inode's staged file and deletes its local copy, unless a handle is open on it.
    func dropStaged(_ ino: UInt64, _ file: StagedFile) async {
        guard forget(ino, file) else { return }
        let deadline = ttlDeadline
        inodes.update(ino) { $0.validUntil = deadline }
        await file.discard()
    }
}
