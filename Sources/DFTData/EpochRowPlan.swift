/// How the examples of one epoch are laid out in rows of `maxLength` token slots.
///
/// Built once per epoch from the sampler order. Without packing each example gets a row of
/// its own; with packing, examples are appended greedily to the open row while they fit and
/// a new row is started when one does not. Either way an example longer than `maxLength` is
/// cut from the right and fills a row alone, and no example is ever split across rows, so a
/// row's attention (restricted to segments) sees each example whole.
///
/// Stored flat as "pieces" (one per example, in row order) plus row offsets, so a plan of a
/// large data set is a handful of arrays rather than one array per row.
struct EpochRowPlan {
    let epoch: Int
    private(set) var pieceExample: [Int]    // [pieces] data set index of the example
    private(set) var pieceLength: [Int]     // [pieces] tokens kept, at most maxLength
    private(set) var rowFirstPiece: [Int]   // [rows + 1] row r holds pieces rowFirstPiece[r]..<rowFirstPiece[r + 1]
    private(set) var rowTrained: [Int]      // [rows] trained predictions in the row
    /// Examples of this epoch cut to `maxLength` tokens.
    private(set) var truncatedExamples = 0

    var rowCount: Int { rowTrained.count }

    func pieces(ofRow row: Int) -> Range<Int> {
        rowFirstPiece[row]..<rowFirstPiece[row + 1]
    }

    init(epoch: Int, order: [Int], dataset: any Dataset, maxLength: Int, packing: Bool) {
        self.epoch = epoch
        pieceExample = []
        pieceLength = []
        pieceExample.reserveCapacity(order.count)
        pieceLength.reserveCapacity(order.count)
        rowFirstPiece = [0]
        rowTrained = []

        var slotsUsed = 0       // in the open row
        var trainedInRow = 0    // in the open row
        for index in order {
            let example = dataset.example(at: index)
            precondition(example.count >= 1 && example.lossMask.count == example.count,
                         "\(dataset.name): example \(index) is invalid (data sets must validate at load time)")
            let kept = min(example.count, maxLength)
            if example.count > maxLength { truncatedExamples += 1 }

            if slotsUsed > 0 && (!packing || slotsUsed + kept > maxLength) {
                rowFirstPiece.append(pieceExample.count)
                rowTrained.append(trainedInRow)
                slotsUsed = 0
                trainedInRow = 0
            }
            pieceExample.append(index)
            pieceLength.append(kept)
            slotsUsed += kept
            trainedInRow += example.trainedPredictions(keeping: kept)
        }
        if slotsUsed > 0 {
            rowFirstPiece.append(pieceExample.count)
            rowTrained.append(trainedInRow)
        }
    }
}
