/// One part of a multipart upload: bytes sent from the staged file, or copied on the server from
/// the stored object (UploadPartCopy), so unchanged ranges of a large object never travel.
public struct PlannedPart: Sendable, Equatable {
    public enum Source: Sendable, Equatable { case local, copy }
    public var number: Int
    public var range: Range<Int64>
    public var source: Source
}

/// Cuts a staged file of `size` bytes into upload parts. Guarantees: parts cover `[0, size)` in
/// order without overlap; every part but the last is at least 5 MiB and at most 5 GiB; a copy
/// part lies inside `copyable`; there are at most `maxParts` parts.
public enum UploadPlanner {
    public static let minimumPart: Int64 = 5 << 20
    public static let maximumPart: Int64 = 5 << 30

    /// - copyable: bytes of the stored object that are unchanged at the same offsets.
    /// - localPart: target size of parts sent from the staged file (at least 10 MiB, so an even
    ///   split never falls under the 5 MiB minimum).
    /// - copyPart: target size of copied parts.
    /// - copyMinimum: shorter unchanged runs are sent rather than copied.
    public static func plan(size: Int64, copyable: RangeSet, maxParts: Int, localPart: Int64 = 16 << 20,
                            copyPart: Int64 = 128 << 20, copyMinimum: Int64 = 16 << 20) -> [PlannedPart] {
        guard size > 0 else { return [] }
        var local = max(localPart, 10 << 20)
        var copy = max(copyPart, local)
        // Part counts shrink as part sizes grow; four doublings of a fitting plan usually do.
        for _ in 0..<24 {
            let parts = cut(size: size, copyable: copyable, localPart: local, copyPart: copy,
                            copyMinimum: max(copyMinimum, 2 * minimumPart + (1 << 20)))
            if parts.count <= maxParts { return parts }
            if local < maximumPart { local = min(local * 2, maximumPart) }
            if copy < maximumPart { copy = min(copy * 2, maximumPart) }
            if local == maximumPart && copy == maximumPart { break }
        }
        // Too many separate changes to keep copies: send everything, in even parts.
        let per = max(local, (size + Int64(maxParts) - 1) / Int64(maxParts))
        return split(0..<size, target: per, source: .local, firstNumber: 1)
    }

    static func cut(size: Int64, copyable: RangeSet, localPart: Int64, copyPart: Int64, copyMinimum: Int64) -> [PlannedPart] {
        // Segments: long unchanged runs are copies, everything between them is local.
        var segments: [(range: Range<Int64>, source: PlannedPart.Source)] = []
        var cursor: Int64 = 0
        for r in copyable.intersection(0..<size) where r.count >= copyMinimum {
            if r.lowerBound > cursor { segments.append((cursor..<r.lowerBound, .local)) }
            segments.append((r, .copy))
            cursor = r.upperBound
        }
        if cursor < size { segments.append((cursor..<size, .local)) }
        // A short local segment that is not last takes bytes from the copy after it.
        for i in segments.indices where segments[i].source == .local && i + 1 < segments.count {
            let short = minimumPart - Int64(segments[i].range.count)
            if short > 0 {
                let end = segments[i].range.upperBound + short
                segments[i].range = segments[i].range.lowerBound..<end
                segments[i + 1].range = end..<segments[i + 1].range.upperBound
            }
        }
        var parts: [PlannedPart] = []
        for s in segments {
            parts += split(s.range, target: s.source == .copy ? copyPart : localPart, source: s.source, firstNumber: parts.count + 1)
        }
        return parts
    }

    /// Even pieces of about `target` bytes (never more than 5 GiB).
    static func split(_ r: Range<Int64>, target: Int64, source: PlannedPart.Source, firstNumber: Int) -> [PlannedPart] {
        let length = Int64(r.count)
        guard length > 0 else { return [] }
        let t = min(max(target, 1), maximumPart)
        let n = (length + t - 1) / t
        let base = length / n, extra = length % n
        var out: [PlannedPart] = []
        var start = r.lowerBound
        for i in 0..<n {
            let len = base + (i < extra ? 1 : 0)
            out.append(PlannedPart(number: firstNumber + Int(i), range: start..<(start + len), source: source))
            start += len
        }
        return out
    }
}
