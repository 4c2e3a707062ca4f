#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Streams a file that is being written from offset 0 onwards into one multipart upload: each
/// part is sent, in the background, as soon as the writer has moved past its end; `finish`
/// sends the rest and completes. Guarantees: at most `concurrency` parts in flight; part buffers
/// come from the shared `budget`; `advance` waits (backpressure) while more than `maxAhead`
/// bytes are written but not yet handed to parts; parts follow `plan`, so the part limit is never
/// reached; a failed or abandoned upload is aborted.
actor MultipartWriter {
    let client: S3Client
    let bucket: String
    let key: String
    let file: LocalFile
    let plan: PartSizePlan
    let budget: ByteBudget
    let concurrency: Int
    let maxAhead: Int64
    let metadata: [String: String]
    let contentType: String?
    let logger: Logger

    private(set) var uploadId: String?
    private var creating = false
    private var nextPart = 1
    private var nextStart: Int64 = 0
    private var sealed: Int64 = 0
    private var inflight = 0
    private var completed: [CompletedPart] = []
    private var failure: (any Error)?
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Bytes sent in part bodies (for the statistics).
    private(set) var bytesSent: Int64 = 0

    init(client: S3Client, bucket: String, key: String, file: LocalFile, plan: PartSizePlan, budget: ByteBudget,
         concurrency: Int, maxAhead: Int64, metadata: [String: String], contentType: String?, logger: Logger) {
        self.client = client; self.bucket = bucket; self.key = key; self.file = file; self.plan = plan
        self.budget = budget; self.concurrency = max(1, concurrency); self.maxAhead = maxAhead
        self.metadata = metadata; self.contentType = contentType; self.logger = logger
    }

    /// Where the parts handed out so far end: bytes below it must not change any more.
    static func boundary(_ plan: PartSizePlan, atMost size: Int64) -> Int64 {
        var end: Int64 = 0
        var n = 1
        while n <= plan.maxParts {
            let s = plan.partSize(n)
            if end + s > size { break }
            end += s
            n += 1
        }
        return end
    }

    /// The writer has written `sealedEnd` bytes that will not change (a part boundary).
    func advance(sealedEnd: Int64) async throws {
        sealed = max(sealed, sealedEnd)
        try await startIfNeeded()
        pump(final: false)
        while failure == nil && sealed - nextStart > maxAhead && inflight > 0 {
            await waitForProgress()
            pump(final: false)
        }
        if let failure { throw failure }
    }

    private func startIfNeeded() async throws {
        guard uploadId == nil else { return }
        while creating { await waitForProgress() }
        guard uploadId == nil else { return }
        creating = true
        defer { creating = false; wake() }
        uploadId = try await client.createMultipartUpload(bucket, key: key, contentType: contentType, metadata: metadata)
    }

    private func pump(final: Bool) {
        guard let uploadId, failure == nil else { return }
        while inflight < concurrency && nextPart <= plan.maxParts {
            let size = plan.partSize(nextPart)
            var end = nextStart + size
            if end > sealed {
                guard final, nextStart < sealed else { return }
                end = sealed
            }
            launch(number: nextPart, range: nextStart..<end, uploadId: uploadId)
            nextPart += 1
            nextStart = end
        }
    }

    private func launch(number: Int, range: Range<Int64>, uploadId: String) {
        inflight += 1
        let (client, bucket, key, file, budget) = (client, bucket, key, file, budget)
        let bytes = Int(range.count)
        Task.detached {
            let result: Result<String, any Error>
            do {
                result = .success(try await PartUpload.send(client, bucket: bucket, key: key, uploadId: uploadId, number: number,
                                                            file: file, range: range, budget: budget))
            } catch {
                result = .failure(error)
            }
            await self.partDone(number, bytes: bytes, result)
        }
    }

    private func partDone(_ number: Int, bytes: Int, _ result: Result<String, any Error>) {
        inflight -= 1
        switch result {
        case .success(let etag):
            completed.append(CompletedPart(partNumber: number, etag: etag))
            bytesSent += Int64(bytes)
        case .failure(let e):
            if failure == nil { failure = e }
        }
        pump(final: false)
        wake()
    }

    private func waitForProgress() async {
        await withCheckedContinuation { waiters.append($0) }
    }

    private func wake() {
        let w = waiters
        waiters = []
        w.forEach { $0.resume() }
    }

    /// Sends everything up to `size` and completes the upload; returns the object's ETag.
    /// nil when no part was ever started (the caller stores the file with one PUT instead).
    func finish(size: Int64) async throws -> String? {
        while creating { await waitForProgress() }
        guard let uploadId else { return nil }
        sealed = size
        while true {
            pump(final: true)
            if inflight == 0 { break }
            await waitForProgress()
        }
        if let failure { throw failure }
        guard nextStart == size else { throw FSError(EFBIG, "\(key): larger than \(plan.maxParts) parts can hold") }
        let parts = completed.sorted { $0.partNumber < $1.partNumber }
        return try await client.completeMultipartUpload(bucket, key: key, uploadId: uploadId, parts: parts)
    }

    /// Stops: waits for parts in flight, then aborts the upload (best effort).
    func abort() async {
        failure = failure ?? CancellationError()
        while inflight > 0 || creating { await waitForProgress() }
        guard let id = uploadId else { return }
        uploadId = nil
        do {
            try await client.abortMultipartUpload(bucket, key: key, uploadId: id)
        } catch {
            logger.warning("could not abort upload of \(key): \(error); `bucketfs uploads clean` removes it")
        }
    }
}
