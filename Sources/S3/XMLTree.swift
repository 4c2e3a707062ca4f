import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: name, concatenated text, children in document order.
/// Small, immutable, built once per response by a SAX pass; namespaces are ignored,
/// so `ListBucketResult` matches with or without the S3 xmlns.
public final class XMLElement: @unchecked Sendable {
    public let name: String
    public fileprivate(set) var text: String = ""
    public fileprivate(set) var children: [XMLElement] = []

    init(name: String) { self.name = name }

    public func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }
    public func all(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }
    /// Text of the first child with this name.
    public func string(_ name: String) -> String? { child(name)?.text }
    public func int(_ name: String) -> Int64? { string(name).flatMap { Int64($0.trimmingSpaces) } }
    public func bool(_ name: String) -> Bool? { string(name).map { $0.trimmingSpaces.lowercased() == "true" } }

    /// Throws unless this element is the answer root `name` (say `ListPartsResult`). Servers differ
    /// in the suffix: moto names some roots `...Response` where S3 writes `...Result`, and botocore
    /// takes either, so both are accepted; anything else is a malformed answer.
    public func requireRoot(_ name: String, or other: String? = nil) throws {
        for n in [name, other].compactMap({ $0 }) where self.name == n || self.name == Self.twin(of: n) { return }
        throw S3Error.malformedResponse("expected \(name), got \(self.name)")
    }

    static func twin(of name: String) -> String {
        name.hasSuffix("Result") ? String(name.dropLast(6)) + "Response" : name
    }

    /// Parses a document. Throws `S3Error.malformedResponse` on anything that is not well-formed XML.
    public static func parse(_ bytes: [UInt8]) throws -> XMLElement {
        let data = Data(bytes)
        let parser = XMLParser(data: data)
        let builder = TreeBuilder()
        parser.delegate = builder
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), builder.stack.isEmpty, let root = builder.root else {
            let snippet = String(decoding: bytes.prefix(120), as: UTF8.self)
            throw S3Error.malformedResponse("not XML: \(snippet.debugDescription)")
        }
        return root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLElement?
    var stack: [XMLElement] = []

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        var name = elementName
        if let colon = name.lastIndex(of: ":") { name = String(name[name.index(after: colon)...]) }
        let e = XMLElement(name: name)
        if let parent = stack.last { parent.children.append(e) } else if root == nil { root = e }
        stack.append(e)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
    }
}

/// Builds XML request bodies with escaping.
struct XMLWriter {
    private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    mutating func open(_ name: String, _ attrs: String = "") { text += "<\(name)\(attrs.isEmpty ? "" : " " + attrs)>" }
    mutating func close(_ name: String) { text += "</\(name)>" }
    mutating func element(_ name: String, _ value: String) { text += "<\(name)>\(Self.escape(value))</\(name)>" }
}
