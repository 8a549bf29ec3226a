/// A fine-tuning data set held fully in memory.
///
/// Conforming types load and validate everything up front, so `example(at:)` cannot fail and
/// a bad record is reported once, at start-up, with its location, instead of crashing a
/// multi-process run hours in.
public protocol Dataset: Sendable {
    /// A short name for logs, e.g. "embedded-arithmetic" or the file name.
    var name: String { get }
    /// Number of examples.
    var count: Int { get }
    /// Example `index` in `0..<count`; always valid (see `Example`).
    func example(at index: Int) -> Example
    /// Exclusive upper bound on token ids: every id is in `0..<vocabularySize`.
    var vocabularySize: Int { get }
    /// Id written into padding slots of a batch.
    var padId: Int32 { get }
}
