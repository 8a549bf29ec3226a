/// Matrix transposition of flat row-major buffers, in tiles so that both the rows read and the
/// columns written stay in cache. Used to store weights [in, out] for decoding (see
/// `DecodeLayout` in DFTDecode); exact, a copy of every element.
public enum Transpose {
    /// Side of the square tiles: 32 x 32 floats = 4 KB read and 4 KB written per tile.
    static let tile = 32

    /// out[c, r] = matrix[r, c]. matrix: [rows, columns]; out: [columns, rows]; they must not overlap.
    public static func copy(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        let rowTiles = (rows + tile - 1) / tile
        Parallel.forBlocks(rowTiles) { block in
            let r0 = block * tile, r1 = min(r0 + tile, rows)
            var c0 = 0
            while c0 < columns {
                let c1 = min(c0 + tile, columns)
                for r in r0..<r1 {
                    let row = matrix + r * columns
                    for c in c0..<c1 { out[c * rows + r] = row[c] }
                }
                c0 = c1
            }
        }
    }

    /// Transposes a [rows, columns] matrix where it lies, leaving it [columns, rows], through
    /// `scratch` (at least rows * columns floats): a non-square matrix cannot be transposed in
    /// place by tiles.
    public static func inPlace(_ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                               scratch: UnsafeMutablePointer<Float>) {
        let count = rows * columns
        Parallel.forRanges(count, minimum: 1 << 16) { range in
            (scratch + range.lowerBound).update(from: matrix + range.lowerBound, count: range.count)
        }
        copy(scratch, rows: rows, columns: columns, into: matrix)
    }
}
