/// How S3 keys become file names. A name is usable only if it is a single valid path
/// component: not empty, not `.` or `..`, no NUL, at most 255 bytes. Keys that would give any
/// other name (`a//b`, `./x`, `../x`, `x/.`) are hidden: they can never escape the mount.
public enum KeyNames {
    public static let maxNameBytes = 255

    public static func isValidName(_ name: Substring) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name.utf8.count <= maxNameBytes
            && !name.utf8.contains(0) && !name.utf8.contains(UInt8(ascii: "/"))
    }

    public static func isValidName(_ name: String) -> Bool { isValidName(Substring(name)) }

    /// The prefix under which a directory's children live ("" for the bucket root).
    public static func childPrefix(ofDirectoryKey key: String) -> String { key.isEmpty ? "" : key + "/" }

    /// The prefix of the directory that holds `key` ("" at the bucket root).
    public static func parentPrefix(ofKey key: String) -> String {
        guard let slash = key.lastIndex(of: "/") else { return "" }
        return String(key[...slash])
    }

    /// Normalises a mount prefix (`/some/prefix/` -> `some/prefix`); nil if it has an invalid component.
    public static func normalizePrefix(_ p: String) -> String? {
        let parts = p.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.allSatisfy({ isValidName($0) }) else { return nil }
        return parts.joined(separator: "/")
    }
}
