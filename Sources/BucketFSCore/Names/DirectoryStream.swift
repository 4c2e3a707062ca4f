import Logging
import S3

/// One entry of a directory listing.
public struct DirectoryEntry: Sendable {
    public var name: String
    public var attributes: NodeAttributes
    /// The offset of the entry after this one (what readdir hands back to the kernel).
    public var nextOffset: Int64
}

/// A directory listing read page by page, as readdir consumes it. It holds one window of entries,
/// never the whole listing, and numbers entries so that an offset stays valid across pages.
/// Merging rules: a file and a directory of the same name show once, as the directory; the
/// directory's own marker object (`dir/`) and keys that are not valid names are left out.
/// A rewind (offset before the window) restarts the listing.
public actor DirectoryStream {
    let client: S3Client
    let bucket: String
    let prefix: String
    let attributes: @Sendable (ObjectSummary?, Bool) -> NodeAttributes
    let logger: Logger
    let pageSize: Int

    /// Entries with index `base ..< base + window.count`; index i has offset i + 1.
    private var base: Int64 = 0
    private var window: [DirectoryEntry] = []
    private var token: String?
    private var started = false
    private var finished = false
    /// Files held back until the listing has passed the place where `name/` would sort.
    private var pendingFiles: [(name: String, key: String, object: ObjectSummary)] = []
    /// The last directory emitted: servers may repeat a common prefix at a page boundary.
    private var lastDirectory: String?
    private var nextIndex: Int64 = 0
    /// The next page (and the token it was asked with), requested as soon as the previous page
    /// arrived, before that page is parsed: one LIST in flight ahead.
    private var ahead: (token: String, task: Task<UnparsedListPage, any Error>)?
    static let maxPending = 10_000
    /// Finds the directory's metadata record: with what the listing showed of its object, or with
    /// nil when the first page ended before the place where it would sort (then it is read).
    let recordLoader: (@Sendable (ObjectSummary?, _ settled: Bool) async -> DirectoryRecord?)?
    private var recordSummary: ObjectSummary?
    private var recordLoaded = false
    /// The directory's metadata record, once the first page is in (nil: it has none).
    public private(set) var record: DirectoryRecord?

    public init(client: S3Client, bucket: String, prefix: String, pageSize: Int = 1000, logger: Logger,
                recordLoader: (@Sendable (ObjectSummary?, _ settled: Bool) async -> DirectoryRecord?)? = nil,
                attributes: @escaping @Sendable (ObjectSummary?, Bool) -> NodeAttributes) {
        self.recordLoader = recordLoader
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.pageSize = pageSize
        self.logger = logger
        self.attributes = attributes
    }

    deinit { ahead?.task.cancel() }

    private func restart() {
        ahead?.task.cancel()
        ahead = nil
        base = 0
        window = []
        token = nil
        started = false
        finished = false
        pendingFiles = []
        lastDirectory = nil
        nextIndex = 0
    }

    private func append(_ name: String, _ attrs: NodeAttributes) {
        nextIndex += 1
        window.append(DirectoryEntry(name: name, attributes: attrs, nextOffset: nextIndex))
    }

    /// Entries from `offset` on, at most `limit`; an empty answer means the end.
    /// `offset` 0 is the start; the caller adds "." and "..".
    public func entries(from offset: Int64, limit: Int) async throws -> [DirectoryEntry] {
        if offset < base { restart() }
        while offset + Int64(limit) > base + Int64(window.count) && !finished {
            // Drop what lies before the offset: the kernel has it.
            let drop = Int(min(Int64(window.count), max(0, offset - base)))
            if drop > 0 { window.removeFirst(drop); base += Int64(drop) }
            try await fetchPage()
        }
        let start = Int(max(0, offset - base))
        guard start < window.count else { return [] }
        return Array(window[start..<min(window.count, start + limit)])
    }

    private func fetchPage() async throws {
        if started && token == nil {
            flushPending(upTo: nil)
            finished = true
            return
        }
        started = true
        let raw: UnparsedListPage
        if let ahead {
            self.ahead = nil
            raw = try await ahead.task.value
        } else {
            raw = try await client.listObjectsUnparsed(bucket, listRequest(token))
        }
        // The next page is asked for before this one is parsed; the parse confirms the token.
        if let hint = raw.tokenHint { ahead = (hint, request(hint)) }
        let page: ListObjectsPage
        do {
            page = try raw.parse()
        } catch {
            ahead?.task.cancel()
            ahead = nil
            throw error
        }
        token = page.isTruncated ? page.nextToken : nil
        if ahead?.token != token {
            ahead?.task.cancel()
            ahead = token.map { ($0, request($0)) }
        }
        // Contents and CommonPrefixes, merged in key order.
        var items: [(key: String, object: ObjectSummary?)] = page.objects.map { ($0.key, $0) }
        items += page.commonPrefixes.map { ($0, nil) }
        items.sort { $0.key < $1.key }
        for item in items {
            flushPending(upTo: item.key)
            guard item.key.hasPrefix(prefix) else { continue }
            let rest = item.key.dropFirst(prefix.count)
            if let obj = item.object {
                if rest.isEmpty { continue }              // the directory's own marker
                if rest == DirectoryRecord.objectName { recordSummary = obj; continue }
                guard KeyNames.isValidName(rest) else { hidden(item.key); continue }
                pendingFiles.append((String(rest), item.key, obj))
                if pendingFiles.count > Self.maxPending { flushPending(upTo: nil) }
            } else {
                guard rest.hasSuffix("/") else { continue }
                let name = rest.dropLast()
                guard KeyNames.isValidName(name) else { hidden(item.key); continue }
                let n = String(name)
                if let i = pendingFiles.firstIndex(where: { $0.name == n }) {
                    logger.notice("key \"\(pendingFiles[i].key)\" is hidden by the directory of the same name")
                    pendingFiles.remove(at: i)
                }
                if lastDirectory != n {
                    lastDirectory = n
                    append(n, attributes(nil, true))
                }
            }
        }
        if token == nil {
            flushPending(upTo: nil)
            finished = true
        }
        if !recordLoaded, let recordLoader {
            recordLoaded = true
            let settled = token == nil || (items.last.map { $0.key >= prefix + DirectoryRecord.objectName } ?? false)
            record = await recordLoader(recordSummary, settled)
        }
    }

    /// The LIST of the page after `token`, under way.
    private func request(_ token: String) -> Task<UnparsedListPage, any Error> {
        Task { [client, bucket, req = listRequest(token)] in try await client.listObjectsUnparsed(bucket, req) }
    }

    private func listRequest(_ token: String?) -> ListObjectsRequest {
        ListObjectsRequest(prefix: prefix, delimiter: "/", continuationToken: token, maxKeys: pageSize)
    }

    /// Emits held-back files whose `name/` sorts before `key` (all of them when `key` is nil).
    private func flushPending(upTo key: String?) {
        guard !pendingFiles.isEmpty else { return }
        var keep: [(name: String, key: String, object: ObjectSummary)] = []
        for f in pendingFiles {
            if let key, !(f.key + "/" < key) { keep.append(f); continue }
            append(f.name, attributes(f.object, false))
        }
        pendingFiles = keep
    }

    private func hidden(_ key: String) {
        logger.debug("key \(key.debugDescription) is not a valid file name; hidden")
    }
}
