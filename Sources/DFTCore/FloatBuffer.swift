import Foundation

/// One contiguous, 64-byte aligned allocation of `Float`s, freed when the owner goes away.
///
/// Parameters, gradients, optimizer moments and activations are each one `FloatBuffer`;
/// named tensors are offsets into it (see `ParameterLayout`), so an optimizer update or a
/// gradient allreduce is one loop or one call over one buffer.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        var raw: UnsafeMutableRawPointer?
        // 64-byte alignment matches AVX-512 lines; allocate at least one element so the
        // pointer is always valid.
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { free(pointer) }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// Sets every element to 0, in parallel for large buffers (a model's gradients every step).
    public func zero() {
        let pointer = self.pointer
        Parallel.forRanges(count, minimum: 1 << 20) { range in
            (pointer + range.lowerBound).update(repeating: 0, count: range.count)
        }
    }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer copy: \(other.count) != \(count)")
        pointer.update(from: other.pointer, count: count)
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public var bytes: Int { count * MemoryLayout<Float>.stride }
}
