import CCRC32C
import Crypto
import NIOCore
import Synchronization

/// How the server is told which bytes an upload body holds, so that it refuses damaged ones.
/// `crc32c`: `x-amz-checksum-crc32c`, which AWS, MinIO and SeaweedFS check and echo back; it
/// costs about a tenth of an MD5. `md5`: Content-MD5, which every S3 server checks (Swift s3api
/// accepts the CRC32C header but neither checks nor returns it).
public enum UploadChecksum: String, Sendable {
    /// Not known yet: parts carry a CRC32C and their MD5 is computed too (see `S3Client.sendPart`).
    case unknown
    case crc32c
    case md5
}

/// The digests of one upload body, computed in one pass over its bytes: the ones the client's
/// `UploadChecksum` needs, and no others.
public struct BodyDigest: Sendable {
    private var crc: UInt32?
    private var md5: Insecure.MD5?

    init(crc32c: Bool, md5: Bool) {
        crc = crc32c ? 0 : nil
        self.md5 = md5 ? Insecure.MD5() : nil
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if let c = crc { crc = bucketfs_crc32c(c, bytes.baseAddress, bytes.count) }
        md5?.update(bufferPointer: bytes)
    }

    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { update($0) }
    }

    public func finalize() -> BodyChecksum {
        BodyChecksum(crc32c: crc.map { c in
            Array([UInt8(c >> 24), UInt8(truncatingIfNeeded: c >> 16), UInt8(truncatingIfNeeded: c >> 8), UInt8(truncatingIfNeeded: c)]).base64String
        }, md5: md5.map { Array($0.finalize()) })
    }
}

/// The finished digests of one body.
public struct BodyChecksum: Sendable, Equatable {
    /// Base64 of the big-endian CRC-32C, as `x-amz-checksum-crc32c` carries it.
    public let crc32c: String?
    /// The 16 bytes of the MD5.
    public let md5: [UInt8]?

    var md5Base64: String? { md5?.base64String }
    var md5Hex: String? { md5?.hexString }
    /// Whether this body is the one that finds out what the server checks.
    var probes: Bool { crc32c != nil && md5 != nil }

    /// Adds the header that guards the body: the CRC32C where there is one, else Content-MD5.
    /// A guarded body's SigV4 payload hash is UNSIGNED-PAYLOAD: hashing it again would buy nothing.
    func guardBody(_ r: inout S3Request) {
        if let c = crc32c {
            r.headers.append(("x-amz-checksum-crc32c", c))
        } else if let m = md5Base64 {
            r.headers.append(("content-md5", m))
        } else {
            return
        }
        r.payloadHash = SigV4Signer.unsignedPayload
    }

    /// The same request guarded by Content-MD5 alone.
    func guardedByMD5(_ r: S3Request) -> S3Request? {
        guard let m = md5Base64 else { return nil }
        var again = r
        again.headers.append(("content-md5", m))
        again.payloadHash = SigV4Signer.unsignedPayload
        return again
    }
}

/// What one client has learnt of its server's checks. Guarantees: it starts `unknown`, and moves
/// once, to `crc32c` when the server echoed a part's CRC32C, or to `md5` when it did not or
/// refused the header; a later answer never moves it back.
final class ChecksumSupport: Sendable {
    private let state = Mutex(UploadChecksum.unknown)

    var current: UploadChecksum { state.withLock { $0 } }

    /// Records what an answer showed; true if this was the first thing learnt.
    @discardableResult
    func learn(_ kind: UploadChecksum) -> Bool {
        state.withLock { s in
            guard s == .unknown else { return false }
            s = kind
            return true
        }
    }
}

extension S3Error {
    /// Whether the server refused a request for carrying a header it does not take, rather than
    /// for its bytes (a part's CRC32C on a server that wants the algorithm named at initiation,
    /// or none at all).
    var refusesChecksumHeader: Bool {
        guard let e = serviceError else { return false }
        return (e.status == 400 || e.status == 501) && e.code != "BadDigest" && e.code != "InvalidDigest"
    }
}
