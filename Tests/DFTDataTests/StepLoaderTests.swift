import DFTCore
import Testing
@testable import DFTData

@Suite("StepLoader without packing")
struct StepLoaderPaddingTests {
    @Test("one example per row: targets and mask shifted by one, padding after it")
    func paddingLayout() throws {
        let data = ListDataset(lengths: [3, 5, 6, 4])
        let loader = try StepLoader(dataset: data, maxLength: 6, packing: false, globalBatch: 4, seed: 1)
        #expect(loader.stepsPerEpoch == 1)
        let batch = TokenBatch(maxRows: 4, rowLength: 6)
        loader.fill(batch, step: 0, firstRow: 0, rowCount: 4)
        let rows = try examplesInRows(of: batch, from: data)
        #expect(rows.allSatisfy { $0.count == 1 })
        #expect(rows.flatMap { $0 }.sorted() == [0, 1, 2, 3])

        // Example 0 is [500, 1, 2], mask [0, 0, 1]: only slot 1 (predicting token 2) trains.
        let row = try #require(rows.firstIndex(of: [0]))
        let slots = (row * 6)..<(row * 6 + 6)
        #expect(Array(batch.inputIds[slots]) == [500, 1, 2, 999, 999, 999])
        #expect(Array(batch.targets[slots]) == [0, 2, 0, 0, 0, 0])
        #expect(Array(batch.lossMask[slots]) == [0, 1, 0, 0, 0, 0])
        #expect(Array(batch.positions[slots]) == [0, 1, 2, 0, 0, 0])
        #expect(Array(batch.segments[slots]) == [0, 0, 0, -1, -1, -1])
        #expect(batch.responseTokens == 1 + 3 + 4 + 2)
    }

    @Test("long examples are cut from the right and counted once per epoch")
    func truncation() throws {
        let data = ListDataset(lengths: [3, 10, 4])
        let loader = try StepLoader(dataset: data, maxLength: 6, packing: false, globalBatch: 1, seed: 5)
        #expect(loader.stepsPerEpoch == 3)
        #expect(loader.truncatedExamples == 1)

        let batch = TokenBatch(maxRows: 1, rowLength: 6)
        var cutRow: [Int32] = []
        var cutMask: [Float] = []
        for step in 0..<3 {
            loader.fill(batch, step: step, firstRow: 0, rowCount: 1)
            if batch.inputIds[0] == 501 {
                cutRow = Array(batch.inputIds[0..<6])
                cutMask = Array(batch.lossMask[0..<6])
            }
        }
        #expect(cutRow == Array(data.examples[1].tokens[0..<6]))
        // Slots 1...4 predict kept tokens 2...5; slot 5 would predict the cut token 6.
        #expect(cutMask == [0, 1, 1, 1, 1, 0])
        #expect(loader.truncatedExamples == 1)

        loader.fill(batch, step: 3, firstRow: 0, rowCount: 1)   // epoch 1
        #expect(loader.truncatedExamples == 2)
        loader.fill(batch, step: 0, firstRow: 0, rowCount: 1)   // epoch 0 again: already counted
        #expect(loader.truncatedExamples == 2)
    }

    @Test("every example appears exactly once per epoch, in a new order each epoch")
    func exactlyOncePerEpoch() throws {
        let data = ListDataset(lengths: (0..<12).map { 2 + $0 % 5 })
        let loader = try StepLoader(dataset: data, maxLength: 8, packing: false, globalBatch: 4, seed: 9)
        #expect(loader.stepsPerEpoch == 3)
        // Fill each step in two halves, as two ranks would.
        let batch = TokenBatch(maxRows: 2, rowLength: 8)
        var orders: [[Int]] = []
        for epoch in 0..<2 {
            var seen: [Int] = []
            for step in (epoch * 3)..<(epoch * 3 + 3) {
                #expect(loader.epoch(ofStep: step) == epoch)
                for firstRow in [0, 2] {
                    loader.fill(batch, step: step, firstRow: firstRow, rowCount: 2)
                    seen += try examplesInRows(of: batch, from: data).flatMap { $0 }
                }
            }
            #expect(seen.sorted() == Array(0..<12))
            orders.append(seen)
        }
        #expect(orders[0] != orders[1])
    }

