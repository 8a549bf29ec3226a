import DFTCore
import Testing
@testable import DFTData

/// Reads back which examples each row of a filled batch holds, checking every slot against
/// `dataset`: tokens in order, positions restarting at 0, segments counting 0, 1, 2, ...,
/// targets and loss mask shifted by one, and padding after the last example.
/// Returns, per row, the data set indices of its examples in slot order.
func examplesInRows(of batch: TokenBatch, from dataset: ListDataset) throws -> [[Int]] {
    let width = batch.rowLength
    var rows: [[Int]] = []
    for row in 0..<batch.rows {
        let base = row * width
        var found: [Int] = []
        var slot = 0
        while slot < width && batch.segments[base + slot] >= 0 {
            let segment = Int32(found.count)
            #expect(batch.segments[base + slot] == segment, "row \(row) slot \(slot)")
            let index = ListDataset.exampleIndex(startingWith: batch.inputIds[base + slot])
            try #require(index >= 0 && index < dataset.count, "row \(row) slot \(slot) starts no example")
            let example = dataset.examples[index]
            let kept = min(example.count, width)
            try #require(slot + kept <= width, "example \(index) runs past the end of row \(row)")
            for t in 0..<kept {
                let i = base + slot + t
                #expect(batch.inputIds[i] == example.tokens[t])
                #expect(batch.positions[i] == Int32(t))
                #expect(batch.segments[i] == segment)
                let trained = t + 1 < kept && example.lossMask[t + 1] == 1
                #expect(batch.lossMask[i] == (trained ? 1 : 0), "example \(index) slot \(t)")
                #expect(batch.targets[i] == (trained ? example.tokens[t + 1] : 0))
            }
            found.append(index)
            slot += kept
        }
        for t in slot..<width {
            let i = base + t
            #expect(batch.segments[i] == -1)
            #expect(batch.inputIds[i] == dataset.padId)
            #expect(batch.positions[i] == 0)
            #expect(batch.targets[i] == 0)
            #expect(batch.lossMask[i] == 0)
        }
        rows.append(found)
    }
    return rows
}

/// The used part of a batch, for comparing two fills.
struct BatchContents: Equatable {
    let inputIds: [Int32], targets: [Int32], lossMask: [Float], positions: [Int32], segments: [Int32]

    init(_ batch: TokenBatch) {
        let n = batch.tokens
        inputIds = Array(batch.inputIds[0..<n])
        targets = Array(batch.targets[0..<n])
        lossMask = Array(batch.lossMask[0..<n])
        positions = Array(batch.positions[0..<n])
        segments = Array(batch.segments[0..<n])
    }

    init(concatenating parts: [BatchContents]) {
        inputIds = parts.flatMap(\.inputIds)
        targets = parts.flatMap(\.targets)
        lossMask = parts.flatMap(\.lossMask)
        positions = parts.flatMap(\.positions)
        segments = parts.flatMap(\.segments)
    }
}
