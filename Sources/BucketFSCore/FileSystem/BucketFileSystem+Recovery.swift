#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Background uploads: what an earlier mount left staged, retries of failed uploads, and
/// what an unmount stores or keeps.
extension BucketFileSystem {

    /// Staged files an earlier mount left: closed ones are uploaded, the others set aside.
    func recoverStaged(_ area: StagingArea) {
        var synthetic = UInt64.max
        for (id, m) in area.scan() where m.bucket == bucket {
            switch m.state {
            case .pending:
                do {
                    let f = try StagedFile(recovering: id, m, area: area, client: client, settings: uploadSettings,
                                           defaults: config.ownership, logger: logger)
                    staged.withLock { $0[synthetic] = f }
                    synthetic -= 1
                    logger.notice("staging: \(m.key) was closed but not uploaded by an earlier mount; uploading it")
                } catch {
                    logger.error("staging: cannot reopen \(area.dataPath(id)) for \(m.key): \(error)")
                }
            case .open:
                let path = area.keepAside(id, m)
                logger.warning("staging: \(m.key) was being written when an earlier mount stopped; its data is kept in \(path)")
            }
        }
        for path in area.keepAsideUnnamed() {
            logger.warning("staging: a small file was being written when an earlier mount stopped; its data is kept in \(path)")
        }
    }

    func startRetries() {
        let interval = config.uploadRetryInterval
        let task = Task { [weak self] in
            var first = true
            while !Task.isCancelled {
                if !first { try? await Task.sleep(for: .seconds(interval)) }
                first = false
                guard let self else { return }
                await self.retryPending()
            }
        }
        retryTask.withLock { $0 = task }
    }

    /// Uploads staged files that no program holds open and that are still owed an upload.
    func retryPending() async {
        await uploadSettings.aborts?.retry()
        let files = staged.withLock { Array($0) }
        for (ino, f) in files where !isOpen(ino) {
            guard !Task.isCancelled, await f.needsUpload, await f.abandoned == nil else { continue }
            do {
                try await store(f, ino: ino)
                let key = await f.key
                logger.notice("staging: \(key) uploaded")
                await dropStaged(ino, f)
            } catch {
                // Logged by store; tried again later.
            }
        }
    }

    /// At unmount: files still owed an upload stay on disk for the next mount.
    public func shutdown() async {
        // The retries end first (an upload they started is cancelled and keeps its data), so
        // none is still using a staged file when it is closed below.
        let retries = retryTask.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        retries?.cancel()
        await retries?.value
        // Closed files not stored yet get one more try, and changed directories' metadata records
        // are written, for at most `unmountSyncSeconds`; files left stay staged for the next mount.
        do {
            let attempt = Task { await self.sync() }
            let limit = config.unmountSyncSeconds
            let timer = Task {
                try? await Task.sleep(for: .seconds(limit))
                attempt.cancel()
            }
            let failed = await attempt.value
            timer.cancel()
            for f in failed { logger.warning("at unmount: \(f.key) is not stored: \(f.error)") }
        }
        let files = staged.withLock { Array($0.values) }
        for f in files {
            if let why = await f.abandoned {
                let key = await f.key
                let path = await f.setAside()
                logger.warning("\(key) is not stored (\(why)); the written data is kept in \(path)")
            } else if await f.needsUpload {
                let key = await f.key
                await f.closeKeeping()
                logger.warning("\(key) is not uploaded yet; it stays in \(staging?.directory ?? "") and the next mount uploads it")
            } else {
                await f.discard()
            }
        }
        if stagingLock >= 0 { Glibc.close(stagingLock) }
    }

    /// Bytes sent in request bodies by uploads of the staged file of `ino` (for diagnostics).
    public func bytesSent(_ ino: UInt64) async -> Int64 { await stagedFile(ino)?.bytesSent ?? 0 }
}