    @Test("a data set smaller than one global batch is an error that says so")
    func tooSmall() throws {
        let data = ListDataset(lengths: [3, 4, 5])
        let error = try #require(throws: DataError.self) {
            try StepLoader(dataset: data, maxLength: 8, packing: false, globalBatch: 4, seed: 1)
        }
        #expect(error.kind == .datasetTooSmall)
        #expect(error.description.contains("list has 3 examples"))
        #expect(error.description.contains("global batch of 4 rows"))
    }

    @Test("settings that cannot work are rejected")
    func invalidSettings() {
        let data = ListDataset(lengths: [3, 4, 5])
        #expect(throws: DataError.self) {
            try StepLoader(dataset: data, maxLength: 1, packing: false, globalBatch: 1, seed: 1)
        }
        #expect(throws: DataError.self) {
            try StepLoader(dataset: data, maxLength: 8, packing: false, globalBatch: 0, seed: 1)
        }
    }
}

@Suite("StepLoader with packing")
struct StepLoaderPackingTests {
    @Test("rows are packed greedily; positions restart and segments count up; no example is split")
    func packingLayout() throws {
        let lengths = [3, 4, 2, 5, 6, 2, 7, 3, 9, 2, 4, 5]
        let data = ListDataset(lengths: lengths)
        let loader = try StepLoader(dataset: data, maxLength: 8, packing: true, globalBatch: 1, seed: 3)
        #expect(loader.truncatedExamples == 1)    // the 9-token example
        let batch = TokenBatch(maxRows: 1, rowLength: 8)
        var rows: [[Int]] = []
        for step in 0..<loader.stepsPerEpoch {
            loader.fill(batch, step: step, firstRow: 0, rowCount: 1)
            rows += try examplesInRows(of: batch, from: data)
        }
        #expect(loader.stepsPerEpoch == loader.rowCount(epoch: 0))
        #expect(rows.flatMap { $0 }.sorted() == Array(0..<12))
        #expect(rows.count < 12)
        #expect(rows.contains { $0.count >= 2 })

        // Greedy: a row was closed only because the next example did not fit in it.
        func kept(_ index: Int) -> Int { min(lengths[index], 8) }
        for r in 0..<(rows.count - 1) {
            let used = rows[r].map(kept).reduce(0, +)
            #expect(used <= 8)
            #expect(used + kept(rows[r + 1][0]) > 8, "row \(r) had room for the next example")
        }
        // The cut example fills a row alone.
        #expect(rows.contains([8]))
    }

    @Test("every example appears exactly once in an epoch's steps, split across ranks")
    func exactlyOncePerEpoch() throws {
        // Equal lengths pack to the same number of rows every epoch: 5 per row, 6 rows.
        let data = ListDataset(lengths: [Int](repeating: 4, count: 30).enumerated().map { $0.offset % 3 == 0 ? 3 : 5 })
        let loader = try StepLoader(dataset: data, maxLength: 12, packing: true, globalBatch: 2, seed: 17)
        let batch = TokenBatch(maxRows: 1, rowLength: 12)
        for epoch in 0..<2 {
            let rowsThisEpoch = loader.rowCount(epoch: epoch)
            var seen: [Int] = []
            for step in (epoch * loader.stepsPerEpoch)..<((epoch + 1) * loader.stepsPerEpoch) {
                for firstRow in 0..<2 {
                    loader.fill(batch, step: step, firstRow: firstRow, rowCount: 1)
                    seen += try examplesInRows(of: batch, from: data).flatMap { $0 }
                }
            }
            #expect(Set(seen).count == seen.count, "an example appeared twice in epoch \(epoch)")
            if rowsThisEpoch == loader.stepsPerEpoch * 2 {
                #expect(seen.sorted() == Array(0..<30))
            } else {
                // An epoch that packs into an odd number of rows drops the last one.
                #expect(seen.count < 30 && seen.count > 24)
            }
        }
    }

