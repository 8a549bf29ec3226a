/// A progress line of stdout, `step  5/100 | ...`, optionally prefixed `[rank N] ` when every
/// rank logs (`--log-all-ranks`).
struct ProgressLine: Equatable, Sendable {
    /// The rank named by the prefix; nil for an unprefixed line.
    let rank: Int?
    /// Steps done, as printed.
    let step: Int

    init?(_ line: String) {
        var rest = Substring(line)
        var rank: Int?
        if rest.hasPrefix("[rank "), let close = rest.firstIndex(of: "]") {
            guard let number = Int(rest[rest.index(rest.startIndex, offsetBy: 6)..<close]) else { return nil }
            rank = number
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
        guard rest.hasPrefix("step "), let slash = rest.firstIndex(of: "/"),
              let step = Int(rest[rest.index(rest.startIndex, offsetBy: 5)..<slash].drop { $0 == " " })
        else { return nil }
        self.rank = rank
        self.step = step
    }

    /// Every progress line of `output`, in order.
    static func all(in output: String) -> [ProgressLine] {
        output.split(separator: "\n").compactMap { ProgressLine(String($0)) }
    }
}
