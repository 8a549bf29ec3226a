import DFTCore

extension TokenBatch {
    /// Writes the first `length` tokens of `example` as segment `segment` starting at flat
    /// slot `start`. Slot t predicts token t + 1; the last kept token predicts nothing, since
    /// its next token is either absent or cut off.
    public func write(_ example: Example, length: Int, segment: Int, at start: Int) {
        let segmentId = Int32(segment)
        for t in 0..<length {
            let slot = start + t
            inputIds[slot] = example.tokens[t]
            positions[slot] = Int32(t)
            segments[slot] = segmentId
            if t + 1 < length && example.lossMask[t + 1] != 0 {
                targets[slot] = example.tokens[t + 1]
                lossMask[slot] = 1
            }
        }
    }
}
