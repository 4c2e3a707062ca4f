import Foundation
import S3

/// Extended attributes the way s3fs stores them: one metadata value, `xattr`, holding the
/// percent-encoded JSON object `{"name":"base64(value)",...}`. Only the `user.` namespace is
/// stored. The limits are the tightest of the servers served: the encoded value must fit in
/// `maxEncodedBytes` (OpenStack Swift's 256-byte metadata value), beyond which a set answers
/// ENOSPC, as ext4 does when an inode's attributes are full.
public enum ExtendedAttributes {
    public static let maxEncodedBytes = 256
    /// Linux's XATTR_SIZE_MAX; a larger value answers E2BIG.
    public static let maxValueBytes = 65_536
    public static let namespace = "user."

    public static func encode(_ xattrs: [String: [UInt8]]) -> String {
        let body = xattrs.keys.sorted().map { name in
            "\"\(jsonEscaped(name))\":\"\(Data(xattrs[name] ?? []).base64EncodedString())\""
        }.joined(separator: ",")
        return URIEncoding.encode("{" + body + "}")
    }

    /// The attributes in an `xattr` value; nil when it is not s3fs's encoding.
    public static func decode(_ value: String) -> [String: [UInt8]]? {
        let text = URIEncoding.decode(value) ?? value
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        var out: [String: [UInt8]] = [:]
        for (name, v) in object {
            guard let b64 = v as? String, let data = Data(base64Encoded: b64) else { continue }
            out[name] = Array(data)
        }
        return out
    }

    /// Whether `xattrs` can be stored (see `maxEncodedBytes`).
    public static func fits(_ xattrs: [String: [UInt8]]) -> Bool {
        xattrs.isEmpty || encode(xattrs).utf8.count <= maxEncodedBytes
    }

    static func jsonEscaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
