import Crypto
import Foundation
import NIOCore
import XCTest
@testable import S3
import TestSupport

/// Every client operation against real servers (SeaweedFS and Swift s3api).
final class S3IntegrationTests: XCTestCase {
    static func bytes(_ n: Int, seed: UInt8 = 7) -> [UInt8] {
        var x = UInt32(seed) | 1
        return (0..<n).map { _ in x ^= x << 13; x ^= x >> 17; x ^= x << 5; return UInt8(truncatingIfNeeded: x) }
    }

    func testBucketOperations() async throws {
        try await forEachServerBucket("bkt") { server, c, bucket in
            let head = try await c.headBucket(bucket)
            XCTAssertEqual(head.isOpenStackSwift, server.isSwift, "the server is recognised: \(server.name)")
            XCTAssertEqual(head.maxParts, server.isSwift ? 1000 : 10_000)
            let list = try await c.listBuckets()
            XCTAssertTrue(list.buckets.contains { $0.name == bucket }, server.name)
            let location = try await c.getBucketLocation(bucket)
            if server.isSwift { XCTAssertEqual(location, "KR1") }
            let acl = try await c.getBucketACL(bucket)
            XCTAssertFalse(acl.owner.id.isEmpty)
            try await c.putBucketACL(bucket, canned: .private)
            try await c.putBucketACL(bucket, policy: AccessControlPolicy(owner: acl.owner, grants: [
                Grant(grantee: .user(id: acl.owner.id, displayName: acl.owner.displayName), permission: "FULL_CONTROL")]))
            try await c.putObject(bucket, key: "x", body: ByteBuffer(string: "x"))
            // SeaweedFS deletes non-empty buckets; Swift s3api (like AWS) refuses.
            if server.isSwift { do {
                try await c.deleteBucket(bucket)
                XCTFail("\(server.name): deleting a non-empty bucket succeeded")
            } catch let e as S3Error {
                XCTAssertEqual(e.code, "BucketNotEmpty", server.name)
                XCTAssertEqual(e.errno, ENOTEMPTY)
            } }
            // A missing bucket is a typed 404.
            do {
                try await c.headBucket(uniqueBucket("missing"))
                XCTFail("HEAD of a missing bucket succeeded")
            } catch let e as S3Error {
                XCTAssertEqual(e.httpStatus, 404)
                XCTAssertEqual(e.errno, ENOENT)
            }
        }
    }