    @Test("the full epoch plan does not depend on how rows are split among ranks")
    func rankSplitInvariance() throws {
        let data = ListDataset(lengths: (0..<40).map { 2 + ($0 * 7) % 9 })
        let loader = try StepLoader(dataset: data, maxLength: 16, packing: true, globalBatch: 4, seed: 21)
        let whole = TokenBatch(maxRows: 4, rowLength: 16)
        let half = TokenBatch(maxRows: 2, rowLength: 16)
        let single = TokenBatch(maxRows: 1, rowLength: 16)
        for step in [0, 1, loader.stepsPerEpoch + 1] {
            loader.fill(whole, step: step, firstRow: 0, rowCount: 4)
            var halves: [BatchContents] = []
            for firstRow in [0, 2] {
                loader.fill(half, step: step, firstRow: firstRow, rowCount: 2)
                halves.append(BatchContents(half))
            }
            var singles: [BatchContents] = []
            for firstRow in 0..<4 {
                loader.fill(single, step: step, firstRow: firstRow, rowCount: 1)
                singles.append(BatchContents(single))
            }
            #expect(BatchContents(whole) == BatchContents(concatenating: halves))
            #expect(BatchContents(whole) == BatchContents(concatenating: singles))
        }
        // A second loader with the same seed makes the same steps; another seed does not.
        let again = try StepLoader(dataset: data, maxLength: 16, packing: true, globalBatch: 4, seed: 21)
        let other = try StepLoader(dataset: data, maxLength: 16, packing: true, globalBatch: 4, seed: 22)
        loader.fill(whole, step: 2, firstRow: 0, rowCount: 4)
        let expected = BatchContents(whole)
        again.fill(whole, step: 2, firstRow: 0, rowCount: 4)
        #expect(BatchContents(whole) == expected)
        other.fill(whole, step: 2, firstRow: 0, rowCount: 4)
        #expect(BatchContents(whole) != expected)
    }
}

@Suite("StepLoader token counts")
struct StepLoaderTokenCountTests {
    @Test("responseTokens equals the filled batch's count, both modes", arguments: [false, true])
    func responseTokensMatchBatch(packing: Bool) throws {
        let data = ListDataset(lengths: (0..<24).map { 2 + ($0 * 5) % 11 })
        let loader = try StepLoader(dataset: data, maxLength: 12, packing: packing, globalBatch: 2, seed: 4)
        let batch = TokenBatch(maxRows: 2, rowLength: 12)
        var epochTotal = 0
        for step in 0..<(2 * loader.stepsPerEpoch) {
            for (firstRow, rowCount) in [(0, 2), (0, 1), (1, 1)] {
                let predicted = loader.responseTokens(step: step, firstRow: firstRow, rowCount: rowCount)
                loader.fill(batch, step: step, firstRow: firstRow, rowCount: rowCount)
                #expect(predicted == batch.responseTokens, "step \(step) rows \(firstRow)+\(rowCount)")
                if step < loader.stepsPerEpoch && rowCount == 2 { epochTotal += predicted }
            }
        }
        // Lengths 2...12 fit in 12 slots, so nothing is cut; without packing all 24 rows are used.
        let allTrained = data.examples.map { $0.trainedPredictions(keeping: 12) }.reduce(0, +)
        #expect(allTrained > 0)
        if packing {
            #expect(epochTotal <= allTrained && epochTotal > 0)
        } else {
            #expect(epochTotal == allTrained)
        }
    }

    @Test("the embedded data set fits 128-token rows uncut and packs several per 512-token row")
    func embeddedArithmeticPacks() throws {
        let data = EmbeddedArithmetic(count: 64, seed: 2)
        let unpacked = try StepLoader(dataset: data, maxLength: 128, packing: false, globalBatch: 4, seed: 2)
        #expect(unpacked.truncatedExamples == 0)
        let loader = try StepLoader(dataset: data, maxLength: 512, packing: true, globalBatch: 4, seed: 2)
        #expect(loader.truncatedExamples == 0)
        let batch = TokenBatch(maxRows: 4, rowLength: 512)
        loader.fill(batch, step: 0, firstRow: 0, rowCount: 4)
        #expect(batch.responseTokens > 0)
        #expect(batch.responseTokens == loader.responseTokens(step: 0, firstRow: 0, rowCount: 4))
        #expect(batch.segments.contains(3))   // some row holds four or more examples
    }
}
