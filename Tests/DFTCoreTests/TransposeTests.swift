import DFTCore
import Testing

extension CoreKernels {
    @Suite("Transpose")
    struct TransposeTests {
        /// Shapes around the 32-wide tiles: smaller, exact multiples, ragged edges, one row.
        static let shapes = [(1, 1), (1, 70), (70, 1), (5, 3), (32, 64), (33, 31), (100, 257)]

        @Test("copy puts element [r, c] at [c, r], bit for bit, on 1 and 3 threads", arguments: shapes)
        func copyTransposes(shape: (Int, Int)) {
            let (rows, columns) = shape
            let matrix = randomFloats(rows * columns, seed: 5)  // [rows, columns]
            for threads in [1, 3] {
                Parallel.configure(threads: threads)
                defer { Parallel.configure(threads: 1) }
                var out = [Float](repeating: .nan, count: rows * columns)  // [columns, rows]
                Transpose.copy(matrix, rows: rows, columns: columns, into: &out)
                var wrong = 0
                for r in 0..<rows { for c in 0..<columns where out[c * rows + r] != matrix[r * columns + c] { wrong += 1 } }
                #expect(wrong == 0, "\(wrong) elements misplaced on \(threads) threads")
            }
        }

        @Test("in place, twice, gives the matrix back; once, the same as copy", arguments: shapes)
        func inPlaceRoundTrip(shape: (Int, Int)) {
            let (rows, columns) = shape
            let matrix = randomFloats(rows * columns, seed: 6)
            var expected = [Float](repeating: .nan, count: rows * columns)
            Transpose.copy(matrix, rows: rows, columns: columns, into: &expected)
            var buffer = matrix
            var scratch = [Float](repeating: 0, count: rows * columns)
            Transpose.inPlace(&buffer, rows: rows, columns: columns, scratch: &scratch)
            #expect(buffer == expected)
            Transpose.inPlace(&buffer, rows: columns, columns: rows, scratch: &scratch)
            #expect(buffer == matrix)
        }

        @Test("toPanels lays out column panels of the transpose (ragged last panel, one panel = the transpose); inverse restores; 1 and 3 threads",
              arguments: [4, 32, 7, 1000])
        func panels(panelWidth: Int) {
            for (rows, columns) in [(70, 33), (64, 5), (3, 40)] {
                let matrix = randomFloats(rows * columns, seed: 8)
                let expected = referencePanels(matrix, rows: rows, columns: columns, panelWidth: panelWidth)
                for threads in [1, 3] {
                    Parallel.configure(threads: threads)
                    defer { Parallel.configure(threads: 1) }
                    var buffer = matrix
                    var scratch = [Float](repeating: 0, count: Transpose.panelScratch(rows: rows, columns: columns,
                                                                                     panelWidth: panelWidth))
                    Transpose.toPanels(&buffer, rows: rows, columns: columns, panelWidth: panelWidth, scratch: &scratch,
                                       scratchCount: scratch.count)
                    #expect(buffer == expected, "\(rows) x \(columns), panels of \(panelWidth), \(threads) threads")
                    Transpose.toPanels(&buffer, rows: rows, columns: columns, panelWidth: panelWidth, inverse: true,
                                       scratch: &scratch, scratchCount: scratch.count)
                    #expect(buffer == matrix)
                }
            }
        }

        /// The scratch is sized from the pool when a job starts; tests (and nothing else) resize
        /// the pool meanwhile. With 3 workers and scratch for one panel, only one worker may run.
        @Test("toPanels uses no more workers than its scratch holds panels for")
        func panelsWithinScratch() {
            let (rows, columns, panelWidth) = (70, 33, 8)
            let matrix = randomFloats(rows * columns, seed: 9)
            let expected = referencePanels(matrix, rows: rows, columns: columns, panelWidth: panelWidth)
            Parallel.configure(threads: 3)
            defer { Parallel.configure(threads: 1) }
            let one = panelWidth * columns  // one panel's floats, then a guard band that must stay as it is
            var scratch = [Float](repeating: -7, count: 3 * one)
            var buffer = matrix
            Transpose.toPanels(&buffer, rows: rows, columns: columns, panelWidth: panelWidth, scratch: &scratch, scratchCount: one)
            #expect(buffer == expected)
            #expect(scratch[one...].allSatisfy { $0 == -7 }, "toPanels wrote past the scratch it was given")
        }
    }
}
