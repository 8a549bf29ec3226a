/// Matrix transposition of flat row-major buffers, in tiles so that both the rows read and the
/// columns written stay in cache. Used to store weights for decoding (see `DecodeLayout` in
/// DFTDecode); exact, a copy of every element.
public enum Transpose {
    /// Side of the square tiles: 32 x 32 floats = 4 KB read and 4 KB written per tile.
    static let tile = 32

    /// out[c, r] = matrix[r, c]. matrix: [rows, columns]; out: [columns, rows]; they must not overlap.
    public static func copy(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        Parallel.forBlocks((rows + tile - 1) / tile) { block in
            copyTiles(matrix, rows: rows, columns: columns, rowTile: block, into: out)
        }
    }

    /// The tiles of one band of `tile` rows.
    @inline(__always)
    static func copyTiles(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rowTile: Int,
                          into out: UnsafeMutablePointer<Float>) {
        let r0 = rowTile * tile, r1 = min(r0 + tile, rows)
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

    /// Floats of scratch `toPanels` needs: one panel per worker, or the whole matrix when a
    /// panel is the whole matrix.
    public static func panelScratch(rows: Int, columns: Int, panelWidth: Int) -> Int {
        panelWidth >= rows ? rows * columns : min(Parallel.threads, (rows + panelWidth - 1) / panelWidth) * panelWidth * columns
    }

    /// Rearranges a [rows, columns] matrix where it lies into column panels of its transpose:
    /// rows r0..<r0+w (w = panelWidth, less for the last) become a [columns, w] block at the
    /// same offset, r0 * columns. With panelWidth >= rows that is the plain transpose
    /// [columns, rows]. `inverse` undoes it. scratch: `scratchCount` floats, at least
    /// `panelScratch(...)`; the panels are shared over no more workers than it holds panels
    /// for, so a pool resized since the scratch was sized cannot overrun it.
    public static func toPanels(_ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, panelWidth: Int,
                                inverse: Bool = false, scratch: UnsafeMutablePointer<Float>, scratchCount: Int) {
        if panelWidth >= rows {
            precondition(scratchCount >= rows * columns, "a transpose of \(rows) x \(columns) with \(scratchCount) floats of scratch")
            inPlace(matrix, rows: inverse ? columns : rows, columns: inverse ? rows : columns, scratch: scratch)
            return
        }
        let panels = (rows + panelWidth - 1) / panelWidth
        let workers = min(Parallel.threads, panels, scratchCount / (panelWidth * columns))
        precondition(workers >= 1, "panels of \(panelWidth) x \(columns) with \(scratchCount) floats of scratch")
        Parallel.forEach(workers) { worker in
            let own = scratch + worker * panelWidth * columns
            for p in (panels * worker / workers)..<(panels * (worker + 1) / workers) {
                let r0 = p * panelWidth, width = min(panelWidth, rows - r0)
                let block = matrix + r0 * columns
                own.update(from: block, count: width * columns)
                // [width, columns] -> [columns, width], or back.
                let (r, c) = inverse ? (columns, width) : (width, columns)
                for band in 0..<((r + tile - 1) / tile) { copyTiles(own, rows: r, columns: c, rowTile: band, into: block) }
            }
        }
    }
}
