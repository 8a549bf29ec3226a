import Foundation

/// A `Split` pattern that is none of the known ones, compiled once by ICU
/// (`NSRegularExpression`) and applied with `Isolated` behaviour.
///
/// ICU and Oniguruma (the engine of `tokenizers`) agree on the constructs these patterns
/// use: `\p{..}` classes, `\s`, case-insensitive groups, lookahead, greedy quantifiers.
/// They differ on a few rarely used ones (`\h` is horizontal space in ICU but a hex digit
/// in Oniguruma), so an unusual pattern should be checked against the reference library.
final class RegexSplitter: PreTokenSplitter, @unchecked Sendable {
    // NSRegularExpression is immutable after creation and safe to use from several threads.
    private let regex: NSRegularExpression
    let pattern: String

    init(pattern: String) throws {
        self.pattern = pattern
        self.regex = try NSRegularExpression(pattern: pattern)
    }

    func split(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, into pieces: inout [Range<Int>]) {
        guard !range.isEmpty else { return }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        // ICU reports UTF-16 offsets; map each to its UTF-8 offset within the range.
        var utf8Offset: [Int] = []
        utf8Offset.reserveCapacity(range.count + 1)
        var offset = 0
        for scalar in text.unicodeScalars {
            let units = UTF16.width(scalar)
            for _ in 0..<units { utf8Offset.append(offset) }
            offset += UTF8.width(scalar)
        }
        utf8Offset.append(offset)

        let base = range.lowerBound
        var covered = 0
        let whole = NSRange(location: 0, length: utf8Offset.count - 1)
        for match in regex.matches(in: text, range: whole) where match.range.length > 0 {
            let start = utf8Offset[match.range.location]
            let end = utf8Offset[match.range.location + match.range.length]
            if start > covered { pieces.append((base + covered)..<(base + start)) }
            pieces.append((base + start)..<(base + end))
            covered = end
        }
        if covered < offset { pieces.append((base + covered)..<(base + offset)) }
    }
}
