/// A set of byte offsets kept as sorted, disjoint, non-adjacent half-open ranges.
/// Used for "which bytes of a staged file are here" and "which bytes were changed".
public struct RangeSet: Sendable, Equatable, Codable {
    public private(set) var ranges: [Range<Int64>] = []

    public init() {}
    public init(_ r: Range<Int64>) { insert(r) }

    public var isEmpty: Bool { ranges.isEmpty }
    public var totalBytes: Int64 { ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) } }

    public mutating func insert(_ r: Range<Int64>) {
        guard !r.isEmpty else { return }
        var lo = r.lowerBound, hi = r.upperBound
        var out: [Range<Int64>] = []
        out.reserveCapacity(ranges.count + 1)
        var placed = false
        for x in ranges {
            if x.upperBound < lo {
                out.append(x)
            } else if x.lowerBound > hi {
                if !placed { out.append(lo..<hi); placed = true }
                out.append(x)
            } else {
                lo = min(lo, x.lowerBound)
                hi = max(hi, x.upperBound)
            }
        }
        if !placed { out.append(lo..<hi) }
        ranges = out
    }

    public mutating func remove(_ r: Range<Int64>) {
        guard !r.isEmpty else { return }
        var out: [Range<Int64>] = []
        for x in ranges {
            if x.upperBound <= r.lowerBound || x.lowerBound >= r.upperBound {
                out.append(x)
                continue
            }
            if x.lowerBound < r.lowerBound { out.append(x.lowerBound..<r.lowerBound) }
            if x.upperBound > r.upperBound { out.append(r.upperBound..<x.upperBound) }
        }
        ranges = out
    }

    /// Drops everything at or above `offset`.
    public mutating func truncate(at offset: Int64) { remove(offset..<Int64.max) }

    public func contains(_ r: Range<Int64>) -> Bool {
        r.isEmpty || ranges.contains { $0.lowerBound <= r.lowerBound && $0.upperBound >= r.upperBound }
    }

    public func intersects(_ r: Range<Int64>) -> Bool {
        ranges.contains { $0.lowerBound < r.upperBound && $0.upperBound > r.lowerBound }
    }

    /// The parts of `r` that are not in the set, in order.
    public func gaps(in r: Range<Int64>) -> [Range<Int64>] {
        var out: [Range<Int64>] = []
        var cursor = r.lowerBound
        for x in ranges where x.upperBound > r.lowerBound && x.lowerBound < r.upperBound {
            if x.lowerBound > cursor { out.append(cursor..<x.lowerBound) }
            cursor = max(cursor, x.upperBound)
        }
        if cursor < r.upperBound { out.append(cursor..<r.upperBound) }
        return out
    }

    /// The parts of `r` that are in the set, in order.
    public func intersection(_ r: Range<Int64>) -> [Range<Int64>] {
        ranges.compactMap { x in
            let lo = max(x.lowerBound, r.lowerBound), hi = min(x.upperBound, r.upperBound)
            return lo < hi ? lo..<hi : nil
        }
    }
}
