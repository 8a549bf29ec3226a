import Foundation

/// BPE results by pre-token, bounded, shared by every thread that encodes with a tokenizer.
///
/// Natural text repeats its words constantly, so after the first few thousand words most
/// pre-tokens are found here instead of being merged again (the reference library caches
/// the same way). When full, the cache is emptied and refills from the text at hand, which
/// keeps it useful across a corpus that changes language or domain.
final class PreTokenCache: @unchecked Sendable {
    // Every access to `entries` holds `lock`.
    private let lock = NSLock()
    private var entries: [ArraySlice<UInt8>: [Int32]] = [:]
    let capacity: Int
    /// Longer pre-tokens (long digit or space runs) are rarely seen twice; not worth storing.
    static let longestCachedPreToken = 256

    init(capacity: Int) {
        self.capacity = capacity
    }

    func tokens(of preToken: ArraySlice<UInt8>) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[preToken]
    }

    func store(_ tokens: [Int32], for preToken: ArraySlice<UInt8>) {
        guard capacity > 0, preToken.count <= Self.longestCachedPreToken else { return }
        // A key of its own: a slice would keep the caller's whole text buffer alive.
        let key = ArraySlice(Array(preToken))
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = tokens
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}
