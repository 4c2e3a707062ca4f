/// The INI dialect of AWS's shared files and of bucketfs's own credential file:
/// `[section]` headers, `key = value` lines, `#` or `;` comments, names compared as written.
public struct IniFile: Sendable, Equatable {
    public private(set) var sections: [String: [String: String]] = [:]
    /// Section names in file order.
    public private(set) var order: [String] = []

    public init() {}

    public init(text: String) throws {
        var current: String?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw).trimmingSpaces.trimmingCharacters(in: "\r")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw S3Error.credentials("line \(n + 1): unterminated section header") }
                let name = String(line.dropFirst().dropLast()).trimmingSpaces
                current = name
                if sections[name] == nil { sections[name] = [:]; order.append(name) }
                continue
            }
            guard let eq = line.firstIndex(of: "="), let section = current else {
                throw S3Error.credentials("line \(n + 1): expected key = value inside a [section]")
            }
            let key = String(line[..<eq]).trimmingSpaces.lowercased()
            let value = String(line[line.index(after: eq)...]).trimmingSpaces
            sections[section, default: [:]][key] = value
        }
    }

    public subscript(section: String) -> [String: String]? { sections[section] }

    public mutating func set(section: String, values: [String: String]) {
        if sections[section] == nil { order.append(section) }
        sections[section] = values
    }

    public mutating func remove(section: String) {
        sections[section] = nil
        order.removeAll { $0 == section }
    }

    /// The file's text, sections in order, keys sorted.
    public var text: String {
        order.map { name in
            "[\(name)]\n" + (sections[name] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)\n" }.joined()
        }.joined(separator: "\n")
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
