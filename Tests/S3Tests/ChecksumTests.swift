import NIOCore
import XCTest
@testable import S3

/// CRC-32C as S3 carries it, against published values and a bit-at-a-time reference.
final class ChecksumTests: XCTestCase {
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0x82F6_3B78 : 0) }
        }
        return ~c
    }

    static func crc(_ pieces: [[UInt8]]) -> String? {
        var d = BodyDigest(crc32c: true, md5: false)
        for p in pieces { d.update(ByteBuffer(bytes: p)) }
        return d.finalize().crc32c
    }

    static func base64(_ c: UInt32) -> String {
        [UInt8(c >> 24), UInt8(truncatingIfNeeded: c >> 16), UInt8(truncatingIfNeeded: c >> 8), UInt8(truncatingIfNeeded: c)].base64String
    }

    func testKnownValues() {
        XCTAssertEqual(Self.crc([Array("123456789".utf8)]), Self.base64(0xE306_9283))
        XCTAssertEqual(Self.crc([[]]), Self.base64(0))
        // The value SeaweedFS echoes for a PUT of "hello".
        XCTAssertEqual(Self.crc([Array("hello".utf8)]), "mnG7TA==")
        XCTAssertEqual(Self.crc([[UInt8](repeating: 0, count: 32)]), Self.base64(0x8A91_36AA))
    }

    /// Any split of the bytes, at any alignment, gives the value of the whole.
    func testPiecesAndAlignments() {
        var x: UInt32 = 12345
        let bytes = (0..<70_001).map { _ -> UInt8 in x = x &* 1_103_515_245 &+ 12345; return UInt8(truncatingIfNeeded: x >> 16) }
        let whole = Self.base64(Self.reference(bytes))
        XCTAssertEqual(Self.crc([bytes]), whole)
        for cut in [1, 3, 7, 8, 9, 4096, 65_537] {
            XCTAssertEqual(Self.crc([Array(bytes[..<cut]), Array(bytes[cut...])]), whole, "cut at \(cut)")
        }
        for start in 0..<9 {
            let tail = Array(bytes[start...])
            XCTAssertEqual(Self.crc([tail]), Self.base64(Self.reference(tail)), "start \(start)")
        }
    }

    /// A digest computes only what was asked of it.
    func testDigestHoldsWhatWasAsked() {
        var both = BodyDigest(crc32c: true, md5: true)
        both.update(ByteBuffer(string: "abc"))
        let sum = both.finalize()
        XCTAssertEqual(sum.md5?.hexString, "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertNotNil(sum.crc32c)
        XCTAssertTrue(sum.probes)
        XCTAssertNil(BodyDigest(crc32c: false, md5: true).finalize().crc32c)
        XCTAssertNil(BodyDigest(crc32c: true, md5: false).finalize().md5)
    }
}
