import Foundation

/// One contiguous, 64-byte aligned allocation of `Float`s, freed when the owner goes away.
///
/// Parameters, gradients, optimizer moments and activations are each one `FloatBuffer`;
/// named tensors are offsets into it (see `ParameterLayout`), so an optimizer update or a
/// gradient allreduce is one loop or one call over one buffer.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Whether `pointer` came from `mmap` (large buffers) rather than `posix_memalign`.
    private let mapped: Bool
    private var mappedBytes: Int { (max(count, 1) * MemoryLayout<Float>.stride + Self.pageSize - 1) / Self.pageSize * Self.pageSize }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Buffers of at least this many bytes are anonymous mappings: the kernel hands out zero
    /// pages as they are first touched, so a buffer that is never written in full (a
    /// decode-only model's matrices, `releasePages`) never becomes resident in full.
    static let mappingThreshold = 1 << 20

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= Self.mappingThreshold {
            // Page-aligned (so 64-byte aligned too) and already zero.
            let size = (bytes + Self.pageSize - 1) / Self.pageSize * Self.pageSize
            guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  raw != MAP_FAILED else {
                fatalError("out of memory mapping \(bytes) bytes: \(String(cString: strerror(errno)))")
            }
            mapped = true
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
            return
        }
        var raw: UnsafeMutableRawPointer?
        // 64-byte alignment matches AVX-512 lines; allocate at least one element so the
        // pointer is always valid.
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        mapped = false
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        if mapped { munmap(pointer, mappedBytes) } else { free(pointer) }
    }

    /// Gives the whole pages inside elements `offset..<offset + count` back to the system; they
    /// read as zero afterwards (and become resident again only if written). Returns the bytes
    /// released: 0 for a small buffer, which is not a mapping of its own.
    @discardableResult
    public func releasePages(offset: Int, count: Int) -> Int {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count, "release outside the buffer")
        guard mapped else { return 0 }
        let start = UInt(bitPattern: pointer + offset), end = UInt(bitPattern: pointer + offset + count)
        let page = UInt(Self.pageSize)
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first else { return 0 }
        guard madvise(UnsafeMutableRawPointer(bitPattern: first), Int(last - first), MADV_DONTNEED) == 0 else {
            fatalError("madvise(MADV_DONTNEED): \(String(cString: strerror(errno)))")
        }
        return Int(last - first)
    }

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
