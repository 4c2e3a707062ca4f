import Synchronization
import NIOCore
import S3

/// Sends one part of a staged file. Guarantees: a part is held whole in memory only if it is at
/// most `bufferedPartLimit` bytes and `budget` has room for it at once (its bytes count against
/// the budget while it is out); otherwise it is read twice from the staged file, once for its
/// checksum (`S3Client.bodyDigest`) and once streamed in 1 MiB chunks, and holds one chunk at a
/// time; at most `streamedParts` such parts are out at once for the whole mount. A part never waits for room in
/// the budget, so writers that keep parts in memory (a slow writer's unfinished part can stay
/// there for hours) can never stall another file's upload.
enum PartUpload {
    static let bufferedPartLimit = 16 << 20
    static let chunk = 1 << 20

    /// Sends a part held in memory as the writes delivered it (no copy, no read back); `held`
    /// bytes of `budget` were taken for it and are given back when it is done.
    static func send(_ client: S3Client, bucket: String, key: String, uploadId: String, number: Int,
                     buffers: [ByteBuffer], held: Int, budget: ByteBudget) async throws -> String {
        defer { budget.release(held) }
        var digest = client.bodyDigest()
        for b in buffers { digest.update(b) }
        return try await client.uploadPart(bucket, key: key, uploadId: uploadId, partNumber: number, buffers: buffers,
                                           checksum: digest.finalize())
    }

    static func send(_ client: S3Client, bucket: String, key: String, uploadId: String, number: Int,
                     file: StagedData, range: Range<Int64>, budget: ByteBudget, streamedParts: ByteBudget) async throws -> String {
        let length = Int(range.count)
        if length <= bufferedPartLimit && budget.tryAcquire(length) {
            defer { budget.release(length) }
            let body = try file.read(at: range.lowerBound, count: length)
            return try await client.uploadPart(bucket, key: key, uploadId: uploadId, partNumber: number, body: body)
        }
        // A turn among the streamed parts: they wait only for each other's uploads, never for
        // memory that writers hold.
        await streamedParts.acquire(1)
        defer { streamedParts.release(1) }
        var digest = client.bodyDigest()
        var offset = range.lowerBound
        while offset < range.upperBound {
            let n = Int(min(Int64(chunk), range.upperBound - offset))
            let piece = try file.read(at: offset, count: n)
            digest.update(piece)
            offset += Int64(n)
        }
        let checksum = digest.finalize()
        let body = StreamedBody(length: Int64(length)) {
            let next = Cursor(range.lowerBound)
            return AsyncThrowingStream(unfolding: {
                guard let piece = next.advance(by: Int64(chunk), below: range.upperBound) else { return nil }
                return try file.read(at: piece.lowerBound, count: Int(piece.count))
            })
        }
        return try await client.uploadPart(bucket, key: key, uploadId: uploadId, partNumber: number, body: body, checksum: checksum)
    }
}

import Foundation

/// Where a streamed body has got to: hands out the next piece of a range, once.
final class Cursor: Sendable {
    private let position: Mutex<Int64>

    init(_ start: Int64) { position = Mutex(start) }

    /// The next piece of at most `step` bytes below `end`, or nil at the end.
    func advance(by step: Int64, below end: Int64) -> Range<Int64>? {
        position.withLock { p in
            guard p < end else { return nil }
            let piece = p..<min(end, p + step)
            p = piece.upperBound
            return piece
        }
    }
}
