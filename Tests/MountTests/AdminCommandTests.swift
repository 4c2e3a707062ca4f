import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// `bucketfs bucket ...` and `bucketfs uploads ...` against both servers.
final class AdminCommandTests: XCTestCase {
    func run(_ server: TestServer, _ args: String) -> (status: Int32, out: String, err: String) {
        let env = "AWS_ACCESS_KEY_ID=\(shellQuote(server.credentials.accessKey)) AWS_SECRET_ACCESS_KEY=\(shellQuote(server.credentials.secretKey)) "
            + "AWS_ENDPOINT_URL=\(server.endpoint.urlString) AWS_REGION=\(server.endpoint.region)"
        return sh("\(env) \(shellQuote(MountFixture.binary)) \(args)", timeout: 60)
    }

    func testBucketAndUploadCommands() async throws {
        for server in try TestServer.all() {
            let bucket = uniqueBucket("admin")
            let c = try server.client()
            var r = run(server, "bucket create \(bucket)" + (server.isSwift ? " --preset kr1" : ""))
            XCTAssertEqual(r.status, 0, "\(server.name): \(r.err)")
            r = run(server, "bucket list --json")
            XCTAssertTrue(r.out.contains("\"\(bucket)\""), "\(server.name): \(r.out)")
            r = run(server, "bucket location \(bucket)")
            XCTAssertEqual(r.status, 0, r.err)
            if server.isSwift { XCTAssertEqual(r.out, "KR1\n") }
            r = run(server, "bucket acl \(bucket) --set public-read --json")
            XCTAssertEqual(r.status, 0, "\(server.name): \(r.err)")
            if server.isSwift {
                XCTAssertTrue(r.out.contains("AllUsers") && r.out.contains("READ"), "ACL round trip: \(r.out)")
            }
            r = run(server, "bucket acl \(bucket) --set private")
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertFalse(r.out.contains("AllUsers"), r.out)
            r = run(server, "bucket info \(bucket)")
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("location:"), r.out)
            XCTAssertTrue(r.out.contains(server.isSwift ? "server:   OpenStack Swift s3api (at most 1000 parts"
                                                        : "server:   S3 (at most 10000 parts"), r.out)
            r = run(server, "bucket acl \(bucket) --set no-such-acl")
            XCTAssertEqual(r.status, 64)

            // An upload a killed writer left behind: listed with its size so far, then cleaned.
            try await c.putObject(bucket, key: "keep", body: ByteBuffer(string: "x"))
            let id = try await c.createMultipartUpload(bucket, key: "orphan")
            _ = try await c.uploadPart(bucket, key: "orphan", uploadId: id, partNumber: 1, body: ByteBuffer(bytes: [UInt8](repeating: 1, count: 1000)))
            r = run(server, "uploads list \(bucket) --json")
            XCTAssertTrue(r.out.contains(id) && r.out.contains("\"bytes\" : 1000"), "\(server.name): \(r.out)")
            r = run(server, "uploads clean \(bucket) --older-than 0s --dry-run")
            XCTAssertTrue(r.out.contains("would abort orphan"), r.out)
            let stillThere = try await c.listAllMultipartUploads(bucket)
            XCTAssertEqual(stillThere.count, 1, "dry run aborts nothing")
            r = run(server, "uploads clean \(bucket) --older-than 1d")
            XCTAssertTrue(r.out.contains("0 upload(s)"), "young uploads stay: \(r.out)")
            r = run(server, "uploads clean \(bucket) --older-than 0s")
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("aborting: 1 of 1 upload(s), last orphan") && r.out.contains("1 upload(s) aborted"), r.out)
            let left = try await c.listAllMultipartUploads(bucket)
            XCTAssertTrue(left.isEmpty, "\(server.name): \(left)")

            if server.isSwift {
                r = run(server, "bucket delete \(bucket)")
                XCTAssertNotEqual(r.status, 0, "a non-empty bucket is not deleted")
                XCTAssertTrue(r.err.contains("not empty"), r.err)
            }
            // --force deletes the objects and incomplete uploads first, showing progress.
            for i in 0..<24 { try await c.putObject(bucket, key: "many/\(i)", body: ByteBuffer(string: "\(i)")) }
            _ = try await c.createMultipartUpload(bucket, key: "orphan2")
            r = run(server, "bucket delete \(bucket) --force")
            XCTAssertEqual(r.status, 0, "\(server.name): \(r.err)")
            XCTAssertTrue(r.out.contains("deleting \(bucket): 25 object(s) deleted") && r.out.contains("deleted \(bucket)"), r.out)
            r = run(server, "bucket info \(bucket)")
            XCTAssertEqual(r.status, 3, r.err)
            try await c.shutdown()
        }
    }
}
