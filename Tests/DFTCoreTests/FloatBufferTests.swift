import DFTCore
import Testing

extension CoreKernels {
    @Suite("FloatBuffer")
    struct FloatBufferTests {
        @Test("a new buffer is zeroed and 64-byte aligned")
        func zeroedAndAligned() {
            for count in [1, 7, 64, 1000] {
                let buffer = FloatBuffer(count: count)
                #expect(buffer.count == count)
                #expect(buffer.bytes == count * 4)
                #expect(buffer.array == [Float](repeating: 0, count: count))
                #expect(UInt(bitPattern: buffer.pointer) % 64 == 0)
            }
        }

        @Test("an empty buffer still has a valid pointer and an empty array")
        func empty() {
            let buffer = FloatBuffer(count: 0)
            #expect(buffer.array.isEmpty)
            #expect(buffer.bytes == 0)
            buffer.zero()
            #expect(UInt(bitPattern: buffer.pointer) % 64 == 0)
        }

        @Test("subscripts, copy and zero act on the whole buffer and nothing else")
        func copyAndZero() {
            let a = FloatBuffer(count: 5)
            for i in 0..<5 { a[i] = Float(i) + 0.5 }
            #expect(a.array == [0.5, 1.5, 2.5, 3.5, 4.5])
            let b = FloatBuffer(count: 5)
            b.copy(from: a)
            #expect(b.array == a.array)
            a.zero()
            #expect(a.array == [0, 0, 0, 0, 0])
            #expect(b.array == [0.5, 1.5, 2.5, 3.5, 4.5])
        }
    }
}
