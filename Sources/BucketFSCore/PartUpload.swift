import Crypto
import NIOCore
import S3

/// Sends one part of a staged file. Guarantees: at most `bufferedPartLimit` bytes of a part are
/// held in memory (larger parts are read twice from the staged file: once for their Content-MD5,
/// once streamed in 1 MiB chunks); the bytes held count against `budget` while the part is out.
enum PartUpload {
    static let bufferedPartLimit = 16 << 20
    static let chunk = 1 << 20

    /// Sends a part held in memory as the writes delivered it (no copy, no read back); `held`
    /// bytes of `budget` were taken for it and are given back when it is done.
    static func send(_ client: S3Client, bucket: String, key: String, uploadId: String, number: Int,
                     buffers: [ByteBuffer], held: Int, budget: ByteBudget) async throws -> String {
        defer { budget.release(held) }
        var md5 = Insecure.MD5()
        for b in buffers { b.withUnsafeReadableBytes { md5.update(bufferPointer: $0) } }
        let digest = Data(md5.finalize()).base64EncodedString()
        return try await client.uploadPart(bucket, key: key, uploadId: uploadId, partNumber: number, buffers: buffers, contentMD5: digest)
    }

    static func send(_ client: S3Client, bucket: String, key: String, uploadId: String, number: Int,
                     file: StagedData, range: Range<Int64>, budget: ByteBudget) async throws -> String {
        let length = Int(range.count)
        let held = min(length, bufferedPartLimit, budget.capacity)
        await budget.acquire(held)
        defer { budget.release(held) }
        if length <= bufferedPartLimit {
            let body = try file.read(at: range.lowerBound, count: length)
            return try await client.uploadPart(bucket, key: key, uploadId: uploadId, partNumber: number, body: body)
        }
        var md5 = Insecure.MD5()
        var offset = range.lowerBound
        while offset < range.upperBound {
            let n = Int(min(Int64(chunk), range.upperBound - offset))
            let piece = try file.read(at: offset, count: n)
            piece.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
            offset += Int64(n)
        }
        let digest = Data(md5.finalize()).base64EncodedString()
        let body = StreamedBody(length: Int64(length)) {
            var next = range.lowerBound
            return AsyncThrowingStream(unfolding: {
                guard next < range.upperBound else { return nil }
                let n = Int(min(Int64(chunk), range.upperBound - next))
                let piece = try file.read(at: next, count: n)
                next += Int64(n)
                return piece
            })
        }
        return try await client.uploadPart(bucket, key: key, uploadId: uploadId, partNumber: number, body: body, contentMD5: digest)
    }
}

import Foundation
