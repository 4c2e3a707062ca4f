import Glibc
import S3
import XCTest
@testable import BucketFSCore

/// The metadata record's text form, what it vouches for, the s3fs codecs of special files and
/// extended attributes, and the memo's version rule.
final class MetadataRecordTests: XCTestCase {
    let defaults = OwnershipDefaults(uid: 10, gid: 20, fileMode: 0o640, dirMode: 0o750)

    func listed(_ etag: String, size: Int64, stored: Int64) -> NodeAttributes {
        var a = NodeAttributes(kind: .file, size: size, mode: 0o640, uid: 10, gid: 20, mtime: Timestamp(seconds: stored), etag: etag)
        a.stored = Timestamp(seconds: stored)
        a.hasMetadata = false
        return a
    }

    func testRecordRoundTripsEveryKind() throws {
        var r = DirectoryRecord()
        var link = NodeAttributes(kind: .symlink, size: 6, mode: 0o777, uid: 1, gid: 2, mtime: Timestamp(seconds: 5, nanoseconds: 7))
        link.linkTarget = "../a b\tc%"
        var dev = NodeAttributes(kind: .characterDevice, size: 0, mode: 0o600, uid: 0, gid: 0, mtime: Timestamp(seconds: 9))
        dev.rdev = 259
        var file = NodeAttributes(kind: .file, size: 3, mode: 0o4755, uid: 1234, gid: 5678, mtime: Timestamp(seconds: 1_300_000_000))
        file.xattrs = ["user.color": Array("blue".utf8), "user.bin": [0, 255, 16]]
        var dir = NodeAttributes(kind: .directory, size: 0, mode: 0o1777, uid: 42, gid: 43, mtime: Timestamp(seconds: 11))
        dir.xattrs = ["user.d": [1]]
        var plain = listed("p", size: 1, stored: 3)
        plain.hasMetadata = false
        r.set("link\nname", etag: "e1", size: 6, stored: Timestamp(seconds: 100), attributes: link)
        r.set("null", etag: "e2", size: 0, stored: Timestamp(seconds: 101), attributes: dev)
        r.set("f", etag: "e3", size: 3, stored: Timestamp(seconds: 102), attributes: file)
        r.set("foreign", etag: "p", size: 1, stored: Timestamp(seconds: 3), attributes: plain)
        r.directories["sub"] = dir
        let back = try XCTUnwrap(DirectoryRecord.decode(Substring(r.encoded())))
        XCTAssertEqual(back.files, r.files)
        XCTAssertEqual(back.directories["sub"]?.mode, 0o1777)
        XCTAssertEqual(back.directories["sub"]?.xattrs, ["user.d": [1]])
        XCTAssertEqual(back.files["link\nname"]?.attributes?.linkTarget, "../a b\tc%")
        XCTAssertNil(back.files["foreign"]?.attributes)
        XCTAssertNil(DirectoryRecord.decode("something else\n"))
        // Damaged lines and names that are not file names are skipped, not trusted.
        let damaged = DirectoryRecord.decode("bucketfs-metadata 1\nf\t..\te\t1\t1\t-\nf\tok\te\tx\t1\t-\nf\tgood\te\t1\t1\t-\n")
        XCTAssertEqual(damaged.map { Array($0.files.keys) }, ["good"])
    }

    func testRecordVouchesOnlyForTheVersionItSaw() {
        var r = DirectoryRecord()
        let a = NodeAttributes(kind: .file, size: 3, mode: 0o600, uid: 1, gid: 2, mtime: Timestamp(seconds: 1))
        r.set("f", etag: "e", size: 3, stored: Timestamp(seconds: 100), attributes: a)
        let plain = listed("", size: 0, stored: 0)
        XCTAssertEqual(r.attributes(of: "f", listed: listed("e", size: 3, stored: 100), defaults: plain)?.mode, 0o600)
        XCTAssertNil(r.attributes(of: "f", listed: listed("other", size: 3, stored: 100), defaults: plain), "a new body")
        XCTAssertNil(r.attributes(of: "f", listed: listed("e", size: 3, stored: 101), defaults: plain), "a copy onto itself")
        XCTAssertNil(r.attributes(of: "f", listed: listed("e", size: 4, stored: 100), defaults: plain))
        XCTAssertNil(r.attributes(of: "g", listed: listed("e", size: 3, stored: 100), defaults: plain))
    }

    func testMemoNeedsTheSameSecondWhenItKnowsIt() {
        let memo = MetadataMemo()
        var a = NodeAttributes(kind: .file, size: 3, mode: 0o600, uid: 1, gid: 2, mtime: Timestamp(seconds: 1), etag: "e")
        memo.remember("k", a)
        XCTAssertNotNil(memo.recall("k", etag: "e", size: 3, stored: Timestamp(seconds: 50)), "written here: the ETag decides")
        a.stored = Timestamp(seconds: 50)
        memo.remember("k", a)
        XCTAssertNotNil(memo.recall("k", etag: "e", size: 3, stored: Timestamp(seconds: 50)))
        XCTAssertNil(memo.recall("k", etag: "e", size: 3, stored: Timestamp(seconds: 51)), "copied onto itself later")
        XCTAssertNotNil(memo.recall("k", etag: "listed-otherwise", size: 3, stored: Timestamp(seconds: 50)))
    }

    func testSpecialFilesAndXattrsInS3fsMetadata() {
        var dev = NodeAttributes(kind: .blockDevice, size: 0, mode: 0o660, uid: 0, gid: 6, mtime: Timestamp(seconds: 1))
        dev.rdev = 1792
        dev.xattrs = ["user.a": Array("x\"y".utf8)]
        let m = MetadataCodec.encode(dev)
        XCTAssertEqual(m["mode"], String(UInt32(S_IFBLK) | 0o660))
        XCTAssertEqual(m["rdev"], "1792")
        let back = MetadataCodec.attributes(size: 0, etag: nil, lastModified: nil, metadata: m, isDirectory: false,
                                            defaults: OwnershipDefaults(uid: 0, gid: 0))
        XCTAssertEqual(back.kind, .blockDevice)
        XCTAssertEqual(back.rdev, 1792)
        XCTAssertEqual(back.xattrs, dev.xattrs)
        for (mode, kind) in [(S_IFIFO, NodeKind.fifo), (S_IFSOCK, .socket), (S_IFCHR, .characterDevice)] {
            XCTAssertEqual(NodeKind(mode: UInt32(mode) | 0o644), kind)
            XCTAssertEqual(kind.typeBits, UInt32(mode))
        }
        // s3fs's own encoding: percent-encoded JSON of base64 values.
        XCTAssertEqual(ExtendedAttributes.decode("%7B%22user.k%22%3A%22dmFs%22%7D"), ["user.k": Array("val".utf8)])
        XCTAssertNil(ExtendedAttributes.decode("not json"))
        XCTAssertTrue(ExtendedAttributes.fits(["user.a": [1]]))
        XCTAssertFalse(ExtendedAttributes.fits(["user.a": [UInt8](repeating: 7, count: 200)]))
    }
}
