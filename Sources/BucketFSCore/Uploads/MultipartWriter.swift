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
    let file: StagedData
    let settings: UploadSettings
    let plan: PartSizePlan
    let budget: ByteBudget
    let streamedParts: ByteBudget
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
    /// The byte ranges of the parts the server has acknowledged.
    private(set) var acknowledged = RangeSet()
    private var failure: (any Error)?
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Bytes sent in part bodies (for the statistics).
    private(set) var bytesSent: Int64 = 0
    /// Parts whose bytes were read back from the staged file rather than sent from memory.
    private(set) var partsReadBack = 0
    /// The written bytes from `memoryStart` on, as the writes delivered them, while the file is
    /// written strictly in order and the shared budget has room: parts are sent from here
    /// instead of being read back from the staged file.
    private var memory: [ByteBuffer] = []
    private var memoryStart: Int64 = 0
    private var memoryEnd: Int64 = 0
    private var memoryUsable = true
    /// Where a new in-memory run may start after the budget had no room (a part boundary).
    private var resumeAt: Int64 = 0

    init(client: S3Client, bucket: String, key: String, file: StagedData, settings: UploadSettings,
         metadata: [String: String], contentType: String?, memoryFrom: Int64 = 0, logger: Logger) {
        self.client = client; self.bucket = bucket; self.key = key; self.file = file; self.settings = settings
        plan = settings.plan
        budget = settings.budget; streamedParts = settings.streamedParts
        concurrency = max(1, settings.concurrency); maxAhead = settings.maxAhead
        self.metadata = metadata; self.contentType = contentType; self.logger = logger
        resumeAt = memoryFrom
        if memoryFrom > 0 { memoryEnd = -1 }
    }

    /// Offers the bytes of a write at `offset` (already in the staged file) to be sent from memory.
    func offer(_ data: ByteBuffer, at offset: Int64) {
        guard memoryUsable else { return }
        let n = data.readableBytes
        if memory.isEmpty && offset == resumeAt && offset >= nextStart {
            // A new run starts at a part boundary.
            memoryStart = offset
            memoryEnd = offset
        }
        guard offset == memoryEnd, memoryEnd >= memoryStart else {
            if offset < memoryEnd { dropMemory() }  // an overwrite: memory is stale for good
            return
        }
        if budget.tryAcquire(n) {
            memory.append(data)
            memoryEnd += Int64(n)
        } else {
            // No room now: this part is read back from the file; the next part may use memory again.
            releaseMemory()
            resumeAt = Self.nextBoundary(plan, after: offset + Int64(n))
            memoryEnd = -1
        }
    }

    /// The first part boundary above `offset`.
    static func nextBoundary(_ plan: PartSizePlan, after offset: Int64) -> Int64 {
        var end: Int64 = 0
        var n = 1
        while n <= plan.maxParts && end <= offset {
            end += plan.partSize(n)
            n += 1
        }
        return end
    }

    private func releaseMemory() {
        let held = memory.reduce(0) { $0 + $1.readableBytes }
        memory = []
        if held > 0 { budget.release(held) }
    }

    /// From now on parts are read back from the staged file (the file was changed out of order).
    func dropMemory() {
        memoryUsable = false
        releaseMemory()
    }

    /// The in-memory bytes of `range` (the next part), taken out of `memory`; nil if not all there.
    private func takeMemory(_ range: Range<Int64>) -> [ByteBuffer]? {
        guard memoryUsable, memoryStart == range.lowerBound, range.upperBound <= memoryEnd else { return nil }
        var out: [ByteBuffer] = []
        var need = Int(range.count)
        while need > 0, !memory.isEmpty {
            var first = memory.removeFirst()
            if first.readableBytes <= need {
                need -= first.readableBytes
                out.append(first)
            } else {
                guard let head = first.readSlice(length: need) else { return nil }
                out.append(head)
                memory.insert(first, at: 0)
                need = 0
            }
        }
        memoryStart = range.upperBound
        return out
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
        let (client, bucket, key, file, budget, streamedParts) = (client, bucket, key, file, budget, streamedParts)
        let bytes = Int(range.count)
        let inMemory = takeMemory(range)
        if inMemory == nil { partsReadBack += 1 }
        Task.detached {
            let result: Result<String, any Error>
            do {
                if let inMemory {
                    result = .success(try await PartUpload.send(client, bucket: bucket, key: key, uploadId: uploadId, number: number,
                                                                buffers: inMemory, held: bytes, budget: budget))
                } else {
                    result = .success(try await PartUpload.send(client, bucket: bucket, key: key, uploadId: uploadId, number: number,
                                                                file: file, range: range, budget: budget, streamedParts: streamedParts))
                }
            } catch {
                result = .failure(error)
            }
            await self.partDone(number, range: range, result)
        }
    }

    private func partDone(_ number: Int, range: Range<Int64>, _ result: Result<String, any Error>) {
        inflight -= 1
        switch result {
        case .success(let etag):
            completed.append(CompletedPart(partNumber: number, etag: etag))
            acknowledged.insert(range)
            bytesSent += Int64(range.count)
        case .failure(let e):
            if failure == nil { failure = e }
        }
        pump(final: false)
        wake()
    }

    /// Waits until a part in flight is done; false at once if none is in flight.
    func awaitPartInFlight() async -> Bool {
        guard inflight > 0 else { return false }
        await waitForProgress()
        return true
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
        guard let uploadId else {
            dropMemory()
            return nil
        }
        sealed = size
        while true {
            pump(final: true)
            if inflight == 0 { break }
            await waitForProgress()
        }
        dropMemory()
        if let failure { throw failure }
        guard nextStart == size else { throw FSError(EFBIG, "\(key): larger than \(plan.maxParts) parts can hold") }
        let parts = completed.sorted { $0.partNumber < $1.partNumber }
        return try await client.completeMultipartUpload(bucket, key: key, uploadId: uploadId, parts: parts)
    }

    /// Stops: waits for parts in flight, then aborts the upload (best effort).
    func abort() async {
        failure = failure ?? CancellationError()
        dropMemory()
        while inflight > 0 || creating { await waitForProgress() }
        guard let id = uploadId else { return }
        uploadId = nil
        await settings.abort(client, bucket: bucket, key: key, uploadId: id, logger: logger)
    }
}
