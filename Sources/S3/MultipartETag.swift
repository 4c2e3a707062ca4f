import Crypto

/// The ETag S3 gives an object completed from parts: the MD5 of the parts' binary MD5s, then
/// `-N` for N parts (AWS, Swift s3api, SeaweedFS, MinIO and moto all compute it so). Where the
/// part ETags are not plain MD5s (encrypted uploads), only the `-N` form can be checked.
public struct MultipartETag: Sendable, Equatable {
    /// The whole expected ETag, when every part ETag is an MD5 in hex.
    public let exact: String?
    public let partCount: Int

    public init(parts etags: [String]) {
        partCount = etags.count
        var md5 = Insecure.MD5()
        var exact = !etags.isEmpty
        for e in etags {
            guard let bytes = Self.hexBytes(ETag.normalize(e)), bytes.count == 16 else { exact = false; break }
            md5.update(data: bytes)
        }
        self.exact = exact ? Array(md5.finalize()).hexString + "-\(etags.count)" : nil
    }

    /// Whether `etag` (as a HEAD answers it) is the ETag of an object these parts make.
    public func matches(_ etag: String) -> Bool {
        let e = ETag.normalize(etag).lowercased()
        if let exact { return e == exact }
        return e.hasSuffix("-\(partCount)")
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = URIEncoding.hexValue(u[i]), let lo = URIEncoding.hexValue(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
