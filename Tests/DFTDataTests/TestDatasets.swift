@testable import DFTData

/// A data set of given examples, for loader tests that need to recognise each example.
struct ListDataset: Dataset {
    let name = "list"
    let examples: [Example]
    var count: Int { examples.count }
    let vocabularySize = 1000
    let padId: Int32 = 999

    func example(at index: Int) -> Example { examples[index] }

    /// Examples of the given lengths. Example i starts with token 500 + i (so its identity can
    /// be read back from a batch), continues with 10 * i + t, and trains every token from
    /// index 2 on, so the first prediction of each example is masked.
    init(lengths: [Int]) {
        examples = lengths.enumerated().map { i, length in
            let tokens = (0..<length).map { t in t == 0 ? Int32(500 + i) : Int32((10 * i + t) % 500) }
            let mask = (0..<length).map { t in UInt8(t >= 2 ? 1 : 0) }
            return Example(tokens: tokens, lossMask: mask)
        }
    }

    /// Data set index of an example that starts with `token`.
    static func exampleIndex(startingWith token: Int32) -> Int { Int(token) - 500 }
}