    func testObjectOperations() async throws {
        try await forEachServerBucket("obj") { server, c, bucket in
            let data = Self.bytes(100_000)
            let etag = try await c.putObject(bucket, key: "dir/file one.bin", body: ByteBuffer(bytes: data),
                                             contentType: "application/x-test", metadata: ["mode": "33188", "mtime": "1700000000"])
            let info = try await c.headObject(bucket, key: "dir/file one.bin")
            XCTAssertEqual(info.size, 100_000)
            XCTAssertEqual(info.etag, etag)
            XCTAssertEqual(info.metadata["mode"], "33188")
            XCTAssertEqual(info.metadata["mtime"], "1700000000")
            XCTAssertEqual(info.contentType, "application/x-test")

            let whole = try await c.getObject(bucket, key: "dir/file one.bin")
            XCTAssertEqual(whole.body.map { Array($0.readableBytesView) }, data)
            let part = try await c.getObject(bucket, key: "dir/file one.bin", range: 10...19)
            XCTAssertEqual(part.body.map { Array($0.readableBytesView) }, Array(data[10...19]))
            XCTAssertEqual(part.info.size, 100_000, "Content-Range gives the whole size")

            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 70_000, alignment: 16)
            defer { raw.deallocate() }
            let got = try await c.getObject(bucket, key: "dir/file one.bin", range: 50_000...119_999,
                                            into: UnsafeDestination(base: raw.baseAddress!, count: raw.count))
            XCTAssertEqual(got.count, 50_000, "a range past the end stops at the end")
            XCTAssertEqual(Array(raw[0..<50_000]), Array(data[50_000...]))

            let notModified = try await c.getObject(bucket, key: "dir/file one.bin", ifNoneMatch: etag)
            XCTAssertTrue(notModified.notModified)
            let matched = try await c.getObject(bucket, key: "dir/file one.bin", range: 0...0, ifMatch: etag)
            XCTAssertEqual(matched.body?.readableBytes, 1)
            do {
                _ = try await c.getObject(bucket, key: "dir/file one.bin", ifMatch: "0123456789abcdef0123456789abcdef")
                XCTFail("If-Match with a wrong ETag succeeded")
            } catch let e as S3Error {
                XCTAssertEqual(e.httpStatus, 412, server.name)
            }

            // Copy: COPY keeps metadata, REPLACE sets new metadata.
            _ = try await c.copyObject(from: bucket, key: "dir/file one.bin", to: bucket, key: "copy1")
            let v1 = try await c.headObject(bucket, key: "copy1").metadata["mode"]
            XCTAssertEqual(v1, "33188")
            _ = try await c.copyObject(from: bucket, key: "dir/file one.bin", to: bucket, key: "copy2", directive: .replace,
                                       metadata: ["mode": "33261"], sourceIfMatch: etag)
            let copy2 = try await c.headObject(bucket, key: "copy2")
            XCTAssertEqual(copy2.metadata["mode"], "33261")
            XCTAssertNil(copy2.metadata["mtime"])
            let v2 = try await c.getObject(bucket, key: "copy2").body.map { Array($0.readableBytesView) }
            XCTAssertEqual(v2, data)
            do {
                _ = try await c.copyObject(from: bucket, key: "copy1", to: bucket, key: "copy3", sourceIfMatch: "00000000000000000000000000000000")
                XCTFail("copy with a wrong source ETag succeeded")
            } catch let e as S3Error {
                XCTAssertEqual(e.httpStatus, 412, server.name)
            }

            try await c.deleteObject(bucket, key: "copy1")
            do {
                _ = try await c.headObject(bucket, key: "copy1")
                XCTFail("deleted object still there")
            } catch let e as S3Error {
                XCTAssertEqual(e.errno, ENOENT)
            }
            do {
                _ = try await c.getObject(bucket, key: "nope")
                XCTFail("GET of a missing key succeeded")
            } catch let e as S3Error {
                XCTAssertEqual(e.code, "NoSuchKey", server.name)
                XCTAssertNotNil(e.serviceError?.requestId)
            }
            // Empty object.
            try await c.putObject(bucket, key: "empty", body: ByteBuffer())
            let v3 = try await c.headObject(bucket, key: "empty").size
            XCTAssertEqual(v3, 0)
            let v4 = try await c.getObject(bucket, key: "empty").body?.readableBytes
            XCTAssertEqual(v4, 0)
        }
    }

    func testListing() async throws {
        try await forEachServerBucket("lst") { server, c, bucket in
            var keys = (0..<12).map { String(format: "d/f%02d", $0) }
            keys += ["d/sub/a", "d/sub/b", "d/other/x", "top", "d/a b+c ü%.txt"]
            for k in keys { try await c.putObject(bucket, key: k, body: ByteBuffer(string: k)) }
            let page = try await c.listObjects(bucket, ListObjectsRequest(prefix: "d/", delimiter: "/"))
            XCTAssertEqual(page.commonPrefixes, ["d/other/", "d/sub/"])
            XCTAssertEqual(Set(page.objects.map(\.key)), Set(keys.filter { $0.hasPrefix("d/") && !$0.dropFirst(2).contains("/") }))
            XCTAssertTrue(page.objects.contains { $0.key == "d/a b+c ü%.txt" && $0.size == Int64("d/a b+c ü%.txt".utf8.count) })

            var pages = 0
            var seen: [String] = []
            try await c.listAllObjects(bucket, ListObjectsRequest(prefix: "d/", maxKeys: 5)) { p in
                pages += 1
                seen += p.objects.map(\.key)
            }
            XCTAssertEqual(seen, keys.filter { $0.hasPrefix("d/") }.sorted())
            XCTAssertEqual(pages, 4, server.name)

            let after = try await c.listObjects(bucket, ListObjectsRequest(prefix: "d/f", startAfter: "d/f09"))
            XCTAssertEqual(after.objects.map(\.key), ["d/f10", "d/f11"])

            let v1 = try await c.listObjectsV1(bucket, ListObjectsRequest(prefix: "d/", delimiter: "/", maxKeys: 4))
            XCTAssertTrue(v1.isTruncated)
            var all: [String] = []
            var token: String? = nil
            repeat {
                let p = try await c.listObjectsV1(bucket, ListObjectsRequest(prefix: "d/", delimiter: "/", continuationToken: token, maxKeys: 4))
                all += p.objects.map(\.key) + p.commonPrefixes
                token = p.nextToken
            } while token != nil
            XCTAssertEqual(Set(all).count, page.objects.count + page.commonPrefixes.count, server.name)

            let result = try await c.deleteObjects(bucket, keys: keys + ["never-existed"])
            XCTAssertTrue(result.errors.isEmpty, "\(result.errors)")
            XCTAssertTrue(Set(result.deleted).isSuperset(of: Set(keys)), server.name)
            let empty = try await c.listObjects(bucket)
            XCTAssertTrue(empty.objects.isEmpty)
        }
    }

    static func checksum(_ c: S3Client, _ bytes: [UInt8]) -> BodyChecksum {
        var d = c.bodyDigest()
        d.update(ByteBuffer(bytes: bytes))
        return d.finalize()
    }

    func testMultipart() async throws {
        try await forEachServerBucket("mpu") { server, c, bucket in
            let p1 = Self.bytes(5 << 20, seed: 1), p2 = Self.bytes(1000, seed: 2)
            try await c.putObject(bucket, key: "source", body: ByteBuffer(bytes: Self.bytes(6 << 20, seed: 3)))
            let source = Self.bytes(6 << 20, seed: 3)

            let id = try await c.createMultipartUpload(bucket, key: "big", metadata: ["mode": "33188"])
            // A part in several buffers, sent back to back; its checksum covers them together. The
            // first part the client sends finds out what the server checks: a damaged one is
            // refused either way (SeaweedFS checks the CRC32C; Swift s3api ignores it, and the
            // part goes again with Content-MD5, which it checks).
            let pieces = [ByteBuffer(bytes: p2[0..<100]), ByteBuffer(bytes: p2[100..<900]), ByteBuffer(bytes: p2[900...])]
            func damagedPartIsRefused() async throws {
                do {
                    _ = try await c.uploadPart(bucket, key: "big", uploadId: id, partNumber: 3, buffers: pieces,
                                               checksum: Self.checksum(c, p1))
                    XCTFail("\(server.name): a part whose bytes do not match its checksum was accepted")
                } catch let e as S3Error {
                    XCTAssertEqual(e.code, "BadDigest", server.name)
                }
            }
            XCTAssertEqual(c.uploadChecksum, .unknown)
            try await damagedPartIsRefused()
            let e1 = try await c.uploadPart(bucket, key: "big", uploadId: id, partNumber: 1, body: ByteBuffer(bytes: p1))
            XCTAssertEqual(c.uploadChecksum, server.isSwift ? .md5 : .crc32c, server.name)
            let e2 = try await c.uploadPartCopy(bucket, key: "big", uploadId: id, partNumber: 2, sourceBucket: bucket,
                                                sourceKey: "source", range: 0...(5 << 20) - 1)
            try await damagedPartIsRefused()
            let e3 = try await c.uploadPart(bucket, key: "big", uploadId: id, partNumber: 3, buffers: pieces,
                                            checksum: Self.checksum(c, p2))
            XCTAssertEqual(e3, Insecure.MD5.hash(data: p2).map { String(format: "%02x", $0) }.joined(), server.name)
            let parts = try await c.listAllParts(bucket, key: "big", uploadId: id)
            XCTAssertEqual(parts.map(\.partNumber), [1, 2, 3])
            XCTAssertEqual(parts[0].size, 5 << 20)

            let other = try await c.createMultipartUpload(bucket, key: "other")
            let uploads = try await c.listAllMultipartUploads(bucket, pageSize: 1)
            XCTAssertEqual(Set(uploads.map(\.uploadId)), [id, other], server.name)
            try await c.abortMultipartUpload(bucket, key: "other", uploadId: other)

            let etag = try await c.completeMultipartUpload(bucket, key: "big", uploadId: id, parts: [
                CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2), CompletedPart(partNumber: 3, etag: e3)])
            XCTAssertTrue(etag.hasSuffix("-3"), "multipart ETag \(etag)")
            let info = try await c.headObject(bucket, key: "big")
            XCTAssertEqual(info.size, Int64(p1.count + (5 << 20) + p2.count))
            XCTAssertEqual(info.metadata["mode"], "33188")
            let got = try await c.getObject(bucket, key: "big", maxBytes: 16 << 20)
            XCTAssertEqual(got.body.map { Array($0.readableBytesView) }, p1 + Array(source[0..<(5 << 20)]) + p2)
            let remaining = try await c.listAllMultipartUploads(bucket)
            XCTAssertTrue(remaining.isEmpty)

            if server.isSwift {
                // Swift s3api: part numbers stop at 1000.
                let limited = try await c.createMultipartUpload(bucket, key: "limit")
                _ = try await c.uploadPart(bucket, key: "limit", uploadId: limited, partNumber: 1000, body: ByteBuffer(string: "x"))
                do {
                    _ = try await c.uploadPart(bucket, key: "limit", uploadId: limited, partNumber: 1001, body: ByteBuffer(string: "x"))
                    XCTFail("part 1001 accepted by Swift s3api")
                } catch let e as S3Error {
                    XCTAssertEqual(e.code, "InvalidArgument")
                }
                try await c.abortMultipartUpload(bucket, key: "limit", uploadId: limited)
            }
        }
    }

    func testSigV2() async throws {
        try await forEachServerBucket("v2", signature: .v2) { server, c, bucket in
            try await c.putObject(bucket, key: "k v", body: ByteBuffer(string: "hello"), metadata: ["a": "1"])
            let v5 = try await c.getObject(bucket, key: "k v").body.map { String(buffer: $0) }
            XCTAssertEqual(v5, "hello")
            let page = try await c.listObjects(bucket, ListObjectsRequest(prefix: "k"))
            XCTAssertEqual(page.objects.map(\.key), ["k v"])
            let id = try await c.createMultipartUpload(bucket, key: "m")
            try await c.abortMultipartUpload(bucket, key: "m", uploadId: id)
        }
    }

    func testWrongSecretIsTypedAndSecretFree() async throws {
        for server in try TestServer.all() {
            for sig in S3Endpoint.SignatureVersion.allCases {
                let c = try server.client(signature: sig, secret: "definitely-wrong-secret")
                do {
                    _ = try await c.listBuckets()
                    XCTFail("\(server.name): wrong secret accepted")
                } catch let e as S3Error {
                    XCTAssertEqual(e.code, "SignatureDoesNotMatch", "\(server.name) \(sig)")
                    XCTAssertEqual(e.errno, EACCES)
                    XCTAssertFalse(e.description.contains("definitely-wrong-secret"))
                    XCTAssertFalse(e.isRetryable)
                }
                try await c.shutdown()
            }
        }
    }

    /// Every service error names the operation, its target, the HTTP status, the S3 code and the
    /// server's request id (Swift s3api's X-Trans-Id too), all in the one line a log prints.
    func testErrorsNameOperationKeyStatusCodeAndRequestId() async throws {
        try await forEachServerBucket("errline") { server, c, bucket in
            do {
                _ = try await c.getObject(bucket, key: "dir/missing.txt")
                XCTFail("[\(server.name)] missing key read")
            } catch let e as S3Error {
                let line = e.description
                XCTAssertTrue(line.hasPrefix("NoSuchKey (HTTP 404) on GetObject \(bucket)/dir/missing.txt"), "[\(server.name)] \(line)")
                XCTAssertNotNil(e.serviceError?.requestId, "[\(server.name)] \(line)")
                XCTAssertTrue(line.contains("[request "), "[\(server.name)] \(line)")
            }
            do {
                _ = try await c.headObject(bucket, key: "missing")
                XCTFail("[\(server.name)] missing key found")
            } catch let e as S3Error {
                XCTAssertTrue(e.description.contains("(HTTP 404) on HeadObject \(bucket)/missing"), "[\(server.name)] \(e)")
                XCTAssertNotNil(e.serviceError?.requestId, "[\(server.name)] a HEAD's request id comes from its headers: \(e)")
            }
        }
    }
}
